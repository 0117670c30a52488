"""``tacelearn manifest``: a cohort manifest from a folder of images and a clinical table."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..utils import atomic_write_text

__all__ = ["make_manifest"]


def make_manifest(root, *, clinical, out, layout="patient_folders", sequences=None,
                  tumour_pattern=None, patient_pattern=None, id_column="patient_id",
                  complete_only=False, report_path=None, overwrite=False):
    """Build the manifest of ``root`` + ``clinical``, write it to ``out`` and return the report.

    Parameters
    ----------
    root, clinical : path-like
        The image folder tree and the clinical CSV (see
        :func:`tacelearn.datasets.build_manifest`).
    out : path-like
        The manifest CSV to write (paths relative to it).
    layout, tumour_pattern, patient_pattern, id_column
        As in :func:`tacelearn.datasets.build_manifest` (None keeps its defaults).
    sequences : dict of str to str, optional
        Patterns of some image columns, e.g. ``{"t2_path": "t2|tse"}``.
    complete_only : bool, default=False
        Keep only the patients with every image.
    report_path : path-like, optional
        Also write the report as JSON there.
    overwrite : bool, default=False
        Replace an existing ``out`` (and ``report_path``).

    Returns
    -------
    report : tacelearn.datasets.ManifestReport

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``overwrite`` is false (checked before the tree is walked).
    ValueError
        If no patient was matched, or the manifest is invalid (nothing is then written).
    """
    from ..datasets import build_manifest, write_manifest

    for path in (out, report_path):
        if path is not None and Path(path).exists() and not overwrite:
            raise FileExistsError(f"{path} already exists (use --overwrite to replace it)")
    options = {"layout": layout, "sequences": sequences, "id_column": id_column}
    if tumour_pattern is not None:
        options["tumour_pattern"] = tumour_pattern
    if patient_pattern is not None:
        options["patient_pattern"] = patient_pattern
    manifest, report = build_manifest(root, clinical, **options)
    if complete_only:
        manifest = manifest[manifest["patient_id"].isin(report.matched)]
    if manifest.empty or not report.matched:
        raise ValueError(f"no patient of {clinical} was matched with images under {root}:\n"
                         f"{report}")
    write_manifest(manifest, out)
    if report_path is not None:
        atomic_write_text(report_path, json.dumps(dataclasses.asdict(report), indent=2) + "\n")
    return report
