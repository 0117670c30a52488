"""Patients per second: a DICOM series read vs a NIfTI read of the same volume.

Writes the T1C volumes of a synthetic cohort three ways (NIfTI .nii.gz as make_tace_cohort
writes them, uncompressed .nii, and a DICOM MR series of one int16 file per slice with
``write_dicom_series``), then times side by side, round robin over ``--repeats`` runs (median):

* ``load_nifti`` on .nii.gz and on .nii;
* ``read_dicom_series`` on the series folder (tacelearn's reader: pydicom headers, geometry
  checks, pydicom pixel decoding and rescale) and ``load_volume`` on the same folder;
* for reference, the two other readers installed: SimpleITK's ``ImageSeriesReader`` (GDCM,
  its own file sorting) and highdicom's ``get_volume_from_series`` (after ``pydicom.dcmread``
  of every file). They are why tacelearn reads with pydicom: see docs/dicom.md.

The OS file cache is warm for every run. Volumes are the cohort's default 128 x 128 x 24 with
``--quick`` (9 patients), else 256 x 256 x 48 (20 patients), a clinical MR size.

    .venv/bin/python benchmarks/bench_dicom.py --quick    # under a minute
    .venv/bin/python benchmarks/bench_dicom.py            # a few minutes
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import highdicom
import nibabel as nib
import numpy as np
import pydicom
import SimpleITK as sitk

from tacelearn.datasets import make_tace_cohort, read_dicom_series, write_dicom_series
from tacelearn.transformers import load_nifti, load_volume

SIZES = {True: ((5, 2, 2), (128, 128, 24)), False: ((10, 5, 5), (256, 256, 48))}


def simpleitk_read(folder):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(reader.Execute())


def highdicom_read(folder):
    datasets = [pydicom.dcmread(path) for path in sorted(Path(folder).iterdir())]
    return highdicom.get_volume_from_series(datasets, dtype=np.float32).array


def prepare(cohort, folder):
    """Per patient: the .nii.gz path, an uncompressed .nii copy and a DICOM series folder."""
    files = []
    for record in cohort.to_dict("records"):
        volume, affine = load_nifti(record["t1c_path"])
        plain = folder / f"{record['patient_id']}_t1c.nii"
        nib.save(nib.load(record["t1c_path"]), plain)
        series = folder / record["patient_id"]
        write_dicom_series(volume, affine, series, series_description="T1C arterial")
        files.append({"nii.gz": record["t1c_path"], "nii": plain, "dicom": series})
    return files


def seconds(read, paths):
    start = time.perf_counter()
    for path in paths:
        read(path)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="9 patients of 128 x 128 x 24")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes, shape = SIZES[args.quick]
    print(f"machine: {platform.platform()}, os.cpu_count()={os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"python {platform.python_version()}, pydicom {pydicom.__version__}, highdicom "
          f"{highdicom.__version__}, SimpleITK {sitk.Version.VersionString()}, nibabel "
          f"{nib.__version__}")
    with tempfile.TemporaryDirectory(prefix="bench_dicom_") as tmp:
        cohort = make_tace_cohort(Path(tmp) / "cohort", n_per_center=sizes, image_shape=shape)
        files = prepare(cohort, Path(tmp))
        n = len(files)
        readers = {
            "NIfTI .nii.gz  load_nifti": (load_nifti, "nii.gz"),
            "NIfTI .nii     load_nifti": (load_nifti, "nii"),
            "DICOM series   read_dicom_series": (read_dicom_series, "dicom"),
            "DICOM series   load_volume": (load_volume, "dicom"),
            "DICOM series   SimpleITK (reference)": (simpleitk_read, "dicom"),
            "DICOM series   highdicom (reference)": (highdicom_read, "dicom"),
        }
        print(f"{n} patients, volumes {shape} ({shape[2]} DICOM files each), median of "
              f"{args.repeats} runs\n")
        runs = {name: [] for name in readers}
        for _ in range(args.repeats):
            # Round robin: on a shared machine every reader sees the same load.
            for name, (read, kind) in readers.items():
                runs[name].append(seconds(read, [f[kind] for f in files]))
    rates = {name: n / statistics.median(times) for name, times in runs.items()}
    for name, times in runs.items():
        print(f"{name:40s} {rates[name]:7.1f} patients/s   runs (s): "
              f"{', '.join(f'{t:.2f}' for t in times)}")
    dicom = rates["DICOM series   read_dicom_series"]
    print(f"\nratio DICOM / NIfTI .nii.gz: {dicom / rates['NIfTI .nii.gz  load_nifti']:.2f}x")
    print(f"ratio DICOM / NIfTI .nii:    {dicom / rates['NIfTI .nii     load_nifti']:.2f}x")
    simpleitk = rates["DICOM series   SimpleITK (reference)"]
    print(f"ratio tacelearn / SimpleITK: {dicom / simpleitk:.2f}x   tacelearn / highdicom: "
          f"{dicom / rates['DICOM series   highdicom (reference)']:.2f}x")


if __name__ == "__main__":
    main()
