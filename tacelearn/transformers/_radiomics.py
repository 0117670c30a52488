"""RadiomicsExtractor: PyRadiomics features of the tumour, per MRI sequence, from the cohort.

PyRadiomics, SimpleITK and PyYAML are imported on first use: importing
:mod:`tacelearn.transformers` must stay light for clinical-only users and worker processes.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from ..utils import ContentStore, as_store, content_key, describe_names, list_problems
from ._cohort_files import (
    PATIENT_COLUMN,
    check_binary_mask,
    check_same_grid,
    cohort_file_stamps,
    column_names,
)
from ._image import load_volume, voxel_spacing

__all__ = ["RadiomicsExtractor", "default_radiomics_settings"]

#: Part of every cache key: bump it whenever the features computed from the same files and
#: settings change (a new way of handing images to PyRadiomics, say).
RADIOMICS_FORMAT_VERSION = 1
#: Namespace of feature entries in the cache store.
CACHE_NAMESPACE = "radiomics"
#: Feature classes that describe the mask alone: computed once per patient, not per sequence.
_SHAPE_CLASSES = ("shape", "shape2D")
#: GLCM features of PyRadiomics' MR example: without Sum Average, which equals twice the Joint
#: Average for the symmetric matrices PyRadiomics computes (it warns when asked for it), and
#: without MCC, whose eigendecomposition per matrix costs three times the other 22 together.
_GLCM_FEATURES = (
    "Autocorrelation", "JointAverage", "ClusterProminence", "ClusterShade", "ClusterTendency",
    "Contrast", "Correlation", "DifferenceAverage", "DifferenceEntropy", "DifferenceVariance",
    "JointEnergy", "JointEntropy", "Imc1", "Imc2", "Idm", "Idmn", "Id", "Idn",
    "InverseVariance", "MaximumProbability", "SumEntropy", "SumSquares",
)
# Phrases of PyRadiomics' region-of-interest checks (imageoperations.checkMask/_checkROI).
_ROI_REFUSALS = ("single voxel", "too few dimensions", "too small", "excluded too many voxels")


def default_radiomics_settings():
    """The default PyRadiomics settings of :class:`RadiomicsExtractor`, as a new dict.

    PyRadiomics' starting point for MRI (its ``exampleMR_3mm.yaml``) on the original image:
    every voxel z-scored over the whole volume and scaled by 100 (``normalize``,
    ``normalizeScale``: MR intensities are relative, so each scanner's scale and offset
    go), B-spline resampling to 2 mm isotropic voxels (masks by nearest neighbour), a bin
    width of 5 (about 60 grey levels over +-3 standard deviations), first-order values
    shifted by 300 (three standard deviations) so that energy is not dominated by the sign,
    and a tumour spanning at least 2 dimensions (no minimum size: every patient of a study
    must get features; add ``minimumROISize`` to refuse small tumours).
    Feature classes: shape, first order, GLCM (without Sum Average, twice the Joint
    Average, and the costly MCC), GLRLM, GLSZM, GLDM and NGTDM: 14 shape features and 91 per
    sequence.

    Returns
    -------
    settings : dict
        In PyRadiomics' parameter-file form: ``setting``, ``imageType``, ``featureClass``.

    See Also
    --------
    RadiomicsExtractor : Takes these (or your own) as ``settings``.

    Examples
    --------
    >>> from tacelearn.transformers import default_radiomics_settings
    >>> settings = default_radiomics_settings()
    >>> settings["setting"]["resampledPixelSpacing"], settings["setting"]["binWidth"]
    ([2.0, 2.0, 2.0], 5.0)
    >>> sorted(settings["featureClass"])
    ['firstorder', 'glcm', 'gldm', 'glrlm', 'glszm', 'ngtdm', 'shape']
    """
    return {
        "setting": {
            "normalize": True,
            "normalizeScale": 100.0,
            "resampledPixelSpacing": [2.0, 2.0, 2.0],
            "interpolator": "sitkBSpline",
            "binWidth": 5.0,
            "voxelArrayShift": 300,
            "minimumROIDimensions": 2,
            "label": 1,
        },
        "imageType": {"Original": {}},
        "featureClass": {
            "shape": [], "firstorder": [], "glcm": list(_GLCM_FEATURES), "glrlm": [],
            "glszm": [], "gldm": [], "ngtdm": [],
        },
    }


# ------------------------------------------------------------------------------ logging
class _QuietRadiomics:
    """Raise the ``radiomics`` logger to WARNING while extractions run in this process.

    PyRadiomics sets its logger to INFO when imported and logs every step, which reaches the
    user's handlers through the root logger. The level is raised on entering and restored
    when the last concurrent extraction (threads of one process) leaves, so that the user's
    logging configuration is the same after as before.
    """

    def __init__(self, level=logging.WARNING):
        self.level = level
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = logging.NOTSET

    def __enter__(self):
        with self._lock:
            if self._depth == 0:
                logger = logging.getLogger("radiomics")
                self._saved = logger.level
                if logger.getEffectiveLevel() < self.level:
                    logger.setLevel(self.level)
            self._depth += 1
        return self

    def __exit__(self, *exc_info):
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                logging.getLogger("radiomics").setLevel(self._saved)


_QUIET_RADIOMICS = _QuietRadiomics()


class _QuietValidation:
    """PyRadiomics' settings validation (pykwalify) without changes to the logging set-up.

    pykwalify logs its findings as errors, which this module reports as a ValueError
    instead, and PyRadiomics hands pykwalify a handler of its own when nobody configured
    logging: both are undone on leaving. pykwalify also loads PyRadiomics' schema functions
    with a deprecated importlib call, whose warning says nothing to our users.
    """

    def __enter__(self):
        self._logger = logging.getLogger("pykwalify")
        self._core = logging.getLogger("pykwalify.core")
        self._saved = (self._logger.level, list(self._core.handlers))
        self._logger.setLevel(logging.CRITICAL + 1)
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.filterwarnings("ignore", message=r"the load_module\(\) method is deprecated",
                                category=DeprecationWarning)
        _QUIET_RADIOMICS.__enter__()
        return self

    def __exit__(self, *exc_info):
        _QUIET_RADIOMICS.__exit__(*exc_info)
        self._warnings.__exit__(*exc_info)
        level, handlers = self._saved
        self._logger.setLevel(level)
        self._core.handlers[:] = handlers


# ----------------------------------------------------------------------------- settings
def _read_settings_file(path):
    import yaml

    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as file:
            content = yaml.safe_load(file)
    except FileNotFoundError:
        raise FileNotFoundError(f"radiomics settings file not found: {name}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"radiomics settings file {name} cannot be read as YAML: "
                         f"{error}") from None
    if not isinstance(content, dict):
        raise ValueError(f"radiomics settings file {name} must hold a mapping with "
                         f"'setting', 'imageType' and 'featureClass'; it holds "
                         f"{type(content).__name__}")
    return content


def _pyradiomics_check(settings):
    """Validate ``settings`` with PyRadiomics' own schema; a ValueError lists the problems."""
    from pykwalify.errors import PyKwalifyException
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    try:
        with _QuietValidation():
            RadiomicsFeatureExtractor(copy.deepcopy(settings))
    except PyKwalifyException as error:
        text = str(getattr(error, "msg", error))
        details = [line.strip(" -") for line in text.splitlines() if line.startswith(" - ")]
        raise ValueError("settings are not valid PyRadiomics settings:\n  "
                         + list_problems(details or [text])) from None
    except ValueError as error:  # an unknown feature class, feature or image type
        raise ValueError(f"settings are not valid PyRadiomics settings: {error}") from None


def _all_feature_classes(force_2d):
    """Every class, as PyRadiomics enables by default (shape2D only for a forced 2D run)."""
    from radiomics import getFeatureClasses

    return {name: [] for name in getFeatureClasses()
            if name != "shape2D" or force_2d}


def normalised_settings(settings):
    """``settings`` (None, a dict or a YAML file) in the complete form that keys the cache.

    Every section is present; empty sections mean what PyRadiomics makes of them (the
    original image; every feature class); ``None`` feature lists become ``[]`` (all
    features of the class); image types, classes and features are sorted by name;
    ``voxelSetting`` merges into ``setting`` as PyRadiomics merges it; ``additionalInfo``
    is off (diagnostics are not features). The result is plain JSON data.
    """
    if settings is None:
        raw = default_radiomics_settings()
    elif isinstance(settings, (str, os.PathLike)):
        raw = _read_settings_file(settings)
    else:
        raw = copy.deepcopy(dict(settings))
    _pyradiomics_check(raw)
    setting = {**(raw.get("setting") or {}), **(raw.get("voxelSetting") or {})}
    if setting.get("label", 1) != 1:
        raise ValueError(f"settings: label must be 1, got {setting['label']!r}; tacelearn's "
                         "masks are binary (1 = tumour)")
    setting["additionalInfo"] = False
    # Sorted, so that the same settings written in another order give the same features
    # in the same order (PyRadiomics follows the order it is given).
    image_types = raw.get("imageType") or {"Original": {}}
    image_types = {name: dict(image_types[name] or {}) for name in sorted(image_types)}
    classes = raw.get("featureClass") or _all_feature_classes(bool(setting.get("force2D")))
    classes = {name: sorted(classes[name] or []) for name in sorted(classes)}
    normalised = {"setting": setting, "imageType": image_types, "featureClass": classes}
    try:
        return json.loads(json.dumps(normalised, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ValueError(f"settings must be plain data (numbers, text, lists, mappings): "
                         f"{error}") from None


def _pyradiomics_version():
    import radiomics

    return str(radiomics.__version__)


# --------------------------------------------------------------- per patient (in workers)
def _as_simpleitk(volume, affine):
    """A SimpleITK image of a NIfTI-ordered ``(x, y, z)`` volume with its RAS+ affine.

    ITK works in LPS+ world coordinates: the affine's first two rows change sign; the
    columns' lengths are the spacing and their directions the direction cosines.
    """
    import SimpleITK as sitk

    ras_to_lps = np.diag([-1.0, -1.0, 1.0])
    spacing = voxel_spacing(affine)
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(volume, (2, 1, 0))))
    image.SetSpacing([float(s) for s in spacing])
    image.SetOrigin([float(v) for v in ras_to_lps @ affine[:3, 3]])
    image.SetDirection([float(v) for v in ((ras_to_lps @ affine[:3, :3]) / spacing).ravel()])
    return image


def _feature_extractor(settings, with_shape):
    """PyRadiomics' extractor for ``settings`` (validated in ``fit``), or None when there is
    nothing to compute; shape classes only ``with_shape``."""
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    classes = {name: features for name, features in settings["featureClass"].items()
               if with_shape or name not in _SHAPE_CLASSES}
    if not classes:
        return None
    extractor = RadiomicsFeatureExtractor(**settings["setting"])
    extractor.disableAllImageTypes()
    extractor.enableImageTypes(**settings["imageType"])
    extractor.disableAllFeatures()
    extractor.enableFeaturesByName(**classes)
    return extractor


class _FileProblem(ValueError):
    """A problem with one of a patient's files: ``position`` indexes
    ``(*image_paths, mask_path)``, so that the message can name the file's column."""

    def __init__(self, position, message):
        super().__init__(message)
        self.position = position


def _refusal(error, path, mask_path):
    """PyRadiomics' ValueError as a message naming the file it concerns."""
    text = str(error)
    if any(phrase in text for phrase in _ROI_REFUSALS):
        return True, (f"{mask_path}: the tumour is too small for texture features with these "
                      f"settings (PyRadiomics: {text})")
    return False, f"{path}: PyRadiomics cannot extract features with mask {mask_path}: {text}"


def _load_mask(mask_path, reference):
    # A DICOM-SEG or RT-STRUCT mask is read onto the grid of the series it was drawn on.
    mask, affine = load_volume(mask_path, reference=reference)
    check_binary_mask(mask, mask_path)
    if not mask.any():
        raise ValueError(f"{mask_path}: the mask is empty (no tumour voxel)")
    return mask.astype(np.uint8), affine


def _load_image(path, mask, mask_affine, mask_path):
    """A sequence's volume and affine; an image off the mask's grid is the mask's problem."""
    volume, affine = load_volume(path)
    try:
        check_same_grid(volume, affine, path, mask, mask_affine, mask_path)
    except ValueError as error:
        raise _FileProblem(-1, str(error)) from None
    if volume.min() == volume.max():
        raise ValueError(f"{path}: the image is constant (every voxel is {volume.min():g})")
    return volume, affine


def _sequence_features(extractor, path, mask, mask_affine, mask_path):
    """``{pyradiomics name: value}`` of one sequence inside the mask."""
    import SimpleITK as sitk

    volume, affine = _load_image(path, mask, mask_affine, mask_path)
    image = _as_simpleitk(volume, affine)
    mask_image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(mask, (2, 1, 0))))
    mask_image.CopyInformation(image)  # the grids were checked equal to within 1 micrometre
    try:
        result = extractor.execute(image, mask_image)
    except ValueError as error:
        about_mask, message = _refusal(error, path, mask_path)
        raise (_FileProblem(-1, message) if about_mask else ValueError(message)) from None
    return {name: value for name, value in result.items()
            if not name.startswith("diagnostics_")}


def extract_radiomics(image_paths, mask_path, settings, prefixes, mask_prefix):
    """PyRadiomics features of one patient: shape once from the mask, the rest per sequence.

    Parameters
    ----------
    image_paths : tuple of str
        One image per sequence (NIfTI file or DICOM series), each on the mask's voxel grid.
    mask_path : str
        Binary tumour mask (1 = tumour, every lesion): NIfTI, or DICOM-SEG / RT-STRUCT drawn
        on the first sequence.
    settings : dict
        PyRadiomics settings in the complete form of :func:`normalised_settings`.
    prefixes : tuple of str
        Name prefix of each sequence's features (``"t1c"``).
    mask_prefix : str
        Name prefix of the shape features (``"mask"``).

    Returns
    -------
    names : list of str
        ``<prefix>_<PyRadiomics name>``: ``t1c_original_glcm_Contrast``,
        ``mask_original_shape_MeshVolume``.
    values : numpy.ndarray of float64
        NaN where PyRadiomics gives no finite value.

    Raises
    ------
    ValueError
        Naming the file at fault; its ``position`` in ``(*image_paths, mask_path)`` when
        the message alone cannot say which column it is (-1: the mask).
    """
    try:
        mask, mask_affine = _load_mask(mask_path, reference=image_paths[0])
    except (ValueError, OSError) as error:
        raise _FileProblem(-1, str(error)) from None
    names, values = [], []
    with _QUIET_RADIOMICS:
        for k, (path, prefix) in enumerate(zip(image_paths, prefixes)):
            extractor = _feature_extractor(settings, with_shape=k == 0)
            if extractor is None:
                continue
            try:
                features = _sequence_features(extractor, path, mask, mask_affine, mask_path)
            except _FileProblem:
                raise
            except (ValueError, OSError) as error:
                raise _FileProblem(k, str(error)) from None
            for name, value in features.items():
                feature_class = name.split("_", 2)[1]
                names.append(f"{mask_prefix if feature_class in _SHAPE_CLASSES else prefix}_"
                             f"{name}")
                values.append(float(value))
    values = np.asarray(values, dtype=np.float64)
    values[~np.isfinite(values)] = np.nan
    return names, values


def _extract_or_report(job):
    """Run one patient's job; a problem with its files comes back as ``(position, message)``
    (see :func:`extract_radiomics`), so that every patient's problems are reported together."""
    try:
        return extract_radiomics(job["image_paths"], job["mask_path"], job["settings"],
                                 job["prefixes"], job["mask_prefix"]), None
    except _FileProblem as exc:
        return None, (exc.position, str(exc))


# -------------------------------------------------------------------------------- cache
def _entry_arrays(result):
    """Cache arrays of ``(names, values)``: the store keeps finite numbers only, so the
    values that PyRadiomics left undefined are flagged apart."""
    _, values = result
    defined = np.isfinite(values)
    return {"values": np.where(defined, values, 0.0), "defined": defined.astype(np.uint8)}


def _result_of_entry(entry):
    values = np.where(entry.arrays["defined"].astype(bool), entry.arrays["values"], np.nan)
    return list(entry.meta["names"]), values


def _check_entry(entry):
    values, defined = entry.arrays.get("values"), entry.arrays.get("defined")
    names = entry.meta.get("names")
    if (values is None or defined is None or values.dtype != np.float64 or values.ndim != 1
            or defined.shape != values.shape):
        raise ValueError("the feature arrays have the wrong type or shape")
    if (not isinstance(names, list) or len(names) != len(values)
            or not all(isinstance(name, str) for name in names)):
        raise ValueError("the feature names do not match the values")


def _feature_prefix(column):
    """``"t1c_path"`` -> ``"t1c"``: the column's name without a ``_path`` suffix."""
    return column.removesuffix("_path") or column


class RadiomicsExtractor(TransformerMixin, BaseEstimator):
    """PyRadiomics features of the tumour on every MRI sequence, one row per patient.

    For every patient (a row of the cohort DataFrame) the extractor reads the tumour mask
    and each sequence with :func:`load_volume` (NIfTI or DICOM, with the same header checks
    as for the patches), hands them to PyRadiomics as SimpleITK images on the affine's grid,
    and
    returns the features of every sequence side by side: shape features once, from the mask,
    and the intensity and texture features of each sequence, named after the column
    (``t1c_path`` gives ``t1c_original_glcm_Contrast``). The whole mask is the region of
    interest: every lesion of a multifocal tumour.

    Parameters
    ----------
    image_columns : list or tuple of str, default=("t1c_path", "t2_path")
        Columns with the path of each sequence (a NIfTI file or a DICOM series). Every
        sequence must lie on the mask's voxel grid (same shape and affine). A column's
        features are prefixed with its name without the ``_path`` suffix.
    mask_column : str, default="mask_path"
        Column with the path of the binary tumour mask (1 = tumour, any lesion): NIfTI, or a
        DICOM-SEG or RT-STRUCT drawn on the first sequence. It prefixes the shape features
        (``mask_original_shape_MeshVolume``).
    settings : dict, str or path-like, optional
        PyRadiomics settings in its parameter-file form (``setting``, ``imageType``,
        ``featureClass``), as a dict or the path of a YAML file of that form; checked
        against PyRadiomics' schema in ``fit``. Default:
        :func:`default_radiomics_settings` (MRI z-scoring, 2 mm isotropic resampling, bin
        width 5; shape, first order, GLCM, GLRLM, GLSZM, GLDM, NGTDM on the original
        image). ``label`` must be 1.
    n_jobs : int, optional
        Patients processed in parallel (joblib, any backend, Dask included: the workers
        receive file paths and settings only); ``None`` means 1 unless in a joblib
        context. The features do not depend on it.
    memory : str, path-like or tacelearn.utils.ContentStore, optional
        Cache of per-patient features (a folder, or a store), keyed on each file's absolute
        path, modification time and size, the settings, the name prefixes and the
        PyRadiomics version. A second pass over unchanged files only loads the cache; a
        rewritten file is read again.
    verbose : int, default=0
        Show a progress bar over patients when positive.

    Attributes
    ----------
    settings_ : dict
        The settings used, complete: every section present, empty ones filled as
        PyRadiomics fills them.
    feature_names_out_ : numpy.ndarray of str
        The feature names, in output order.
    n_features_in_ : int
        Number of columns of the DataFrame seen in ``fit``.
    feature_names_in_ : numpy.ndarray of str
        Its column names.

    See Also
    --------
    default_radiomics_settings : The default settings.
    TumourPatchExtractor : The image branch of the deep learning models.
    tacelearn.estimators.make_radiomics_model : Features -> selection -> L1 logistic
        regression.

    Notes
    -----
    ``fit`` extracts the features of the training cohort: their names depend on the
    settings and, with filters such as LoG whose large sigmas PyRadiomics skips on small
    images, on the images; ``fit_transform`` extracts once. Every later patient must give
    the same names. Features PyRadiomics leaves undefined are NaN. Images reach
    PyRadiomics as float32: with resampling but without ``normalize``, PyRadiomics reading
    an integer file itself would interpolate in the file's integer type instead.
    PyRadiomics' log is held at WARNING while it runs and restored afterwards. Every
    problem found in the files is reported at once, naming the patient, the column and the
    file (a mask that is empty, not binary, off the image's grid, or too small for the
    settings' region-of-interest checks), and nothing is returned then; the cache only
    ever holds complete features of valid patients.

    Examples
    --------
    >>> import tempfile
    >>> from tacelearn.datasets import make_tace_cohort
    >>> from tacelearn.transformers import RadiomicsExtractor
    >>> cohort = make_tace_cohort(tempfile.mkdtemp(), n_per_center=(5, 2, 2),
    ...                           image_shape=(32, 32, 8))
    >>> settings = {"setting": {"binWidth": 25, "normalize": True, "normalizeScale": 100},
    ...             "featureClass": {"shape": ["VoxelVolume"], "firstorder": ["Mean"]}}
    >>> extractor = RadiomicsExtractor(settings=settings).set_output(transform="pandas")
    >>> features = extractor.fit_transform(cohort)
    >>> features.shape
    (9, 3)
    >>> features.columns.tolist()
    ['mask_original_shape_VoxelVolume', 't1c_original_firstorder_Mean',
     't2_original_firstorder_Mean']
    """

    _parameter_constraints: dict = {
        "image_columns": [list, tuple],
        "mask_column": [str],
        "settings": [None, dict, str, os.PathLike],
        "n_jobs": [Integral, None],
        "memory": [None, str, os.PathLike, ContentStore, HasMethods(["cache"])],
        "verbose": ["verbose"],
    }

    def __init__(self, *, image_columns=("t1c_path", "t2_path"), mask_column="mask_path",
                 settings=None, n_jobs=None, memory=None, verbose=0):
        self.image_columns = image_columns
        self.mask_column = mask_column
        self.settings = settings
        self.n_jobs = n_jobs
        self.memory = memory
        self.verbose = verbose

    def _prefixes(self):
        columns = column_names(self.image_columns, "image_columns")
        if len(set(columns)) != len(columns):
            raise ValueError(f"image_columns lists a column twice: {columns}")
        prefixes = tuple(_feature_prefix(column) for column in columns)
        if len(set(prefixes)) != len(prefixes):
            raise ValueError(f"image_columns {columns} give the same feature prefix twice "
                             f"({prefixes}); rename a column")
        return columns, prefixes

    def _check_frame(self, X):
        if not isinstance(X, pd.DataFrame):
            raise TypeError("RadiomicsExtractor takes the cohort DataFrame (patient_id and "
                            f"the image path columns), got {type(X).__name__}")
        needed = [PATIENT_COLUMN, *self.image_columns, self.mask_column]
        absent = [c for c in needed if c not in X.columns]
        if absent:
            raise ValueError(f"the cohort lacks the column(s) {absent}; RadiomicsExtractor "
                             f"needs {needed}")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and learn the feature names from the training cohort.

        Parameters
        ----------
        X : pandas.DataFrame
            The cohort, with ``patient_id``, ``image_columns`` and ``mask_column``.
        y : None
            Ignored.

        Returns
        -------
        self : RadiomicsExtractor
            The fitted extractor.
        """
        self._fit(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit and return the features of ``X``, extracting each patient once.

        Parameters
        ----------
        X : pandas.DataFrame
            The cohort, with ``patient_id``, ``image_columns`` and ``mask_column``.
        y : None
            Ignored.

        Returns
        -------
        features : numpy.ndarray of float64, shape (n_patients, n_features)
            A DataFrame with ``X``'s index when pandas output is configured.
        """
        return self._fit(X)

    def _fit(self, X):
        self._prefixes()
        as_store(self.memory)
        self._check_frame(X)
        if len(X) == 0:
            raise ValueError("RadiomicsExtractor needs at least one patient to fit: the "
                             "feature names come from the extracted features")
        validate_data(self, X, skip_check_array=True)
        self.settings_ = normalised_settings(self.settings)
        names, features = self._features(X, self.settings_, expected_names=None)
        self.feature_names_out_ = np.asarray(names, dtype=object)
        return features

    def transform(self, X):
        """Extract the features.

        Parameters
        ----------
        X : pandas.DataFrame
            The cohort, with ``patient_id``, ``image_columns`` and ``mask_column``; other
            columns are not read.

        Returns
        -------
        features : numpy.ndarray of float64, shape (n_patients, n_features)
            A DataFrame with ``X``'s index and the feature names as columns when pandas
            output is configured.

        Raises
        ------
        FileNotFoundError
            If files are missing (all of them are listed).
        ValueError
            If files are unreadable, not 3D volumes, off the mask's grid or constant, if a
            mask is empty, not binary or too small for the settings, or if a patient's
            features differ from those seen in ``fit`` (all patients' problems are listed,
            each with the patient id, the column and the file).
        """
        check_is_fitted(self)
        self._check_frame(X)
        _, features = self._features(X, self.settings_, list(self.feature_names_out_))
        return features

    def _jobs(self, X, settings):
        """One job per patient; every missing or unreadable path is reported at once."""
        columns, prefixes = self._prefixes()
        file_columns = [*columns, self.mask_column]
        return [{"file_stamps": stamps, "image_paths": tuple(s[0] for s in stamps[:-1]),
                 "mask_path": stamps[-1][0], "settings": settings, "prefixes": prefixes,
                 "mask_prefix": _feature_prefix(self.mask_column)}
                for stamps in cohort_file_stamps(X, file_columns)]

    def _extract_all(self, jobs):
        """(result, error) of every job: cache hits loaded here, the rest in joblib workers."""
        store = as_store(self.memory)
        version = _pyradiomics_version()
        keys = [content_key(RADIOMICS_FORMAT_VERSION, version, job["file_stamps"],
                            job["prefixes"], job["mask_prefix"], job["settings"])
                for job in jobs]
        outcomes = [None] * len(jobs)
        with tqdm(total=len(jobs), desc="radiomics", unit="patient",
                  disable=not self.verbose) as progress:
            if store is not None:
                for i, key in enumerate(keys):
                    entry = store.load(CACHE_NAMESPACE, key, check=_check_entry)
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
                        store.save(CACHE_NAMESPACE, keys[i], arrays=_entry_arrays(outcome[0]),
                                   meta={"names": outcome[0][0]})
                    progress.update()
        return outcomes

    def _features(self, X, settings, expected_names):
        """(names, features) of the cohort; every patient's problem is reported at once.

        Without ``expected_names`` (in ``fit``) the first patient's names are expected.
        """
        patients = X[PATIENT_COLUMN].tolist()
        jobs = self._jobs(X, settings)
        outcomes = self._extract_all(jobs)
        file_columns = (*self.image_columns, self.mask_column)
        problems = [_file_problem(patients[i], file_columns, *error)
                    for i, (_, error) in enumerate(outcomes) if error is not None]
        results = [(patients[i], result) for i, (result, _) in enumerate(outcomes)
                   if result is not None]
        if expected_names is None and results:
            expected_names = results[0][1][0]
        problems += [_names_problem(patient, names, expected_names)
                     for patient, (names, _) in results if names != expected_names]
        if problems:
            raise ValueError(f"{len(problems)} patient(s) with unusable images:\n  "
                             f"{list_problems(problems)}")
        if not outcomes:
            return expected_names, np.empty((0, len(expected_names)), dtype=np.float64)
        return expected_names, np.vstack([values for (_, values), _ in outcomes])

    def get_feature_names_out(self, input_features=None):
        """Get the names of the features.

        Parameters
        ----------
        input_features : None
            Ignored: the features do not derive from the input columns one to one.

        Returns
        -------
        names : numpy.ndarray of str, shape (n_features,)
            ``<sequence>_<PyRadiomics name>`` (``t1c_original_firstorder_Mean``) and, for
            shape features, ``<mask>_<PyRadiomics name>``.
        """
        check_is_fitted(self)
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags


def _file_problem(patient, file_columns, position, message):
    """'patient P3, column 'mask_path': <message>'."""
    where = "" if position is None else f", column '{file_columns[position]}'"
    return f"patient {patient}{where}: {message}"


def _names_problem(patient, names, expected):
    """Why a patient's feature names differ from the expected ones (a filter skipped...)."""
    missing = [name for name in expected if name not in names]
    extra = [name for name in names if name not in expected]
    details = [*([f"lacks {describe_names(missing)}"] if missing else []),
               *([f"has {describe_names(extra)} besides"] if extra else [])]
    return (f"patient {patient}: its features differ from those of the training cohort "
            f"({'; '.join(details) or 'in another order'}); a filter of the settings may not "
            "suit its image")
