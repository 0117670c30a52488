"""Reading and validating cohort manifests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..utils import describe_rows, split_selector
from ._schema import COHORT_SCHEMA, IMAGE_COLUMNS, REQUIRED_COLUMNS

__all__ = ["canonical_mrecist", "objective_response", "read_cohort", "validate_cohort"]

_MRECIST_SPELLINGS = {
    "CR": ("cr", "complete response", "complete"),
    "PR": ("pr", "partial response", "partial"),
    "SD": ("sd", "stable disease", "stable"),
    "PD": ("pd", "progressive disease", "progression", "progressive"),
}
_MRECIST_LOOKUP = {
    spelling: code for code, spellings in _MRECIST_SPELLINGS.items() for spelling in spellings
}
_RESPONSE_OF_MRECIST = {"CR": 1, "PR": 1, "SD": 0, "PD": 0}
_TIME_EVENT_PAIRS = (("pfs_months", "pfs_event"), ("os_months", "os_event"))
#: What a split (or any name that becomes part of a file name) may hold.
SAFE_NAME_PATTERN = r"[A-Za-z0-9_.+\-]+"


def _is_missing(value):
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _canonical_mrecist_value(value):
    if _is_missing(value):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an mRECIST category")
    key = " ".join(value.strip().lower().replace("_", " ").replace("-", " ").split())
    try:
        return _MRECIST_LOOKUP[key]
    except KeyError:
        raise ValueError(
            f"{value!r} is not an mRECIST category; expected CR, PR, SD or PD "
            "(or 'complete response', 'partial response', 'stable disease', "
            "'progressive disease')"
        ) from None


def canonical_mrecist(mrecist):
    """Map mRECIST spellings onto the codes ``CR``, ``PR``, ``SD`` and ``PD``.

    Parameters
    ----------
    mrecist : str or array-like of str
        Response categories; case, surrounding spaces, hyphens and underscores are ignored, and
        the long forms ("complete response", "partial", "progressive disease", ...) are accepted.
        Missing values stay missing.

    Returns
    -------
    codes : str, None or numpy.ndarray of object
        Canonical codes, ``None`` where the input is missing.

    Raises
    ------
    ValueError
        For anything that is not an mRECIST category.

    Examples
    --------
    >>> from tacelearn.datasets import canonical_mrecist
    >>> canonical_mrecist(["complete response", "pr", "Stable-Disease"]).tolist()
    ['CR', 'PR', 'SD']
    """
    if isinstance(mrecist, str) or _is_missing(mrecist):
        return _canonical_mrecist_value(mrecist)
    return np.array([_canonical_mrecist_value(v) for v in mrecist], dtype=object)


def objective_response(mrecist):
    """Objective response from the mRECIST category: CR/PR -> 1, SD/PD -> 0.

    Parameters
    ----------
    mrecist : str or array-like of str
        The mRECIST categories, in any spelling :func:`canonical_mrecist` accepts.

    Returns
    -------
    response : int, pandas.NA or pandas.array of Int64
        1 for objective response, 0 for non-response, missing where ``mrecist`` is missing.

    Raises
    ------
    ValueError
        For anything that is not an mRECIST category.

    Examples
    --------
    >>> from tacelearn.datasets import objective_response
    >>> objective_response("complete response")
    1
    >>> objective_response(["PR", "sd", "PD"]).tolist()
    [1, 0, 0]
    """
    codes = canonical_mrecist(mrecist)
    if codes is None:
        return pd.NA
    if isinstance(codes, str):
        return _RESPONSE_OF_MRECIST[codes]
    return pd.array(
        [pd.NA if c is None else _RESPONSE_OF_MRECIST[c] for c in codes], dtype="Int64"
    )



def _coerce_numeric(df, column, problems):
    raw = df[column]
    numbers = pd.to_numeric(raw, errors="coerce")
    bad = numbers.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        problems.append(f"column '{column}': not a number at {describe_rows(df, bad, raw)}")
    return numbers


def _validate_binary(df, column, problems):
    numbers = _coerce_numeric(df, column, problems)
    bad = numbers.notna() & ~numbers.isin([0, 1])
    if bad.any():
        problems.append(
            f"column '{column}': values must be 0 or 1, found others at "
            f"{describe_rows(df, bad, df[column])}"
        )
        return df[column]
    return numbers.astype("Int64")


def _validate_categorical(df, column, categories, problems):
    values = df[column].astype(object).where(df[column].notna(), None)
    values = values.map(lambda v: v.strip() if isinstance(v, str) else v)
    # Integers written by spreadsheets ("0" for BCLC stage 0) compare as text.
    values = values.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else v)
    values = values.map(lambda v: str(v) if isinstance(v, (int, np.integer)) else v)
    if column == "mrecist":
        canonical = []
        bad = np.zeros(len(values), dtype=bool)
        for i, v in enumerate(values):
            try:
                canonical.append(_canonical_mrecist_value(v))
            except ValueError:
                canonical.append(v)
                bad[i] = True
        values = pd.Series(canonical, index=df.index, dtype=object)
    else:
        bad = values.notna() & ~values.isin(categories)
        bad = bad.to_numpy()
    if bad.any():
        problems.append(
            f"column '{column}': unknown category at {describe_rows(df, bad, df[column])}; "
            f"allowed: {', '.join(categories)}"
        )
    return values


def _path_problem(path):
    """None when ``path`` names an existing file or folder; else why not (a short reason)."""
    base = split_selector(path)[0]
    try:
        os.stat(base)
    except FileNotFoundError:
        return "not found"
    except (OSError, ValueError) as error:  # a loop of links, a name too long, a NUL byte
        return f"unreadable ({getattr(error, 'strerror', None) or error})"
    return None


def _validate_images(df, problems):
    """Every image path names an existing NIfTI or DICOM file, or a DICOM series folder."""
    for column in IMAGE_COLUMNS:
        if column not in df.columns:
            continue
        paths = df[column]
        given = ~_blank(paths)
        reasons = np.array([_path_problem(str(p)) if g else None for p, g in zip(paths, given)],
                           dtype=object)
        for reason in sorted({r for r in reasons if r is not None}):
            flagged = reasons == reason
            problems.append(f"column '{column}': image file or DICOM folder {reason} at "
                            f"{describe_rows(df, flagged, paths)}")


def validate_cohort(cohort, *, check_files=True):
    """Check a cohort DataFrame against the schema and return a normalised copy.

    Every problem found is reported at once, in one :class:`ValueError` that names the column
    and the offending rows (with their patient ids), so that a manifest can be fixed in one pass.

    Parameters
    ----------
    cohort : pandas.DataFrame
        One row per patient. Columns of the schema (see :data:`COHORT_SCHEMA`) are checked;
        other columns are kept as they are.
    check_files : bool, default=True
        Whether image paths must point to existing files.

    Returns
    -------
    cohort : pandas.DataFrame
        A copy with schema dtypes (``Int64`` for binary and count columns, float for measured
        values, text for categories), mRECIST codes in canonical spelling and, where only
        ``mrecist`` is given, ``objective_response`` derived from it.

    Raises
    ------
    TypeError
        If ``cohort`` is not a DataFrame.
    ValueError
        For a cohort without rows, missing required columns, duplicate or missing patient
        ids, split names with characters other than letters, digits, ``_``, ``-``, ``.`` and
        ``+`` (they name files of the report), unknown categories, values that are not
        numbers or not finite, binary values outside {0, 1}, negative times or counts,
        missing or unreadable image files, or ``mrecist`` disagreeing with
        ``objective_response``.

    Examples
    --------
    >>> import pandas as pd
    >>> from tacelearn.datasets import validate_cohort
    >>> cohort = pd.DataFrame({"patient_id": ["P1", "P2"], "center": ["A", "A"],
    ...                        "split": ["train", "train"], "mrecist": ["pr", "PD"]})
    >>> validate_cohort(cohort)["objective_response"].tolist()
    [1, 0]
    """
    df = _checked_frame(cohort)
    problems = []
    _validate_ids(df, problems)
    _validate_design(df, problems)
    for name, column in COHORT_SCHEMA.items():
        if name in df.columns and name not in ("patient_id", "center", "split"):
            df[name] = _COLUMN_VALIDATORS[column.kind](df, name, column, problems)
    _validate_outcomes(df, problems)
    if check_files:
        _validate_images(df, problems)
    if problems:
        raise ValueError("invalid cohort:\n- " + "\n- ".join(problems))
    return df


def _checked_frame(cohort):
    """A copy of ``cohort`` with a unique index, after the checks nothing else can follow."""
    if not isinstance(cohort, pd.DataFrame):
        raise TypeError(f"a cohort must be a pandas DataFrame, got {type(cohort).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in cohort.columns]
    if missing:
        raise ValueError(
            f"the cohort is missing required column(s) {missing}; it has {list(cohort.columns)}"
        )
    if len(cohort) == 0:
        raise ValueError("the cohort has no patient rows (only a header): one row per patient "
                         "is needed")
    df = cohort.copy()
    df.index = pd.RangeIndex(len(df)) if not df.index.is_unique else df.index
    return df


def _blank(values):
    return (values.isna() | (values.astype(str).str.strip() == "")).to_numpy(dtype=bool)


def _validate_ids(df, problems):
    ids = df["patient_id"]
    no_id = _blank(ids)
    if no_id.any():
        problems.append(f"column 'patient_id': missing at {describe_rows(df, no_id)}")
    df["patient_id"] = ids.astype(str).str.strip().where(~no_id, None)
    duplicated = (df["patient_id"].duplicated(keep=False) & ~no_id).to_numpy(dtype=bool)
    if duplicated.any():
        problems.append(f"column 'patient_id': duplicate ids at {describe_rows(df, duplicated)}")


def _validate_design(df, problems):
    for column in ("center", "split"):
        values = df[column]
        empty = _blank(values)
        if empty.any():
            problems.append(f"column '{column}': missing at {describe_rows(df, empty)}")
        df[column] = values.astype(object).where(empty, values.astype(str).str.strip())
    names = df["split"].astype(str)
    unsafe = ~_blank(df["split"]) & ~names.str.fullmatch(SAFE_NAME_PATTERN).to_numpy(dtype=bool)
    if unsafe.any():
        problems.append(
            f"column 'split': names may hold only letters, digits, '_', '-', '.' and '+' (they "
            f"name report files), not at {describe_rows(df, unsafe, df['split'])}"
        )


def _validate_numbers(df, name, column, problems):
    numbers = _coerce_numeric(df, name, problems)
    infinite = np.isinf(numbers.to_numpy(dtype=float, na_value=np.nan))
    if infinite.any():
        problems.append(f"column '{name}': infinite value at "
                        f"{describe_rows(df, infinite, numbers)}")
        numbers = numbers.where(~infinite)
    if column.kind == "score":
        return numbers
    negative = (numbers < 0).to_numpy(dtype=bool)
    if negative.any():
        problems.append(f"column '{name}': negative value at "
                        f"{describe_rows(df, negative, numbers)}")
    if column.kind == "probability" and (numbers > 1).any():
        problems.append(f"column '{name}': probability above 1 at "
                        f"{describe_rows(df, numbers > 1, numbers)}")
    if column.kind == "count":
        fractional = numbers.notna() & (numbers != numbers.round())
        if fractional.any():
            problems.append(f"column '{name}': not a whole number at "
                            f"{describe_rows(df, fractional, numbers)}")
        else:
            numbers = numbers.astype("Int64")
    return numbers


def _validate_path(df, name, column, problems):
    values = df[name]
    return values.astype(object).where(~_blank(values), None)


def _keep(df, name, column, problems):
    return df[name]


_COLUMN_VALIDATORS = {
    "binary": lambda df, name, column, problems: _validate_binary(df, name, problems),
    "categorical": lambda df, name, column, problems: _validate_categorical(
        df, name, column.categories, problems),
    "continuous": _validate_numbers,
    "count": _validate_numbers,
    "probability": _validate_numbers,
    "score": _validate_numbers,
    "path": _validate_path,
    "id": _keep,
    "text": _keep,
}


def _validate_outcomes(df, problems):
    if "mrecist" in df.columns:
        derived = pd.Series(
            [pd.NA if v is None or v not in _RESPONSE_OF_MRECIST else _RESPONSE_OF_MRECIST[v]
             for v in df["mrecist"]],
            index=df.index, dtype="Int64",
        )
        if "objective_response" not in df.columns:
            df["objective_response"] = derived
        else:
            given = pd.to_numeric(df["objective_response"], errors="coerce")
            disagree = (given.notna() & derived.notna() & (given != derived)).fillna(False)
            if disagree.any():
                problems.append(
                    "columns 'mrecist' and 'objective_response' disagree (CR/PR must be 1, "
                    f"SD/PD 0) at {describe_rows(df, disagree)}"
                )
    for _time, event in _TIME_EVENT_PAIRS:
        if event in df.columns and _time not in df.columns:
            problems.append(f"column '{event}' is given without its time column '{_time}'")


def read_cohort(path, *, check_files=True):
    """Read a cohort manifest (CSV) and validate it.

    Relative image paths are resolved against the folder that holds the manifest, so that a
    cohort folder can be moved or shared as a whole.

    Parameters
    ----------
    path : str or path-like
        The manifest CSV, one row per patient with the schema's columns.
    check_files : bool, default=True
        Whether image paths must point to existing files.

    Returns
    -------
    cohort : pandas.DataFrame
        The validated cohort (see :func:`validate_cohort`), image paths absolute; its
        ``attrs["manifest"]`` holds the manifest's absolute path.

    Raises
    ------
    FileNotFoundError
        If the manifest does not exist.
    ValueError
        If the file cannot be parsed as CSV or the cohort is invalid.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tacelearn.datasets import read_cohort
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "cohort.csv").write_text("patient_id,center,split,bclc\\nP1,A,train,0\\n")
    >>> read_cohort(folder / "cohort.csv")["bclc"].tolist()
    ['0']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cohort manifest not found: {path}")
    # Categories and ids are read as text: BCLC stage "0" or patient "007" must survive.
    text_columns = {
        name: str for name, column in COHORT_SCHEMA.items()
        if column.kind in ("id", "text", "path", "categorical")
    }
    try:
        df = pd.read_csv(path, dtype=text_columns, keep_default_na=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise ValueError(f"cannot read cohort manifest {path}: {error}") from error
    base = path.resolve().parent
    for column in IMAGE_COLUMNS:
        if column in df.columns:
            df[column] = [
                None if not isinstance(p, str) or not p.strip()
                else os.path.normpath(os.path.join(base, p.strip()))
                for p in df[column]
            ]
    try:
        cohort = validate_cohort(df, check_files=check_files)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    # Where the cohort came from: outputs must never replace the manifest's folder.
    cohort.attrs["manifest"] = str(path.resolve())
    return cohort
