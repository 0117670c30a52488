"""TumourPatchExtractor: cohort DataFrame in, model-ready tumour patches out."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from numbers import Integral, Real

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, check_memory, validate_data
from tqdm.auto import tqdm

from ..utils import list_problems
from ._patch_extraction import (
    LESION_MODES,
    NORMALIZATIONS,
    PATCH_FORMAT_VERSION,
    PatchSettings,
    extract_patches_keyed,
)

__all__ = ["TumourPatchExtractor"]

#: The column that names each patient in error messages and in ``lesion_index_``.
PATIENT_COLUMN = "patient_id"
_OUTPUT_CONTAINERS = ("default", "pandas", "polars", None)


def _extract_or_report(function, job):
    """Run one patient's job; a problem with its files comes back as a message, so that every
    patient's problems can be reported together."""
    try:
        return function(**job), None
    except (ValueError, FileNotFoundError) as exc:
        return None, str(exc)


class _RecentPatches:
    """The patches most recently loaded from, or written to, a disk cache, in this process.

    A grid search transforms the same test patients once per candidate; loading each one back
    from joblib's disk cache costs two hashes of its arguments and a file read, more than
    fitting a logistic head. The key is the disk cache's folder with the job that keys it there
    (every file's path, modification time and size, the patch format and the settings), so an
    entry is exactly what the disk cache would give. Bounded in bytes, least recently used
    dropped first; the arrays are shared, so they are made read-only (``transform`` concatenates
    them into a new array).
    """

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self._entries = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(location, job):
        return (location, job["file_stamps"], job["format_version"], job["channels"],
                job["settings"])

    def get(self, key):
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key, outcome):
        """Remember ``outcome``, ``((patches, lesions), None)``; an error is not remembered."""
        result, _ = outcome
        if result is None:
            return
        with self._lock:
            if key in self._entries:
                return
            result[0].setflags(write=False)  # shared by every later pass: guard against edits
            self._entries[key] = outcome
            self._bytes += result[0].nbytes
            while self._bytes > self.max_bytes and self._entries:
                _, ((dropped, _), _) = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._bytes = 0


#: 512 MiB: the 128 px T1C/T2 patches of 4,000 patients.
_RECENT_PATCHES = _RecentPatches(max_bytes=512 * 2**20)


def _column_names(value, parameter):
    """``value`` as a non-empty tuple of column names, or a TypeError naming ``parameter``."""
    names = None if isinstance(value, str) else tuple(value) if np.iterable(value) else None
    if not names or not all(isinstance(name, str) for name in names):
        raise TypeError(f"{parameter} must be a non-empty sequence of column names, got "
                        f"{value!r}")
    return names


class TumourPatchExtractor(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Axial tumour patches from NIfTI volumes, one or more per patient, as a 4D array.

    For every patient (a row of the cohort DataFrame) the extractor reads each sequence and
    the tumour mask, reorients them to RAS+, optionally resamples the axial plane, finds the
    axial slice where the tumour is largest, cuts a box around the tumour on it (and on
    ``context_slices`` neighbours either side: 2.5D input), resizes the box to
    ``size x size``, normalises the intensities of each sequence and stacks the sequences as
    channels. The pure functions that do each step are public too (see :func:`load_nifti`
    and the See Also section). Patches are in the radiological display orientation:
    anterior at the top, the patient's right on the left.

    Parameters
    ----------
    image_columns : sequence of str, default=("t1c_path", "t2_path")
        Columns with the path of each sequence (arterial-phase T1C and T2 in the study).
        Every sequence must lie on the mask's voxel grid (same shape and affine).
    mask_column : str, default="mask_path"
        Column with the path of the binary tumour mask (1 = tumour, any lesion).
    size : int, default=128
        Patch height and width in pixels.
    context_slices : int, default=0
        Neighbouring slices taken on each side of the tumour's slice; the edge slice is
        repeated beyond the volume. ``0`` gives 2D patches.
    margin : float, default=0.5
        Without ``spacing``: the patch covers a square (in mm) whose side is the tumour's
        larger in-plane extent times ``1 + 2 * margin``, so the tumour fills the same share of
        every patch (like the hand-cut regions of interest of the original study).
    spacing : float or pair of float, optional
        If given, the axial plane is resampled to this spacing (mm) and the patch is
        ``size x size`` pixels of it centred on the tumour: a fixed field of view of
        ``size * spacing`` mm that keeps tumour size visible. ``margin`` is then not used.
    normalization : {"zscore", "zscore_tumour"} or None, default="zscore"
        Per sequence, clip at the 0.5th and 99.5th percentiles and z-score, with statistics
        from the tumour's axial slice: over the body (pixels above the slice's Otsu
        threshold) for ``"zscore"``, over the tumour and a 10 mm ring of tissue around it (at
        least 2 pixels) for ``"zscore_tumour"``. Both undo the intensity scale and offset of
        each scanner; the 2.5D neighbours share the statistics of the centre slice.
        ``None`` keeps the stored intensities.
    channel_order : sequence of str, optional
        Columns of ``image_columns`` in channel order; a column may repeat, e.g.
        ``("t1c_path", "t1c_path", "t2_path")`` for the original code's [T1C, T1C, T2].
        Default: ``image_columns`` in order.
    lesion : {"largest", "all"}, default="largest"
        Lesions are the 3D connected components of the mask (26-connectivity).
        ``"largest"``: one patch per patient, centred on the largest lesion. ``"all"``: one
        patch per lesion, largest first within each patient; see ``lesion_index_``.
    n_jobs : int, optional
        Patients processed in parallel (joblib); ``None`` means 1 unless in a joblib context.
        The patches do not depend on it.
    memory : str, path-like or joblib.Memory, optional
        Cache of per-patient patches, keyed on each file's path, modification time and size
        and on the parameters above that change the patches. A second pass over unchanged
        files only loads the cache; a rewritten file is read again. The patches last used
        (up to 512 MiB) also stay in this process's memory, so that repeated passes over the
        same patients (the candidates of a grid search) skip the disk.
    verbose : int, default=0
        Show a progress bar over patients when positive.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns of the DataFrame seen in ``fit``.
    feature_names_in_ : numpy.ndarray of str
        Its column names.
    n_channels_ : int
        ``C = len(channel_order) * (2 * context_slices + 1)``.
    lesion_index_ : pandas.DataFrame
        Set by each ``transform``: one row per patch (in output order) with ``patient_id``,
        ``lesion`` (0 = the patient's largest), ``voxels``, ``volume_ml`` (after resampling
        when ``spacing`` is set) and ``slice`` (axial index in the RAS+ volume).

    See Also
    --------
    load_nifti, reorient_to_ras, resample_in_plane, label_lesions, largest_area_slice,
    tumour_box, crop_with_padding, resize_image, normalize_intensity : The steps.

    Notes
    -----
    The output is always a float32 ndarray ``(n_patches, C, size, size)``. ``set_output``
    is accepted, so that the extractor can sit in a Pipeline configured for pandas output,
    but it leaves the patches as they are: a 4D array has no table form.
    ``get_feature_names_out`` names the channels (axis 1). The cohort needs a
    ``patient_id`` column besides the path columns; ``transform`` checks only these
    columns, so a cohort without outcomes can be transformed after fitting on one with
    them. Relative paths resolve against the working directory. Every problem found in the
    files is reported at once, naming the patient and the file, and nothing is returned
    then; the cache only ever holds complete patches of valid patients.

    Examples
    --------
    >>> import tempfile
    >>> from tacelearn.datasets import make_tace_cohort
    >>> from tacelearn.transformers import TumourPatchExtractor
    >>> cohort = make_tace_cohort(tempfile.mkdtemp(), n_per_center=(5, 2, 2),
    ...                           image_shape=(32, 32, 8))
    >>> extractor = TumourPatchExtractor(size=64, context_slices=1)
    >>> patches = extractor.fit_transform(cohort)
    >>> patches.shape, patches.dtype
    ((9, 6, 64, 64), dtype('float32'))
    >>> extractor.get_feature_names_out()[:3].tolist()
    ['t1c_path[z-1]', 't1c_path[z+0]', 't1c_path[z+1]']
    """

    def __init__(self, *, image_columns=("t1c_path", "t2_path"), mask_column="mask_path",
                 size=128, context_slices=0, margin=0.5, spacing=None,
                 normalization="zscore", channel_order=None, lesion="largest", n_jobs=None,
                 memory=None, verbose=0):
        self.image_columns = image_columns
        self.mask_column = mask_column
        self.size = size
        self.context_slices = context_slices
        self.margin = margin
        self.spacing = spacing
        self.normalization = normalization
        self.channel_order = channel_order
        self.lesion = lesion
        self.n_jobs = n_jobs
        self.memory = memory
        self.verbose = verbose

    def _checked_settings(self):
        """(settings, sequence columns, channel indices) from the parameters, validated."""
        columns = _column_names(self.image_columns, "image_columns")
        if len(set(columns)) != len(columns):
            raise ValueError(f"image_columns lists a column twice: {columns}; repeat a "
                             "sequence with channel_order instead")
        if not isinstance(self.mask_column, str):
            raise TypeError(f"mask_column must be a column name, got {self.mask_column!r}")
        order = (columns if self.channel_order is None
                 else _column_names(self.channel_order, "channel_order"))
        unknown = [c for c in order if c not in columns]
        if unknown:
            raise ValueError(f"channel_order names {unknown}, which are not in image_columns "
                             f"{columns}")
        if not isinstance(self.size, Integral) or isinstance(self.size, bool) or self.size < 1:
            raise ValueError(f"size must be a positive int, got {self.size!r}")
        if (not isinstance(self.context_slices, Integral) or isinstance(self.context_slices, bool)
                or self.context_slices < 0):
            raise ValueError(f"context_slices must be an int >= 0, got {self.context_slices!r}")
        if not isinstance(self.margin, Real) or not 0 <= self.margin < np.inf:
            raise ValueError(f"margin must be a finite number >= 0, got {self.margin!r}")
        spacing = None
        if self.spacing is not None:
            message = ("spacing must be None, a positive number or a pair of them (mm), got "
                       f"{self.spacing!r}")
            try:
                values = np.atleast_1d(np.asarray(self.spacing, dtype=np.float64))
            except (TypeError, ValueError):
                raise ValueError(message) from None
            if values.size not in (1, 2) or not (np.isfinite(values).all() and (values > 0).all()):
                raise ValueError(message)
            spacing = tuple(float(v) for v in np.broadcast_to(values, (2,)))
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got "
                             f"{self.normalization!r}")
        if self.lesion not in LESION_MODES:
            raise ValueError(f"lesion must be one of {LESION_MODES}, got {self.lesion!r}")
        settings = PatchSettings(size=int(self.size), context_slices=int(self.context_slices),
                                 margin=float(self.margin), spacing=spacing,
                                 normalization=self.normalization, lesion=self.lesion)
        return settings, columns, tuple(columns.index(c) for c in order)

    def _checked_memory(self):
        memory = self.memory
        return check_memory(os.fspath(memory) if isinstance(memory, os.PathLike) else memory)

    def _check_frame(self, X, columns):
        if not isinstance(X, pd.DataFrame):
            raise TypeError("TumourPatchExtractor takes the cohort DataFrame (patient_id and "
                            f"the image path columns), got {type(X).__name__}")
        needed = [PATIENT_COLUMN, *columns, self.mask_column]
        absent = [c for c in needed if c not in X.columns]
        if absent:
            raise ValueError(f"the cohort lacks the column(s) {absent}; TumourPatchExtractor "
                             f"needs {needed}")

    def fit(self, X, y=None):
        """Check the parameters and the cohort's columns; no image is read.

        Parameters
        ----------
        X : pandas.DataFrame
            The cohort, with ``patient_id``, ``image_columns`` and ``mask_column``.
        y : ignored

        Returns
        -------
        self : TumourPatchExtractor
        """
        settings, columns, channels = self._checked_settings()
        self._checked_memory()
        self._check_frame(X, columns)
        validate_data(self, X, skip_check_array=True)
        self.n_channels_ = len(channels) * (2 * settings.context_slices + 1)
        return self

    def _jobs(self, X, columns, channels, settings):
        """One job per patient; every missing path or file is reported at once."""
        missing = []
        jobs = []
        for row in X[[PATIENT_COLUMN, *columns, self.mask_column]].itertuples(index=False):
            patient, *paths = row
            stamps = []
            for column, path in zip([*columns, self.mask_column], paths):
                if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
                    missing.append(f"patient {patient}: no file in column '{column}' "
                                   f"(value {path!r})")
                    continue
                path = os.path.abspath(os.fspath(path))
                try:
                    stat = os.stat(path)
                except FileNotFoundError:
                    missing.append(f"patient {patient}: column '{column}': image file not "
                                   f"found: {path}")
                    continue
                stamps.append((path, stat.st_mtime_ns, stat.st_size))
            if len(stamps) == len(paths):
                jobs.append({
                    "file_stamps": tuple(stamps), "format_version": PATCH_FORMAT_VERSION,
                    "image_paths": tuple(s[0] for s in stamps[:-1]),
                    "mask_path": stamps[-1][0], "channels": channels, "settings": settings,
                })
        if missing:
            raise FileNotFoundError(f"{len(missing)} image file(s) missing:\n  "
                                    f"{list_problems(missing)}")
        return jobs

    def _extract_all(self, jobs):
        """(result, error) of every job: cache hits loaded here, the rest in joblib workers."""
        memory = self._checked_memory()
        function = memory.cache(extract_patches_keyed)
        location = getattr(memory, "location", None)
        keys = ([_RecentPatches.key(location, job) for job in jobs] if location is not None
                else [None] * len(jobs))
        outcomes = [None if key is None else _RECENT_PATCHES.get(key) for key in keys]
        in_cache = np.array([outcome is not None or function.check_call_in_cache(**job)
                             for outcome, job in zip(outcomes, jobs)], dtype=bool)
        with tqdm(total=len(jobs), desc="tumour patches", unit="patient",
                  disable=not self.verbose) as progress:
            for i in np.flatnonzero(in_cache):
                if outcomes[i] is None:
                    outcomes[i] = _extract_or_report(function, jobs[i])
                progress.update()
            to_compute = np.flatnonzero(~in_cache)
            if to_compute.size:
                computed = Parallel(n_jobs=self.n_jobs, return_as="generator")(
                    delayed(_extract_or_report)(function, jobs[i]) for i in to_compute
                )
                for i, outcome in zip(to_compute, computed, strict=True):
                    outcomes[i] = outcome
                    progress.update()
        if location is not None:
            for key, outcome in zip(keys, outcomes):
                _RECENT_PATCHES.put(key, outcome)
        return outcomes

    def transform(self, X):
        """Extract the patches.

        Parameters
        ----------
        X : pandas.DataFrame
            The cohort, with ``patient_id``, ``image_columns`` and ``mask_column``.

        Returns
        -------
        patches : numpy.ndarray of float32, shape (n_patches, n_channels_, size, size)
            ``n_patches`` is the number of patients, or of lesions with ``lesion="all"``
            (see ``lesion_index_``).

        Raises
        ------
        FileNotFoundError
            If files are missing (all of them are listed).
        ValueError
            If files are unreadable, not 3D NIfTI, off the mask's grid, constant, hold NaN,
            or a mask is empty or not binary (all patients' problems are listed, each with
            the patient id and the file).
        """
        check_is_fitted(self)
        settings, columns, channels = self._checked_settings()
        self._check_frame(X, columns)
        patients = X[PATIENT_COLUMN].tolist()
        outcomes = self._extract_all(self._jobs(X, columns, channels, settings))
        problems = [f"patient {patients[i]}: {error}"
                    for i, (_, error) in enumerate(outcomes) if error is not None]
        if problems:
            raise ValueError(f"{len(problems)} patient(s) with unusable images:\n  "
                             f"{list_problems(problems)}")
        records = [{PATIENT_COLUMN: patients[i], **lesion}
                   for i, ((_, lesions), _) in enumerate(outcomes) for lesion in lesions]
        self.lesion_index_ = pd.DataFrame(
            records, columns=[PATIENT_COLUMN, "lesion", "voxels", "volume_ml", "slice"]
        )
        if not outcomes:
            n_channels = len(channels) * (2 * settings.context_slices + 1)
            return np.empty((0, n_channels, settings.size, settings.size), dtype=np.float32)
        return np.concatenate([patches for (patches, _), _ in outcomes])

    def get_feature_names_out(self, input_features=None):
        """Names of the channels (axis 1 of the patches).

        Parameters
        ----------
        input_features : ignored
            The channels do not derive from the input columns one to one.

        Returns
        -------
        names : numpy.ndarray of str, shape (n_channels_,)
            The sequence's column, with ``[z-1]``, ``[z+0]``, ... when ``context_slices > 0``.
        """
        check_is_fitted(self)
        settings, columns, channels = self._checked_settings()
        offsets = range(-settings.context_slices, settings.context_slices + 1)
        names = [
            columns[c] if settings.context_slices == 0 else f"{columns[c]}[z{offset:+d}]"
            for c in channels for offset in offsets
        ]
        return np.asarray(names, dtype=object)

    def set_output(self, *, transform=None):
        """Accept an output configuration and keep the patches as an ndarray.

        A Pipeline or ColumnTransformer configured with ``set_output(transform="pandas")``
        configures every step; 4D patches have no DataFrame form, so they stay a float32
        ndarray whatever the configuration.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None

        Returns
        -------
        self : TumourPatchExtractor
        """
        if transform not in _OUTPUT_CONTAINERS:
            raise ValueError(f"transform must be one of {_OUTPUT_CONTAINERS}, got {transform!r}")
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags
