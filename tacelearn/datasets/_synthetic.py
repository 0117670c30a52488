"""The synthetic multicentre TACE cohort: clinical table, lesion table and NIfTI images on disk."""

from __future__ import annotations

import os
from numbers import Integral
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from ..utils import atomic_write_text
from ._cohort import read_cohort
from ._phantom import render_patient, scanner_for_center
from ._synthetic_clinical import PAPER_CENTER_SIZES, hide_laboratory_values, simulate_clinical
from ._synthetic_lesions import simulate_lesions
from ._synthetic_outcomes import simulate_outcomes

__all__ = ["DEFAULT_IMAGE_SHAPE", "make_tace_cohort"]

#: Voxel grid (x, y, z) of the default cohort: about 2.8-3.1 mm in-plane, 6.7 mm slices.
DEFAULT_IMAGE_SHAPE = (128, 128, 24)
_IMAGE_FOLDER = "images"
#: File name of the lesion truth table, beside ``cohort.csv``.
LESION_TABLE_NAME = "lesions.csv"
LESION_TABLE_COLUMNS = ("patient_id", "lesion", "mask_voxels", "biology", "missed_by_mask",
                        "tumour", "radius_mm", "rendered_radius_mm", "volume_weight")


def _check_sizes(n_per_center):
    if n_per_center is None:
        return list(PAPER_CENTER_SIZES)
    if isinstance(n_per_center, Integral):
        sizes = [int(n_per_center)] * len(PAPER_CENTER_SIZES)
    else:
        try:
            sizes = [int(n) for n in n_per_center]
        except (TypeError, ValueError):
            raise TypeError(
                f"n_per_center must be an int or a sequence of ints, got {n_per_center!r}"
            ) from None
    if len(sizes) < 1 or any(n < 2 for n in sizes):
        raise ValueError(f"n_per_center needs at least 2 patients per centre, got {sizes}")
    if sizes[0] < 5:
        raise ValueError("the first centre needs at least 5 patients to hold a train split "
                         f"and an internal validation split, got {sizes[0]}")
    return sizes


def _check_shape(image_shape):
    if image_shape is None:
        return DEFAULT_IMAGE_SHAPE
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or min(shape[:2]) < 16 or shape[2] < 4:
        raise ValueError(
            f"image_shape must be 3 ints (x, y, z) with x, y >= 16 and z >= 4, got {image_shape}"
        )
    return shape


def _write_nifti(volume, affine, path):
    image = nib.Nifti1Image(volume, affine)
    image.header.set_xyzt_units("mm")
    image.header.set_qform(affine, code=1)
    image.header.set_sform(affine, code=1)
    tmp = f"{path}.tmp.nii.gz"
    nib.save(image, tmp)
    os.replace(tmp, path)


def _render_and_write(patient, lesions, image_shape, seed, folder):
    rng = np.random.default_rng(seed)
    t1c, t2, mask, affine, records = render_patient(
        patient, lesions, image_shape, scanner_for_center(patient["center"]), rng
    )
    for record, lesion in zip(records, lesions):
        record.update(patient_id=patient["patient_id"], tumour=lesion["tumour"])
    names = {}
    for key, volume in (("t1c", t1c), ("t2", t2), ("mask", mask)):
        name = f"{_IMAGE_FOLDER}/{patient['patient_id']}_{key}.nii.gz"
        _write_nifti(volume, affine, folder / name)
        names[f"{key}_path"] = name
    return names, records


def _lesion_table(lesions, records):
    """The lesion truth table: one row per lesion, in mask order within each patient."""
    rendered = pd.DataFrame(records)
    table = lesions.merge(rendered, on=["patient_id", "tumour"], how="left", validate="1:1")
    table["lesion"] = table["lesion"].astype("Int64")
    table = table.round({"radius_mm": 3, "rendered_radius_mm": 3, "volume_weight": 6,
                         "biology": 6})
    table = table.sort_values(["patient_id", "lesion"], na_position="last", kind="stable")
    return table[list(LESION_TABLE_COLUMNS)].reset_index(drop=True)


def make_tace_cohort(out_dir, *, n_per_center=None, image_shape=None, random_state=0,
                     n_jobs=None):
    """Write the synthetic multicentre TACE cohort: manifest, lesion table and NIfTI files.

    Three centres as in Chen et al.: centre 1 gives ``train`` (168) and ``internal_validation``
    (42), centre 2 ``external_1`` (189), centre 3 ``external_2`` (74). Clinical marginals follow
    the paper's Table 1, with a case-mix shift between centres. The probability of objective
    response is a known logistic function of a latent tumour biology (which the images show in
    the spatial structure of every lesion, not in its mean intensity) and of ALT > 50 U/L,
    ascites, BCLC B/C and portal venous invasion, with a different baseline response rate per
    centre and a slightly different model in centre 3; it is stored as ``true_probability``,
    so every model can be measured against its ceiling. Nuisances as in real data: arterial
    phase timing, mask errors and missed satellites, mRECIST read errors, missing laboratory
    values, and scanners that differ (spacing, orientation, intensity scale, noise, bias
    field). The generative model, with every equation and parameter, is in ``docs/cohort.md``.

    Parameters
    ----------
    out_dir : str or path-like
        Folder to write ``cohort.csv``, ``lesions.csv`` and ``images/`` into; created if needed.
    n_per_center : int or sequence of int, optional
        Patients per centre. Default ``(210, 189, 74)`` as in the paper. The first centre is
        split 80/20 into train and internal validation; centre k > 1 becomes
        ``external_{k-1}``.
    image_shape : tuple of 3 int, optional
        Voxel grid (x, y, z) of every volume, default :data:`DEFAULT_IMAGE_SHAPE`. Small
        shapes such as ``(48, 48, 12)`` keep tests fast; the anatomy is the same in millimetres.
    random_state : int, default=0
        Seed; the same seed gives the same tables and the same voxels, whatever ``n_jobs``.
        The clinical table and outcomes do not depend on ``image_shape``.
    n_jobs : int, optional
        Patients rendered in parallel (joblib); ``None`` means 1 unless in a joblib context.

    Returns
    -------
    cohort : pandas.DataFrame
        The manifest as :func:`read_cohort` returns it (absolute image paths). The CSV stores
        paths relative to ``out_dir`` so that the folder can be moved. Besides the schema it
        holds ``tumour_biology``, the patient's latent biology (the volume-weighted mean of
        its lesions' biologies, standard normal), and ``true_probability``, the probability of
        the recorded response.

    See Also
    --------
    read_cohort : Read and validate a cohort manifest.
    tacelearn.genomics.make_tace_expression : Tumour expression driven by ``tumour_biology``.

    Notes
    -----
    ``lesions.csv`` has one row per lesion: ``patient_id``; ``lesion``, the lesion's rank by
    voxel count among the 26-connected components of the saved mask (0 = largest, ties in
    scan order of the RAS+ volume: the ``lesion`` of
    :class:`~tacelearn.transformers.TumourPatchExtractor` and the label of
    :func:`~tacelearn.transformers.label_lesions` minus one; empty for a lesion the mask
    misses); ``mask_voxels`` (0 when missed); ``biology``, the lesion's own biology;
    ``missed_by_mask``; ``tumour`` (0 = the index tumour, by true size); ``radius_mm`` (true)
    and ``rendered_radius_mm`` (drawn); ``volume_weight``, the lesion's weight in
    ``tumour_biology``.

    Examples
    --------
    >>> import tempfile
    >>> from tacelearn.datasets import make_tace_cohort
    >>> cohort = make_tace_cohort(tempfile.mkdtemp(), n_per_center=(10, 6, 6),
    ...                           image_shape=(32, 32, 8))
    >>> cohort["split"].value_counts().to_dict()
    {'train': 8, 'external_1': 6, 'external_2': 6, 'internal_validation': 2}
    """
    sizes = _check_sizes(n_per_center)
    shape = _check_shape(image_shape)
    if not isinstance(random_state, Integral):
        raise TypeError(f"random_state must be an int, got {random_state!r}")
    out_dir = Path(out_dir)
    (out_dir / _IMAGE_FOLDER).mkdir(parents=True, exist_ok=True)

    seeds = np.random.SeedSequence(int(random_state)).spawn(5)
    clinical_rng, lesion_rng, outcome_rng, missing_rng = (np.random.default_rng(s)
                                                          for s in seeds[:4])
    complete = simulate_clinical(sizes, clinical_rng)
    lesions = simulate_lesions(complete, lesion_rng)
    outcomes = simulate_outcomes(complete, outcome_rng)
    cohort = pd.concat([hide_laboratory_values(complete, missing_rng), outcomes], axis=1)
    cohort["tumour_biology"] = cohort["tumour_biology"].round(6)

    by_patient = {pid: group.to_dict("records") for pid, group in lesions.groupby("patient_id")}
    rendered = Parallel(n_jobs=n_jobs)(
        delayed(_render_and_write)(patient, by_patient[patient["patient_id"]], shape, seed,
                                   out_dir)
        for patient, seed in zip(complete.to_dict("records"), seeds[4].spawn(len(complete)))
    )
    for column in ("t1c_path", "t2_path", "mask_path"):
        cohort[column] = [names[column] for names, _ in rendered]
    ordered = ["patient_id", "center", "split", "t1c_path", "t2_path", "mask_path"]
    synthetic = ["tumour_biology", "true_probability"]
    cohort = cohort[ordered + [c for c in cohort.columns if c not in ordered + synthetic]
                    + synthetic]
    table = _lesion_table(lesions, [record for _, records in rendered for record in records])
    atomic_write_text(out_dir / LESION_TABLE_NAME, table.to_csv(index=False))
    atomic_write_text(out_dir / "cohort.csv", cohort.to_csv(index=False))
    return read_cohort(out_dir / "cohort.csv")
