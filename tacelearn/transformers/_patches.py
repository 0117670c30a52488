"""TumourPatchExtractor: cohort DataFrame in, model-ready tumour patches out."""

from __future__ import annotations

import os
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from ..utils import ContentStore, as_store, content_key, list_problems
from ._cohort_files import PATIENT_COLUMN, cohort_file_stamps, column_names
from ._lesions import make_lesion_bags
from ._patch_extraction import (
    LESION_MODES,
    NORMALIZATIONS,
    PATCH_FORMAT_VERSION,
    PATCH_MODES,
    PatchSettings,
    extract_patches,
)

__all__ = ["TumourPatchExtractor", "TumourPatches"]

#: The lesion table's columns, one row per patch.
LESION_COLUMNS = (PATIENT_COLUMN, "lesion", "voxels", "volume_ml", "slice")
#: Namespace of patch entries in the cache store.
CACHE_NAMESPACE = "patches"
_OUTPUT_CONTAINERS = ("default", "pandas", "polars", None)
_LESION_ARRAYS = ("voxels", "volume_ml", "slice")


class TumourPatches(NamedTuple):
    """What :meth:`TumourPatchExtractor.extract` returns: the patches and a row per patch."""

    patches: np.ndarray
    lesions: pd.DataFrame


def _extract_or_report(job):
    """Run one patient's job; a problem with its files comes back as a message, so that every
    patient's problems can be reported together."""
    try:
        return extract_patches(job["image_paths"], job["mask_path"], job["channels"],
                               job["settings"]), None
    except (ValueError, OSError) as exc:
        return None, str(exc)


def _entry_arrays(result):
    patches, lesions = result
    arrays = {"patches": patches}
    arrays.update({name: np.asarray([lesion[name] for lesion in lesions])
                   for name in _LESION_ARRAYS})
    return arrays


def _result_of_entry(entry):
    arrays = entry.arrays
    lesions = [{"lesion": i, "voxels": int(arrays["voxels"][i]),
                "volume_ml": float(arrays["volume_ml"][i]), "slice": int(arrays["slice"][i])}
               for i in range(len(arrays["patches"]))]
    return arrays["patches"], lesions


def _entry_checker(n_channels, patch_shape):
    """A check of a cached entry: the shape the settings give, lesions aligned, no blank patch."""
    def check(entry):
        patches = entry.arrays.get("patches")
        if (patches is None or patches.dtype != np.float32
                or patches.shape[1:] != (n_channels, *patch_shape) or len(patches) == 0):
            raise ValueError("the patches have the wrong type or shape")
        if any(len(entry.arrays.get(name, ())) != len(patches) for name in _LESION_ARRAYS):
            raise ValueError("the lesion records do not match the patches")
        flat = patches.reshape(len(patches), -1)
        if (flat.max(axis=1) == flat.min(axis=1)).any():
            raise ValueError("a patch is blank (every value equal)")
    return check


class TumourPatchExtractor(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Tumour patches from NIfTI or DICOM volumes, 2D, 2.5D or 3D, per patient or per lesion.

    For every patient (a row of the cohort DataFrame) the extractor reads each sequence and
    the tumour mask, reorients them to RAS+, optionally resamples the axial plane, finds the
    axial slice where the tumour is largest, cuts a box around the tumour on it (and on
    ``context_slices`` neighbours either side: 2.5D input), resizes the box to
    ``size x size``, normalises the intensities of each sequence and stacks the sequences as
    channels. With ``mode="3d"`` it resamples a box around the same centre instead, giving
    volumes ``(C, z, y, x)``. The pure functions that do each step are public too (see
    :func:`load_nifti` and the See Also section). Patches are in the radiological display
    orientation: anterior at the top, the patient's right on the left.

    Parameters
    ----------
    image_columns : sequence of str, default=("t1c_path", "t2_path")
        Columns with the path of each sequence (arterial-phase T1C and T2 in the study).
        Every sequence must lie on the mask's voxel grid (same shape and affine).
    mask_column : str, default="mask_path"
        Column with the path of the binary tumour mask (1 = tumour, any lesion).
    size : int or tuple of 3 int, default=128
        Patch height and width in pixels. With ``mode="3d"``: voxels of the 3D patch along
        ``(x, y, z)`` (right-left, anterior-posterior, slices), or one int for a cube; the
        patch is then ``(C, z, y, x)``: ``size=(32, 32, 16)`` gives ``(C, 16, 32, 32)``.
    context_slices : int, default=0
        Neighbouring slices taken on each side of the tumour's slice; the edge slice is
        repeated beyond the volume. ``0`` gives 2D patches, more gives 2.5D patches. Must be
        0 with ``mode="3d"``.
    margin : float, default=0.5
        Without ``spacing``: the patch covers a square (in mm) whose side is the tumour's
        larger in-plane extent times ``1 + 2 * margin``, so the tumour fills the same share of
        every patch (like the hand-cut regions of interest of the original study). In 3D a
        cube (in mm) whose side is twice the largest distance from the centre to the
        lesion's bounding box, times ``1 + 2 * margin``.
    spacing : float or tuple of float, optional
        If given, the axial plane is resampled to this spacing (mm, one number or ``(x, y)``)
        and the patch is ``size x size`` pixels of it centred on the tumour: a fixed field of
        view of ``size * spacing`` mm that keeps tumour size visible. ``margin`` is then not
        used. With ``mode="3d"``: the voxel spacing of the 3D patch (mm, one number or
        ``(x, y, z)``), whose field of view is then ``size * spacing`` mm along each axis.
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
    lesion : {"largest", "all", "bags"}, default="largest"
        Lesions are the 3D connected components of the mask (26-connectivity).
        ``"largest"``: one patch per patient, centred on the largest lesion. ``"all"``: one
        patch per lesion, largest first within each patient; :meth:`extract` says which
        patient and lesion each patch belongs to (more rows than patients: not a Pipeline
        step). ``"bags"``: every lesion, one row per patient: ``transform`` returns lesion
        bags (:func:`make_lesion_bags`), the input of a lesion-level
        :class:`CNNEncoder` (``lesion_aggregation``), so the step fits in a Pipeline.
    max_lesions : int, optional
        With ``lesion="all"`` or ``"bags"``: at most this many lesions per patient, the
        largest. ``None`` keeps every lesion; bags are as wide as the patient with most.
    mode : {"2d", "3d"}, default="2d"
        ``"2d"``: axial patches ``(C, size, size)`` (2.5D with ``context_slices``).
        ``"3d"``: a box resampled around the lesion (:func:`resample_crop_3d`), centred like
        the 2D patch on the lesion's largest axial slice, which is its slice ``z // 2``.
    n_jobs : int, optional
        Patients processed in parallel (joblib); ``None`` means 1 unless in a joblib context.
        The patches do not depend on it.
    memory : str, path-like or tacelearn.utils.ContentStore, optional
        Cache of per-patient patches (a folder, or a store), keyed on each file's path,
        modification time and size and on the parameters above that change the patches. A
        second pass over unchanged files only loads the cache; a rewritten file is read
        again. Entries are safetensors and JSON, checked when read: a damaged entry is
        discarded with a :class:`~tacelearn.utils.CacheWarning` and computed again. A
        :class:`~tacelearn.utils.ContentStore` with ``memory_bytes`` also keeps the patches
        last used in this process's memory (what
        :func:`~tacelearn.estimators.make_cached_grid_search` sets up).
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
    spacing_ : tuple of float or None
        ``spacing`` as validated: ``(x, y)`` in 2D, ``(x, y, z)`` in 3D.
    patch_shape_ : tuple of int
        Shape of one channel of a patch: ``(size, size)``, or ``(z, y, x)`` in 3D.
    sequence_columns_ : tuple of str
        ``image_columns`` as validated.
    channel_indices_ : tuple of int
        For each channel group, its index into ``sequence_columns_`` (``channel_order``
        resolved).

    See Also
    --------
    load_nifti : Read a NIfTI volume and its affine (the first step).
    reorient_to_ras : Flip and permute the axes of the sequences and the mask to RAS+.
    resample_in_plane : Resample the axial plane to ``spacing`` (2D, when it is given).
    label_lesions : Split the mask into lesions, largest first.
    largest_area_slice : Find the axial slice where a lesion is largest.
    tumour_box, crop_with_padding, resize_image, normalize_intensity : The 2D steps that
        cut the box around the tumour, resize it and normalise its intensities.
    lesion_centre, tumour_cube_side, resample_crop_3d : The 3D steps.
    make_lesion_bags : How ``lesion="bags"`` packs the lesions of each patient.

    Notes
    -----
    ``transform`` returns the patches only; :meth:`extract` returns them with a table of
    one row per patch (patient, lesion, volume, slice). Neither changes the estimator. The
    output is a float32 ndarray ``(n_patches, C, *patch_shape_)``, or lesion bags.
    ``set_output`` is accepted, so that the extractor can sit in a Pipeline configured for
    pandas output, but it leaves the patches as they are: images have no table form.
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
    >>> extractor.extract(cohort).lesions.columns.tolist()
    ['patient_id', 'lesion', 'voxels', 'volume_ml', 'slice']
    >>> TumourPatchExtractor(mode="3d", size=(24, 24, 8), spacing=3.0).fit_transform(
    ...     cohort).shape
    (9, 2, 8, 24, 24)
    >>> bags = TumourPatchExtractor(size=32, lesion="bags").fit_transform(cohort)
    >>> len(bags) == len(cohort), bags.dtype.names
    (True, ('patches', 'volume_ml'))
    """

    _parameter_constraints: dict = {
        "image_columns": [list, tuple],
        "mask_column": [str],
        "size": [Interval(Integral, 1, None, closed="left"), list, tuple],
        "context_slices": [Interval(Integral, 0, None, closed="left")],
        "margin": [Interval(Real, 0, 1e6, closed="left")],
        "spacing": [None, Interval(Real, 0, None, closed="neither"), list, tuple, np.ndarray],
        "normalization": [StrOptions({n for n in NORMALIZATIONS if n}), None],
        "channel_order": [None, list, tuple],
        "lesion": [StrOptions(set(LESION_MODES))],
        "max_lesions": [None, Interval(Integral, 1, None, closed="left")],
        "mode": [StrOptions(set(PATCH_MODES))],
        "n_jobs": [Integral, None],
        "memory": [None, str, os.PathLike, ContentStore, HasMethods(["cache"])],
        "verbose": ["verbose"],
    }

    def __init__(self, *, image_columns=("t1c_path", "t2_path"), mask_column="mask_path",
                 size=128, context_slices=0, margin=0.5, spacing=None,
                 normalization="zscore", channel_order=None, lesion="largest",
                 max_lesions=None, mode="2d", n_jobs=None, memory=None, verbose=0):
        self.image_columns = image_columns
        self.mask_column = mask_column
        self.size = size
        self.context_slices = context_slices
        self.margin = margin
        self.spacing = spacing
        self.normalization = normalization
        self.channel_order = channel_order
        self.lesion = lesion
        self.max_lesions = max_lesions
        self.mode = mode
        self.n_jobs = n_jobs
        self.memory = memory
        self.verbose = verbose

    def _resolve_columns(self):
        """(sequence columns, channel indices): what the parameter constraints cannot say."""
        columns = column_names(self.image_columns, "image_columns")
        if len(set(columns)) != len(columns):
            raise ValueError(f"image_columns lists a column twice: {columns}; repeat a "
                             "sequence with channel_order instead")
        order = (columns if self.channel_order is None
                 else column_names(self.channel_order, "channel_order"))
        unknown = [c for c in order if c not in columns]
        if unknown:
            raise ValueError(f"channel_order names {unknown}, which are not in image_columns "
                             f"{columns}")
        return columns, tuple(columns.index(c) for c in order)

    def _resolve_size(self):
        """``size`` as an int (2D) or a triple of ints (3D)."""
        if isinstance(self.size, Integral) and not isinstance(self.size, bool):
            return int(self.size) if self.mode == "2d" else (int(self.size),) * 3
        values = tuple(self.size)
        if (self.mode == "2d" or len(values) != 3 or not all(
                isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in values)):
            wanted = "an int" if self.mode == "2d" else "an int or 3 ints (x, y, z)"
            raise ValueError(f"size must be {wanted} >= 1 with mode={self.mode!r}, got "
                             f"{self.size!r}")
        return tuple(int(v) for v in values)

    def _resolve_spacing(self):
        if self.spacing is None:
            return None
        n_axes = 3 if self.mode == "3d" else 2
        names = "(x, y)" if n_axes == 2 else "(x, y, z)"
        message = (f"spacing must be None, a positive number or {n_axes} of them {names} in mm "
                   f"with mode={self.mode!r}, got {self.spacing!r}")
        try:
            values = np.atleast_1d(np.asarray(self.spacing, dtype=np.float64))
        except (TypeError, ValueError):
            raise ValueError(message) from None
        if values.size not in (1, n_axes) or not (np.isfinite(values).all()
                                                  and (values > 0).all()):
            raise ValueError(message)
        return tuple(float(v) for v in np.broadcast_to(values, (n_axes,)))

    def _settings(self):
        """The parameters that change the patches (they key the cache)."""
        # Bags are packed from the "all" patches: both share the cache.
        lesion = "all" if self.lesion == "bags" else self.lesion
        return PatchSettings(size=self._resolve_size(), context_slices=int(self.context_slices),
                             margin=float(self.margin), spacing=self.spacing_,
                             normalization=self.normalization, lesion=lesion, mode=self.mode,
                             max_lesions=None if lesion == "largest" else self.max_lesions)

    def _check_frame(self, X):
        if not isinstance(X, pd.DataFrame):
            raise TypeError("TumourPatchExtractor takes the cohort DataFrame (patient_id and "
                            f"the image path columns), got {type(X).__name__}")
        needed = [PATIENT_COLUMN, *self.sequence_columns_, self.mask_column]
        absent = [c for c in needed if c not in X.columns]
        if absent:
            raise ValueError(f"the cohort lacks the column(s) {absent}; TumourPatchExtractor "
                             f"needs {needed}")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and the cohort's columns; no image is read.

        Parameters
        ----------
        X : pandas.DataFrame
            The cohort, with ``patient_id``, ``image_columns`` and ``mask_column``.
        y : None
            Ignored.

        Returns
        -------
        self : TumourPatchExtractor
            The fitted extractor.
        """
        self.sequence_columns_, self.channel_indices_ = self._resolve_columns()
        if self.mode == "3d" and self.context_slices != 0:
            raise ValueError(f"context_slices={self.context_slices} adds neighbouring slices as "
                             "channels of 2D patches; a 3D patch holds the slices already: "
                             "use context_slices=0 with mode='3d'")
        self._resolve_size()
        self.spacing_ = self._resolve_spacing()
        as_store(self.memory)
        self._check_frame(X)
        validate_data(self, X, skip_check_array=True)
        self.n_channels_ = len(self.channel_indices_) * (2 * int(self.context_slices) + 1)
        self.patch_shape_ = self._settings().patch_shape
        return self

    def _jobs(self, X):
        """One job per patient; every missing or unreadable path is reported at once."""
        settings = self._settings()
        return [{"file_stamps": stamps, "image_paths": tuple(s[0] for s in stamps[:-1]),
                 "mask_path": stamps[-1][0], "channels": self.channel_indices_,
                 "settings": settings}
                for stamps in cohort_file_stamps(X, self._file_columns())]

    def _extract_all(self, jobs):
        """(result, error) of every job: cache hits loaded here, the rest in joblib workers."""
        store = as_store(self.memory)
        check = _entry_checker(self.n_channels_, jobs[0]["settings"].patch_shape if jobs
                               else ())
        keys = [content_key(PATCH_FORMAT_VERSION, job["file_stamps"], job["channels"],
                            job["settings"]) for job in jobs]
        outcomes = [None] * len(jobs)
        with tqdm(total=len(jobs), desc="tumour patches", unit="patient",
                  disable=not self.verbose) as progress:
            if store is not None:
                for i, key in enumerate(keys):
                    entry = store.load(CACHE_NAMESPACE, key, check=check)
                    if entry is not None:
                        outcomes[i] = (_result_of_entry(entry), None)
                        progress.update()
            to_compute = [i for i, outcome in enumerate(outcomes) if outcome is None]
            if to_compute:
                computed = Parallel(n_jobs=self.n_jobs, return_as="generator")(
                    delayed(_extract_or_report)(jobs[i]) for i in to_compute)
                for i, outcome in zip(to_compute, computed, strict=True):
                    outcomes[i] = outcome
                    if store is not None and outcome[0] is not None:
                        store.save(CACHE_NAMESPACE, keys[i], arrays=_entry_arrays(outcome[0]))
                    progress.update()
        return outcomes

    def extract(self, X):
        """Extract the patches, with a table saying whose lesion each patch shows.

        Parameters
        ----------
        X : pandas.DataFrame
            The cohort, with ``patient_id``, ``image_columns`` and ``mask_column``.

        Returns
        -------
        result : TumourPatches
            ``patches``: float32 ndarray ``(n_patches, n_channels_, *patch_shape_)``;
            ``lesions``: DataFrame of one row per patch (in the same order) with
            ``patient_id``, ``lesion`` (0 = the patient's largest), ``voxels``,
            ``volume_ml`` (after resampling when ``spacing`` is set in 2D) and ``slice``
            (index of the lesion's largest axial slice in the RAS+ volume, the centre of its
            patch). ``n_patches`` is the number of patients, or of lesions with
            ``lesion="all"`` or ``"bags"`` (one patch per lesion here; :meth:`transform`
            packs them into bags).

        Raises
        ------
        FileNotFoundError
            If files are missing (all of them are listed).
        ValueError
            If files are unreadable, not 3D NIfTI, off the mask's grid, constant, hold NaN,
            too large for their header, or a mask is empty or not binary (all patients'
            problems are listed, each with the patient id, the column and the file).
        """
        check_is_fitted(self)
        self._check_frame(X)
        patients = X[PATIENT_COLUMN].tolist()
        jobs = self._jobs(X)
        outcomes = self._extract_all(jobs)
        problems = [_problem(patients[i], jobs[i], self._file_columns(), error)
                    for i, (_, error) in enumerate(outcomes) if error is not None]
        if problems:
            raise ValueError(f"{len(problems)} patient(s) with unusable images:\n  "
                             f"{list_problems(problems)}")
        records = [{PATIENT_COLUMN: patients[i], **lesion}
                   for i, ((_, lesions), _) in enumerate(outcomes) for lesion in lesions]
        lesions = pd.DataFrame(records, columns=list(LESION_COLUMNS))
        if not outcomes:
            patches = np.empty((0, self.n_channels_, *self._settings().patch_shape),
                               dtype=np.float32)
        else:
            patches = np.concatenate([patches for (patches, _), _ in outcomes])
        return TumourPatches(patches=patches, lesions=lesions)

    def _file_columns(self):
        return (*self.sequence_columns_, self.mask_column)

    def transform(self, X):
        """Extract the patches.

        Parameters
        ----------
        X : pandas.DataFrame
            The cohort, with ``patient_id``, ``image_columns`` and ``mask_column``.

        Returns
        -------
        patches : numpy.ndarray of float32, shape (n_patches, n_channels_, *patch_shape_)
            ``n_patches`` is the number of patients, or of lesions with ``lesion="all"``
            (:meth:`extract` says which patch is whose). With ``lesion="bags"``: lesion bags,
            one per patient (:func:`make_lesion_bags`).
        """
        result = self.extract(X)
        if self.lesion == "bags":
            return make_lesion_bags(result.patches, result.lesions)
        return result.patches

    def get_feature_names_out(self, input_features=None):
        """Names of the channels (axis 1 of the patches).

        Parameters
        ----------
        input_features : None
            Ignored: the channels do not derive from the input columns one to one.

        Returns
        -------
        names : numpy.ndarray of str, shape (n_channels_,)
            The sequence's column, with ``[z-1]``, ``[z+0]``, ... when ``context_slices > 0``.
        """
        check_is_fitted(self)
        context = int(self.context_slices)
        offsets = range(-context, context + 1)
        names = [
            self.sequence_columns_[c] if context == 0
            else f"{self.sequence_columns_[c]}[z{offset:+d}]"
            for c in self.channel_indices_ for offset in offsets
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
            The configuration asked for.

        Returns
        -------
        self : TumourPatchExtractor
            The extractor, unchanged.
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


def _problem(patient, job, columns, error):
    """'patient P3, column 't2_path': <message>' (the column whose file the message names)."""
    paths = [*job["image_paths"], job["mask_path"]]
    named = [column for column, path in zip(columns, paths) if path in error]
    where = f", column '{named[0]}'" if named else ""
    return f"patient {patient}{where}: {error}"
