"""The radiomics baseline: PyRadiomics features -> filters -> L1 logistic regression."""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ..transformers import CorrelationFilter, RadiomicsExtractor
from ._columns import SchemaColumns, clinical_preprocessor
from ._factories import _image_input_columns
from ._heads import BinaryLogisticRegression

__all__ = ["make_radiomics_model"]


def _radiomics_steps(settings, extractor_params, variance_threshold, correlation_threshold):
    params = dict(extractor_params or {})
    if "settings" in params:
        raise ValueError("pass the PyRadiomics settings as settings, not "
                         "extractor_params['settings']")
    return [
        ("radiomics", RadiomicsExtractor(settings=settings, **params)),
        # A feature PyRadiomics could not define for any training patient becomes constant
        # (0) and goes with the variance filter, instead of vanishing with a warning.
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("variance", VarianceThreshold(threshold=variance_threshold)),
        ("scale", StandardScaler()),
        ("correlation", CorrelationFilter(threshold=correlation_threshold)),
    ]


def make_radiomics_model(*, columns=None, settings=None, extractor_params=None,
                         variance_threshold=0.0, correlation_threshold=0.9, C=0.1,
                         include_clinical=False, random_state=None):
    """The radiomics baseline: PyRadiomics features of T1C and T2 -> L1 logistic regression.

    The pipeline extracts shape features of the tumour mask and first-order and texture
    features of each sequence (:class:`~tacelearn.transformers.RadiomicsExtractor`),
    imputes the few features PyRadiomics leaves undefined (median), drops constant features
    (:class:`~sklearn.feature_selection.VarianceThreshold`), standardises, keeps one
    feature of every group correlated above ``correlation_threshold``
    (:class:`~tacelearn.transformers.CorrelationFilter`) and fits an L1-penalised logistic
    regression, which selects the features it uses. Every step is fitted inside the
    pipeline, so that cross-validation and grid searches never select features with the
    patients they test on. It takes the cohort DataFrame like the paper's four models and is
    interchangeable with them.

    Parameters
    ----------
    columns : sequence of str, optional
        Clinical columns when ``include_clinical``; default every schema clinical column
        present in ``X``.
    settings : dict, str or path-like, optional
        PyRadiomics settings (a dict in its parameter-file form or a YAML file); default
        :func:`~tacelearn.transformers.default_radiomics_settings`.
    extractor_params : dict, optional
        Further :class:`~tacelearn.transformers.RadiomicsExtractor` parameters
        (``image_columns``, ``mask_column``, ``n_jobs``, ``memory``, ...).
    variance_threshold : float, default=0.0
        Features whose training variance (in their own units, before standardisation) is
        not above this are dropped; ``0`` drops constant features.
    correlation_threshold : float, default=0.9
        Largest absolute Pearson correlation allowed between kept radiomics features.
    C : float, default=0.1
        Inverse strength of the L1 penalty: smaller keeps fewer features. Tune it by
        cross-validation (see the Examples).
    include_clinical : bool, default=False
        Fuse the radiomics features with the clinical columns (imputed, one-hot encoded
        and standardised by :func:`clinical_preprocessor`) before the penalised regression,
        which then selects among both.
    random_state : int, optional
        Seed of the liblinear solver.

    Returns
    -------
    model : sklearn.pipeline.Pipeline
        Unfitted. Without clinical columns: steps ``radiomics``, ``impute``, ``variance``,
        ``scale``, ``correlation`` and ``classifier``. With them: steps ``features`` (a
        ColumnTransformer with a ``radiomics`` branch made of the first five steps and a
        ``clinical`` branch) and ``classifier``.

    See Also
    --------
    make_dltr_lr : The deep learning counterpart fused with clinical factors.
    tacelearn.transformers.RadiomicsExtractor : The features.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.model_selection import GridSearchCV
    >>> from tacelearn.datasets import make_tace_cohort
    >>> from tacelearn.estimators import make_radiomics_model
    >>> cohort = make_tace_cohort(tempfile.mkdtemp(), n_per_center=(12, 6, 6),
    ...                           image_shape=(32, 32, 8))
    >>> y = cohort["objective_response"].astype(int)
    >>> settings = {"setting": {"binWidth": 25, "normalize": True, "normalizeScale": 100},
    ...             "featureClass": {"shape": [], "firstorder": [], "glcm": ["Contrast"]}}
    >>> model = make_radiomics_model(settings=settings, random_state=0,
    ...                              extractor_params={"memory": tempfile.mkdtemp()})
    >>> search = GridSearchCV(model, {"classifier__C": [0.1, 1.0]}, cv=3, scoring="roc_auc")
    >>> search.fit(cohort, y).predict_proba(cohort).shape
    (24, 2)
    """
    steps = _radiomics_steps(settings, extractor_params, variance_threshold,
                             correlation_threshold)
    classifier = BinaryLogisticRegression(C=C, l1_ratio=1.0, solver="liblinear",
                                          random_state=random_state)
    if not include_clinical:
        return Pipeline([*steps, ("classifier", classifier)])
    features = ColumnTransformer(
        [
            ("radiomics", Pipeline(steps), _image_input_columns(steps[0][1])),
            ("clinical", clinical_preprocessor(), SchemaColumns(columns)),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("features", features), ("classifier", classifier)])
