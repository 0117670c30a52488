"""Building a cohort manifest from a folder tree of images and a clinical table.

The tree is walked once; every NIfTI file, DICOM image series, DICOM-SEG and RT-STRUCT object
found becomes a *candidate* of a patient. Each image column is then filled with the one
candidate whose name (NIfTI) or SeriesDescription (DICOM) matches the column's pattern; what
matches nothing, or more than one, is reported rather than guessed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..utils import atomic_write_text, describe_names, is_nifti_path
from ._cohort import validate_cohort
from ._dicom_files import MASK_SOP_CLASSES, find_image_series
from ._schema import IMAGE_COLUMNS

__all__ = ["DEFAULT_SEQUENCE_PATTERNS", "ManifestReport", "build_manifest", "write_manifest"]

#: How each image column is recognised (case-insensitive regular expressions, searched in a
#: NIfTI file's path below the patient's folder, or a DICOM series' SeriesDescription).
DEFAULT_SEQUENCE_PATTERNS = {
    "t1c_path": r"t1c|arterial|(^|[^a-z0-9])(art|hap)([^a-z0-9]|$)",
    "t2_path": r"t2",
    "mask_path": r"mask|seg|label|roi",
}
#: The segment of a DICOM-SEG (or region of an RT-STRUCT) holding several that is the tumour.
DEFAULT_TUMOUR_PATTERN = r"tumou?r|mass|lesion|neoplasm|hcc|gtv"
LAYOUTS = ("patient_folders", "flat", "dicom_patient_id")


@dataclass
class _Candidate:
    """A file or series that may fill an image column of a patient."""

    patient: str
    path: str
    text: str           # what the patterns are searched in
    kind: str           # "nifti", "series" or "mask"
    labels: tuple = ()  # segments or regions of a DICOM mask
    references: frozenset = frozenset()  # series a DICOM mask references
    uid: str = ""       # SeriesInstanceUID of a DICOM series


@dataclass
class ManifestReport:
    """What :func:`build_manifest` matched and what it could not.

    Made by :func:`build_manifest`; each parameter is kept as an attribute of the same name.
    ``print(report)`` summarises it, one line per non-empty finding.

    Parameters
    ----------
    matched : list of str
        Patients of the clinical table with every image column filled.
    incomplete : dict of str to list of str
        Patients of the clinical table with images, and the image columns left empty.
    patients_without_images : list of str
        Patients of the clinical table with no image at all.
    images_without_clinical : list of str
        Patients found in the tree but not in the clinical table (left out).
    ambiguous : list of str
        ``"patient P3, column 't2_path': 2 candidates: a, b"``: nothing was chosen.
    unmatched : list of str
        Files and series of patients that no pattern recognised (left out).
    problems : list of str
        Other findings, such as a DICOM mask that does not reference the patient's T1C series.

    See Also
    --------
    build_manifest : What returns it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tacelearn.datasets import build_manifest
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> images = folder / "images"
    >>> images.mkdir()
    >>> for name in ["P1_t1c.nii.gz", "P1_t2.nii.gz", "P1_mask.nii.gz", "P2_t1c.nii.gz",
    ...              "P9_t1c.nii.gz"]:
    ...     (images / name).touch()
    >>> _ = (folder / "clinical.csv").write_text("patient_id\\nP1\\nP2\\nP3\\n")
    >>> manifest, report = build_manifest(images, folder / "clinical.csv", layout="flat")
    >>> print(report)
    1 patient(s) matched with every image
    1 with images missing: P2 (no t2_path, mask_path)
    1 in the clinical table without any image: P3
    1 with images but not in the clinical table: P9
    >>> report.matched, report.incomplete
    (['P1'], {'P2': ['t2_path', 'mask_path']})
    """

    matched: list = field(default_factory=list)
    incomplete: dict = field(default_factory=dict)
    patients_without_images: list = field(default_factory=list)
    images_without_clinical: list = field(default_factory=list)
    ambiguous: list = field(default_factory=list)
    unmatched: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    def __str__(self):
        lines = [f"{len(self.matched)} patient(s) matched with every image"]
        sections = (
            ("with images missing", [f"{p} (no {', '.join(c)})"
                                     for p, c in self.incomplete.items()]),
            ("in the clinical table without any image", self.patients_without_images),
            ("with images but not in the clinical table", self.images_without_clinical),
            ("ambiguous", self.ambiguous),
            ("not recognised by any pattern", self.unmatched),
            ("problems", self.problems),
        )
        for title, entries in sections:
            if entries:
                lines.append(f"{len(entries)} {title}: {describe_names(entries)}")
        return "\n".join(lines)


def _compile_patterns(sequences):
    patterns = dict(DEFAULT_SEQUENCE_PATTERNS)
    if sequences is not None:
        unknown = set(sequences) - set(IMAGE_COLUMNS)
        if unknown:
            raise ValueError(f"sequences names unknown image column(s) {sorted(unknown)}; the "
                             f"image columns are {list(IMAGE_COLUMNS)}")
        patterns.update(sequences)
    compiled = {}
    for column, pattern in patterns.items():
        try:
            compiled[column] = re.compile(pattern, re.IGNORECASE)
        except (re.error, TypeError) as exc:
            raise ValueError(f"the pattern of '{column}' ({pattern!r}) is not a regular "
                             f"expression: {exc}") from None
    return compiled


def _nifti_candidates(folder, patient):
    found = []
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and is_nifti_path(path):
            found.append(_Candidate(patient, str(path), str(path.relative_to(folder)), "nifti"))
    return found


def _series_path(entry, image_series):
    """A folder (with ``#uid`` when it holds other image series) or a single multi-frame file."""
    if len(entry.files) == 1 and int(entry.headers[0].get("NumberOfFrames") or 1) > 1:
        return str(entry.files[0])
    folder = os.path.commonpath([str(Path(f).parent) for f in entry.files])
    others = [uid for uid, other in image_series.items() if uid != entry.uid and any(
        str(f).startswith(folder + os.sep) for f in other.files)]
    return f"{folder}#{entry.uid}" if others else folder


def _mask_labels(header):
    if "SegmentSequence" in header:
        return tuple(str(s.get("SegmentLabel", "") or s.SegmentNumber)
                     for s in header.SegmentSequence)
    return tuple(str(r.get("ROIName", "") or r.ROINumber)
                 for r in header.get("StructureSetROISequence", []))


def _mask_references(header):
    direct = {str(s.SeriesInstanceUID) for s in header.get("ReferencedSeriesSequence", [])
              if "SeriesInstanceUID" in s}
    planned = {str(series.SeriesInstanceUID)
               for frame in header.get("ReferencedFrameOfReferenceSequence", [])
               for study in frame.get("RTReferencedStudySequence", [])
               for series in study.get("RTReferencedSeriesSequence", [])}
    return frozenset(direct | planned)


def _dicom_candidates(series, patient_of):
    """Candidates of every DICOM series; ``patient_of(header)`` names the patient."""
    images = {uid: entry for uid, entry in series.items()
              if str(entry.headers[0].get("SOPClassUID", "")) not in MASK_SOP_CLASSES}
    found = []
    for uid, entry in series.items():
        header = entry.headers[0]
        text = " ".join(str(header.get(k, "") or "") for k in ("SeriesDescription",
                                                                 "ProtocolName")).strip()
        if uid in images:
            found.append(_Candidate(patient_of(header), _series_path(entry, images), text,
                                    "series", uid=uid))
            continue
        for path, mask_header in zip(entry.files, entry.headers):
            found.append(_Candidate(patient_of(mask_header), str(path), text, "mask",
                                    labels=_mask_labels(mask_header),
                                    references=_mask_references(mask_header)))
    return found


def _gather(root, layout, patient_pattern):
    """Every candidate under ``root``, each with its patient."""
    root = Path(root)
    if layout == "patient_folders":
        found = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir()
                             and not p.name.startswith(".")):
            found += _nifti_candidates(folder, folder.name)
            found += _dicom_candidates(find_image_series(folder, include_masks=True),
                                       lambda header, name=folder.name: name)
        return found
    if layout == "dicom_patient_id":
        return _dicom_candidates(find_image_series(root, include_masks=True),
                                 lambda header: str(header.get("PatientID", "") or "").strip())
    found = []
    for candidate in _nifti_candidates(root, ""):
        name = Path(candidate.path).name
        match = patient_pattern.match(name)
        if match:
            candidate.patient = match.group("patient_id")
            candidate.text = name[match.end():]
            found.append(candidate)
    return found


def _classify(candidate, patterns):
    """The image columns a candidate may fill: a DICOM mask object is a mask whatever its
    name; a NIfTI file matching the mask pattern is a mask before anything else."""
    if candidate.kind == "mask":
        return ["mask_path"]
    if candidate.kind == "nifti" and patterns["mask_path"].search(candidate.text):
        return ["mask_path"]
    return [c for c in IMAGE_COLUMNS if c != "mask_path" and patterns[c].search(candidate.text)]


def _with_selector(candidate, tumour, report):
    """A DICOM mask's path, with ``#label`` when it holds several segments; None if unclear."""
    if candidate.kind != "mask" or len(candidate.labels) <= 1:
        return candidate.path
    tumours = [label for label in candidate.labels if tumour.search(label)]
    if len(tumours) == 1:
        return f"{candidate.path}#{tumours[0]}"
    report.ambiguous.append(f"patient {candidate.patient}, column 'mask_path': "
                            f"{candidate.path} holds {len(candidate.labels)} segments "
                            f"({', '.join(candidate.labels)}) and {len(tumours)} look like "
                            "the tumour")
    return None


def _resolve(patient, candidates, patterns, tumour, report):
    """The image paths of one patient, recording what is ambiguous or unrecognised."""
    by_column = {column: [] for column in IMAGE_COLUMNS}
    for candidate in candidates:
        columns = _classify(candidate, patterns)
        if not columns:
            report.unmatched.append(f"patient {patient}: {candidate.path} ({candidate.text!r})")
        elif len(columns) > 1:
            report.ambiguous.append(f"patient {patient}: {candidate.path} "
                                    f"({candidate.text!r}) matches {', '.join(columns)}")
        else:
            by_column[columns[0]].append(candidate)
    chosen = {}
    for column, found in by_column.items():
        if len(found) > 1:
            report.ambiguous.append(f"patient {patient}, column '{column}': {len(found)} "
                                    f"candidates: {', '.join(c.path for c in found)}")
        elif found:
            chosen[column] = found[0]
    mask, t1c = chosen.get("mask_path"), chosen.get("t1c_path")
    if mask is not None and mask.kind == "mask" and t1c is not None and t1c.uid \
            and t1c.uid not in mask.references:
        report.problems.append(f"patient {patient}: the mask {mask.path} does not reference "
                               f"the T1C series {t1c.path}; it is read onto the T1C series")
    paths = {column: (_with_selector(c, tumour, report) if column == "mask_path" else c.path)
             for column, c in chosen.items()}
    return {column: path for column, path in paths.items() if path is not None}


def _read_clinical(clinical_csv, id_column):
    try:
        clinical = pd.read_csv(clinical_csv, dtype={id_column: str})
    except FileNotFoundError:
        raise FileNotFoundError(f"clinical table not found: {clinical_csv}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the clinical table {clinical_csv}: {exc}") from None
    if id_column not in clinical.columns:
        raise ValueError(f"{clinical_csv}: no column '{id_column}' of patient ids; it has "
                         f"{list(clinical.columns)}")
    clashing = [c for c in IMAGE_COLUMNS if c in clinical.columns]
    if clashing:
        raise ValueError(f"{clinical_csv} already has image column(s) {clashing}; the manifest "
                         "builder fills them: remove them from the clinical table")
    clinical = clinical.rename(columns={id_column: "patient_id"})
    ids = clinical["patient_id"].astype("string").str.strip()
    if ids.isna().any() or ids.duplicated().any():
        bad = ids[ids.isna() | ids.duplicated(keep=False)].fillna("<missing>")
        raise ValueError(f"{clinical_csv}: patient ids must be present and unique; found "
                         f"{describe_names(sorted(set(bad)))}")
    clinical["patient_id"] = ids.astype(object)
    return clinical


def _check_arguments(root, layout, patient_pattern):
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if not Path(root).is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    try:
        pattern = re.compile(patient_pattern)
    except (re.error, TypeError) as exc:
        raise ValueError(f"patient_pattern {patient_pattern!r} is not a regular expression: "
                         f"{exc}") from None
    if "patient_id" not in pattern.groupindex:
        raise ValueError(f"patient_pattern {patient_pattern!r} needs a group named "
                         "'patient_id', as in '^(?P<patient_id>[^_]+)_'")
    return pattern


def build_manifest(root, clinical_csv, *, layout="patient_folders", sequences=None,
                   tumour_pattern=DEFAULT_TUMOUR_PATTERN,
                   patient_pattern=r"^(?P<patient_id>[^_]+)_", id_column="patient_id"):
    """Build a cohort manifest from a folder tree of images and a clinical table.

    Every NIfTI file, DICOM image series, DICOM-SEG and RT-STRUCT object under ``root`` is
    assigned to a patient (by ``layout``) and to the image column whose pattern it matches;
    the clinical table is joined on ``patient_id``. Nothing is guessed: a column with no
    candidate or several stays empty, and the report says which.

    Parameters
    ----------
    root : str or path-like
        The folder tree of images.
    clinical_csv : str or path-like
        The clinical table (CSV), one row per patient; it should hold ``center`` and
        ``split`` for the study (see :data:`COHORT_SCHEMA`).
    layout : {"patient_folders", "flat", "dicom_patient_id"}, default="patient_folders"
        How a file is assigned to a patient: ``"patient_folders"``, one subfolder of
        ``root`` per patient, named by the patient id, holding NIfTI files and/or DICOM
        (in any subfolders); ``"flat"``, NIfTI files whose names start with the patient id
        (``patient_pattern``), as ``make_tace_cohort`` writes them; ``"dicom_patient_id"``,
        DICOM anywhere under ``root``, by each file's PatientID.
    sequences : dict of str to str, optional
        Case-insensitive regular expressions replacing those of
        :data:`DEFAULT_SEQUENCE_PATTERNS` for some image columns. They are searched in a
        NIfTI file's path below the patient folder (in ``"flat"``, its name after the
        patient id) and in a DICOM series' SeriesDescription and ProtocolName. A NIfTI file
        matching the mask pattern is a mask; DICOM-SEG and RT-STRUCT objects are masks
        whatever their description.
    tumour_pattern : str, default=DEFAULT_TUMOUR_PATTERN
        When a DICOM mask holds several segments (or regions), the one whose label matches
        this case-insensitive expression is used (``path#label`` in the manifest).
    patient_pattern : str, default=r"^(?P<patient_id>[^_]+)_"
        ``"flat"`` layout only: the expression matched at the start of a file name, whose
        group ``patient_id`` is the patient.
    id_column : str, default="patient_id"
        The clinical table's column of patient ids (renamed ``patient_id``).

    Returns
    -------
    manifest : pandas.DataFrame
        One row per row of the clinical table (its order kept): ``patient_id``, ``center``
        and ``split`` first where present, then ``t1c_path``, ``t2_path``, ``mask_path``
        (absolute; a DICOM series folder may carry ``#<SeriesInstanceUID>``, a mask
        ``#<segment>``; None where not found), then the other clinical columns.
    report : ManifestReport
        What was matched and what was not; ``print(report)`` summarises it.

    Raises
    ------
    FileNotFoundError
        If ``root`` or ``clinical_csv`` does not exist.
    ValueError
        For an unknown layout or column, a pattern that is not a regular expression, a
        clinical table without the id column, with missing or duplicate ids, or already
        holding image columns.

    See Also
    --------
    write_manifest : Write it with relative paths.
    read_cohort : Read it back, validated.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tacelearn.datasets import build_manifest, make_tace_cohort
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> cohort = make_tace_cohort(folder, n_per_center=(5, 2, 2), image_shape=(16, 16, 4))
    >>> clinical = cohort.drop(columns=["t1c_path", "t2_path", "mask_path"])
    >>> clinical.to_csv(folder / "clinical.csv", index=False)
    >>> manifest, report = build_manifest(folder / "images", folder / "clinical.csv",
    ...                                   layout="flat")
    >>> print(report)
    9 patient(s) matched with every image
    >>> bool((manifest["t1c_path"] == cohort["t1c_path"]).all())
    True
    """
    pattern = _check_arguments(root, layout, patient_pattern)
    patterns = _compile_patterns(sequences)
    tumour = re.compile(tumour_pattern, re.IGNORECASE)
    clinical = _read_clinical(clinical_csv, id_column)
    candidates = {}
    for candidate in _gather(root, layout, pattern):
        candidates.setdefault(candidate.patient, []).append(candidate)
    report = ManifestReport()
    known = set(clinical["patient_id"])
    report.images_without_clinical = sorted(p for p in candidates if p not in known)
    images = []
    for patient in clinical["patient_id"]:
        paths = _resolve(patient, candidates.get(patient, []), patterns, tumour, report)
        images.append(paths)
        if patient not in candidates:
            report.patients_without_images.append(patient)
        elif len(paths) < len(IMAGE_COLUMNS):
            report.incomplete[patient] = [c for c in IMAGE_COLUMNS if c not in paths]
        else:
            report.matched.append(patient)
    for column in IMAGE_COLUMNS:
        clinical[column] = [paths.get(column) for paths in images]
    first = [c for c in ("patient_id", "center", "split") if c in clinical.columns]
    ordered = first + list(IMAGE_COLUMNS)
    return clinical[ordered + [c for c in clinical.columns if c not in ordered]], report


def _relative(path, folder):
    if not isinstance(path, str) or not path:
        return path
    try:
        return os.path.relpath(path, folder)
    except ValueError:  # another drive (Windows): the path stays absolute
        return path


def write_manifest(manifest, path):
    """Validate a manifest and write it as CSV, image paths relative to its folder.

    The file is written through a temporary file and renamed, so that a reader never sees it
    half-written; :func:`read_cohort` resolves the relative paths back against the folder.

    Parameters
    ----------
    manifest : pandas.DataFrame
        A cohort, such as :func:`build_manifest` returns; image paths absolute, or relative
        to the working directory.
    path : str or path-like
        The CSV file to write.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        If the manifest fails :func:`validate_cohort` (for instance without ``center`` or
        ``split``, or naming an image that does not exist); nothing is written then.

    See Also
    --------
    build_manifest : Build the manifest from a folder tree.
    read_cohort : Read it back.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tacelearn.datasets import make_tace_cohort, read_cohort, write_manifest
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> cohort = make_tace_cohort(folder / "data", n_per_center=(5, 2, 2),
    ...                           image_shape=(16, 16, 4))
    >>> written = write_manifest(cohort, folder / "manifest.csv")
    >>> written.read_text().splitlines()[1].split(",")[3]
    'data/images/P0001_t1c.nii.gz'
    >>> bool((read_cohort(written)["t1c_path"] == cohort["t1c_path"]).all())
    True
    """
    path = Path(path)
    cohort = validate_cohort(manifest, check_files=True)
    folder = path.resolve().parent
    table = manifest.copy()
    for column in IMAGE_COLUMNS:
        if column in table.columns:
            table[column] = [_relative(os.path.abspath(p) if isinstance(p, str) and p else p,
                                       folder) for p in cohort[column]]
    atomic_write_text(path, table.to_csv(index=False))
    return path
