"""The paper's four models as scikit-learn Pipelines over the cohort DataFrame.

Every image model takes ``lesion_aggregation``: ``"largest"`` (the paper's: one patch of the
largest lesion per patient) or a rule that pools all of a patient's lesions inside the CNN
(``"max"``, ``"volume_mean"``, ``"attention"``; see
:class:`~tacelearn.transformers.CNNEncoder`). The extractor then hands the encoder lesion
bags, one row per patient, so the pipelines keep one row per patient throughout.
"""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ..transformers import (
    ClinicalCutoffEncoder,
    OutOfFoldTransformer,
    TumourPatchExtractor,
    UnivariateSelector,
)
from ._branch import ImageBranch
from ._columns import SchemaColumns, clinical_preprocessor
from ._heads import BinaryLogisticRegression, BinaryMLPClassifier

__all__ = [
    "make_clinical_model",
    "make_dltr",
    "make_dltr_lr",
    "make_dltr_mlp",
]

#: Folds of the out-of-fold CNN outputs that train the fusion heads (see ``cv``).
DEFAULT_FUSION_CV = 5
_IMAGE_OUTPUTS = ("logit", "embedding")
#: How an image model turns a patient's lesions into its score.
LESION_AGGREGATIONS = ("largest", "max", "volume_mean", "attention")


def _check_options(name, value, options):
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")


def _extractor(patch_size, extractor_params, lesion_aggregation="largest"):
    _check_options("lesion_aggregation", lesion_aggregation, LESION_AGGREGATIONS)
    params = dict(extractor_params or {})
    if "size" in params:
        raise ValueError("pass the patch size as patch_size, not extractor_params['size']")
    lesion = "largest" if lesion_aggregation == "largest" else "bags"
    if params.get("lesion", lesion) != lesion:
        raise ValueError(f"extractor_params['lesion']={params['lesion']!r} contradicts "
                         f"lesion_aggregation={lesion_aggregation!r}: pass lesion_aggregation "
                         "alone, the extractor's lesion mode follows from it")
    params["lesion"] = lesion
    if isinstance(patch_size, list):
        patch_size = tuple(patch_size)
    return TumourPatchExtractor(size=patch_size, **params)


def _encoder(backbone, output, random_state, encoder_params, lesion_aggregation="largest"):
    params = dict(encoder_params or {})
    for name in ("backbone", "output", "random_state", "lesion_aggregation"):
        if name in params:
            raise ValueError(f"pass {name} as an argument of the factory, not in encoder_params")
    # Imported here: building the clinical model must not import torch and timm.
    from ..transformers import CNNEncoder

    pooling = None if lesion_aggregation == "largest" else lesion_aggregation
    return CNNEncoder(backbone=backbone, output=output, random_state=random_state,
                      lesion_aggregation=pooling, **params)


def _image_input_columns(extractor):
    """The cohort columns the image branch reads: patient ids, sequences and mask."""
    columns = ["patient_id", *extractor.image_columns, extractor.mask_column]
    return SchemaColumns(columns, required=True)


def _clinical_steps(screen, alpha, dichotomise, unknown_categories):
    steps = []
    if dichotomise:
        steps.append(("cutoffs", ClinicalCutoffEncoder()))
    if screen:
        # Screening passes whole variables on by name to the encoders after it.
        steps.append(("screen", UnivariateSelector(alpha=alpha).set_output(transform="pandas")))
    steps.append(("preprocess", clinical_preprocessor(unknown_categories=unknown_categories)))
    return steps


def _logistic_head(C):
    return BinaryLogisticRegression(C=C, max_iter=1000)


def make_clinical_model(*, columns=None, screen=True, alpha=0.05, dichotomise=True, C=1.0,
                        unknown_categories="warn"):
    """The clinical model: univariately screened clinical factors -> logistic regression.

    The pipeline picks the clinical columns from the cohort, turns laboratory values into
    abnormal flags at the schema's clinical cut-offs (ALT > 50 U/L, ...;
    :class:`~tacelearn.transformers.ClinicalCutoffEncoder`), keeps the factors associated with
    the response in univariate analysis (:class:`~tacelearn.transformers.UnivariateSelector`:
    chi-square or Fisher for categories, Mann-Whitney for numbers, ``P < alpha``), then
    imputes, one-hot encodes and standardises (:func:`clinical_preprocessor`) and fits a
    logistic regression, as the paper's clinical model did (it kept ALT, ascites, BCLC stage
    and portal venous invasion).

    Screening comes before encoding so that whole variables are tested (BCLC stage as one
    r x 2 table), not their dummy columns one by one.

    Parameters
    ----------
    columns : sequence of str, optional
        Clinical columns to consider; default every schema clinical column present in ``X``.
    screen : bool, default=True
        Whether to screen the columns; ``False`` fits on all of them.
    alpha : float, default=0.05
        Significance level of the screening.
    dichotomise : bool, default=True
        Model laboratory values as abnormal flags (``alt_abnormal``...), as the paper did;
        ``False`` keeps raw values (log-transformed when skewed).
    C : float, default=1.0
        Inverse regularisation strength of the logistic regression (L2).
    unknown_categories : {"warn", "error", "ignore"}, default="warn"
        What a categorical value never seen in training (BCLC stage "E") does at prediction
        (see :class:`TextCategories`); it is encoded as no category.

    Returns
    -------
    model : sklearn.pipeline.Pipeline
        Unfitted; steps ``columns``, ``cutoffs`` (when ``dichotomise``), ``screen`` (when
        ``screen``), ``preprocess``, ``classifier``. After fitting,
        ``model.named_steps["screen"].get_feature_names_out()`` names the kept factors and
        ``model[:-1].get_feature_names_out()`` the columns the classifier sees.

    Examples
    --------
    >>> import warnings
    >>> from tacelearn.datasets import read_hcc_tace_seg
    >>> from tacelearn.estimators import make_clinical_model
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     cohort = read_hcc_tace_seg("../shared/data/hcc-tace-seg/clinical.csv")
    >>> labelled = cohort[cohort["objective_response"].notna()]
    >>> model = make_clinical_model().fit(labelled, labelled["objective_response"].astype(int))
    >>> model.predict_proba(labelled).shape
    (96, 2)
    """
    columns_step = ColumnTransformer(
        [("clinical", "passthrough", SchemaColumns(columns))],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    return Pipeline([
        ("columns", columns_step),
        *_clinical_steps(screen, alpha, dichotomise, unknown_categories),
        ("classifier", _logistic_head(C)),
    ])


def make_dltr(*, backbone="densenet169", patch_size=128, extractor_params=None,
              encoder_params=None, random_state=None, lesion_aggregation="largest"):
    """DLTR: tumour patches from T1C and T2 MRI -> a fine-tuned CNN.

    Parameters
    ----------
    backbone : str, default="densenet169"
        Name of a timm model (the paper's pre-experiment chose DenseNet169 over ResNet18,
        ResNet50 and Swin), or ``"monai:<architecture>"`` for a 3D network on 3D patches
        (with ``extractor_params={"mode": "3d", ...}``).
    patch_size : int or tuple of 3 int, default=128
        Side of the square patches in pixels (the public code cropped 128 px); for 3D
        patches, voxels along ``(x, y, z)`` or one int for a cube.
    extractor_params : dict, optional
        Further :class:`~tacelearn.transformers.TumourPatchExtractor` parameters (sequences,
        2.5D context, 3D mode, margin, spacing, normalisation, cache folder, ...).
    encoder_params : dict, optional
        Further :class:`~tacelearn.transformers.CNNEncoder` parameters (epochs, learning rate,
        pretrained weights file, device, ...).
    random_state : int, optional
        Seed of the CNN's initialisation, augmentation and batches.
    lesion_aggregation : {"largest", "max", "volume_mean", "attention"}, default="largest"
        ``"largest"``: the patient's score is that of its largest lesion, as in the paper.
        Otherwise every lesion is scored and the scores are pooled by this rule inside the
        CNN, trained end to end (the extractor's ``lesion="bags"``; see
        :class:`~tacelearn.transformers.CNNEncoder` and :func:`lesion_table`).

    Returns
    -------
    model : sklearn.pipeline.Pipeline
        Unfitted; steps ``patches`` and ``encoder``; ``predict_proba`` gives the DLTR score,
        one row per patient whatever ``lesion_aggregation``.

    Examples
    --------
    >>> import tempfile
    >>> from tacelearn.datasets import make_tace_cohort
    >>> from tacelearn.estimators import make_dltr
    >>> cohort = make_tace_cohort(tempfile.mkdtemp(), n_per_center=(8, 4, 4),
    ...                           image_shape=(32, 32, 8))
    >>> model = make_dltr(backbone="test_resnet", patch_size=32, random_state=0,
    ...                   encoder_params={"max_epochs": 1, "batch_size": 16})
    >>> model.fit(cohort, cohort["objective_response"].astype(int)).predict_proba(cohort).shape
    (16, 2)
    """
    return Pipeline([
        ("patches", _extractor(patch_size, extractor_params, lesion_aggregation)),
        ("encoder", _encoder(backbone, "proba", random_state, encoder_params,
                             lesion_aggregation)),
    ])


def image_branch(*, output="logit", cv=DEFAULT_FUSION_CV, backbone="densenet169",
                 patch_size=128, extractor_params=None, encoder_params=None,
                 random_state=None, lesion_aggregation="largest"):
    """The image branch of the fusion models: patches -> CNN output -> standardised.

    Parameters
    ----------
    output : {"logit", "embedding"}, default="logit"
        What the CNN passes on: the log-odds of response (one column) or the pre-logit
        embedding (1664 columns for DenseNet169).
    cv : int, cross-validation generator or None, default=5
        With folds, the outputs that train the next step are out-of-fold
        (:class:`~tacelearn.transformers.OutOfFoldTransformer`) and the CNN is then refitted
        on all the data; ``None`` passes in-sample outputs, as the paper did.
    backbone : str, default="densenet169"
        CNN of the encoder: a timm model name or ``"monai:<architecture>"``, as in
        :func:`make_dltr`.
    patch_size : int or tuple of 3 int, default=128
        Patch side in pixels (or 3D patch shape), as in :func:`make_dltr`.
    extractor_params : dict, optional
        Further :class:`~tacelearn.transformers.TumourPatchExtractor` parameters, as in
        :func:`make_dltr`.
    encoder_params : dict, optional
        Further :class:`~tacelearn.transformers.CNNEncoder` parameters, as in
        :func:`make_dltr`.
    random_state : int, optional
        Seed of the CNN's initialisation, augmentation and batches.
    lesion_aggregation : {"largest", "max", "volume_mean", "attention"}, default="largest"
        How the CNN output of a patient comes from its lesions, as in :func:`make_dltr`.

    Returns
    -------
    branch : ImageBranch
        Unfitted; steps ``patches``, ``encoder`` and ``scale``: a Pipeline whose table output
        (``set_output(transform="pandas")``) keeps the cohort's index.

    See Also
    --------
    make_dltr_lr, make_dltr_mlp : The fusion models this branch feeds.

    Examples
    --------
    >>> from tacelearn.estimators import image_branch
    >>> branch = image_branch(backbone="resnet18", patch_size=32, cv=3)
    >>> list(branch.named_steps)
    ['patches', 'encoder', 'scale']
    >>> type(branch.named_steps["encoder"]).__name__, branch.named_steps["encoder"].cv
    ('OutOfFoldTransformer', 3)
    >>> type(image_branch(cv=None).named_steps["encoder"]).__name__
    'CNNEncoder'
    """
    _check_options("output", output, _IMAGE_OUTPUTS)
    extractor = _extractor(patch_size, extractor_params, lesion_aggregation)
    encoder = _encoder(backbone, output, random_state, encoder_params, lesion_aggregation)
    if cv is not None:
        encoder = OutOfFoldTransformer(encoder, cv=cv)
    return ImageBranch([
        ("patches", extractor),
        ("encoder", encoder),
        ("scale", StandardScaler()),
    ])


def _fusion_features(branch, clinical, columns):
    return ColumnTransformer(
        [
            ("image", branch, _image_input_columns(branch.named_steps["patches"])),
            ("clinical", clinical, SchemaColumns(columns)),
        ],
        verbose_feature_names_out=False,
    )


def make_dltr_lr(*, columns=None, screen=True, alpha=0.05, dichotomise=True, C=1.0,
                 cv=DEFAULT_FUSION_CV, backbone="densenet169", patch_size=128,
                 extractor_params=None, encoder_params=None, random_state=None,
                 unknown_categories="warn", lesion_aggregation="largest"):
    """DLTR_LR: the CNN's log-odds of response + screened clinical factors -> logistic regression.

    Parameters
    ----------
    columns : sequence of str, optional
        Clinical columns to consider; default every schema clinical column present in ``X``
        (as in :func:`make_clinical_model`).
    screen : bool, default=True
        Whether to screen the clinical columns univariately; ``False`` keeps all of them.
    alpha : float, default=0.05
        Significance level of the screening.
    dichotomise : bool, default=True
        Model laboratory values as abnormal flags at the clinical cut-offs, as the paper
        did; ``False`` keeps raw values.
    C : float, default=1.0
        Inverse regularisation strength (L2) of the logistic regression head.
    cv : int, cross-validation generator or None, default=5
        Out-of-fold CNN outputs for the head (see :func:`image_branch`). The default is
        honest stacking: a head fitted on in-sample CNN scores, as in the paper, learns to
        trust scores that are better than any it will see on new patients. ``cv=None``
        reproduces the paper's procedure at a sixth of the training cost.
    backbone : str, default="densenet169"
        CNN of the image branch, as in :func:`make_dltr`.
    patch_size : int or tuple of 3 int, default=128
        Patch side in pixels (or 3D patch shape), as in :func:`make_dltr`.
    extractor_params : dict, optional
        Further :class:`~tacelearn.transformers.TumourPatchExtractor` parameters, as in
        :func:`make_dltr`.
    encoder_params : dict, optional
        Further :class:`~tacelearn.transformers.CNNEncoder` parameters, as in
        :func:`make_dltr`.
    random_state : int, optional
        Seed of the CNN's initialisation, augmentation and batches.
    unknown_categories : {"warn", "error", "ignore"}, default="warn"
        What a categorical value never seen in training does at prediction, as in
        :func:`make_clinical_model`.
    lesion_aggregation : {"largest", "max", "volume_mean", "attention"}, default="largest"
        How the CNN score of a patient comes from its lesions, as in :func:`make_dltr`.

    Returns
    -------
    model : sklearn.pipeline.Pipeline
        Unfitted; steps ``features`` (a ColumnTransformer with the ``image`` and ``clinical``
        branches) and ``classifier``.

    Examples
    --------
    >>> from tacelearn.estimators import make_dltr_lr
    >>> model = make_dltr_lr(backbone="resnet18", patch_size=32)
    >>> list(model.named_steps)
    ['features', 'classifier']
    """
    branch = image_branch(output="logit", cv=cv, backbone=backbone, patch_size=patch_size,
                          extractor_params=extractor_params, encoder_params=encoder_params,
                          random_state=random_state, lesion_aggregation=lesion_aggregation)
    return Pipeline([
        ("features", _fusion_features(
            branch, Pipeline(_clinical_steps(screen, alpha, dichotomise, unknown_categories)),
            columns)),
        ("classifier", _logistic_head(C)),
    ])


def make_dltr_mlp(*, columns=None, image_output="logit", hidden_layer_sizes=(64,),
                  mlp_alpha=10.0, max_iter=500, cv=DEFAULT_FUSION_CV, backbone="densenet169",
                  patch_size=128, extractor_params=None, encoder_params=None,
                  random_state=None, unknown_categories="warn", lesion_aggregation="largest"):
    """DLTR_MLP: CNN output fused with every clinical variable by a multilayer perceptron.

    The public code fed 2 CNN logits and 24 clinical values to a 512-512 MLP with batch
    normalisation and dropout 0.1; scikit-learn's :class:`~sklearn.neural_network.MLPClassifier`
    has neither, so a strong L2 penalty (``mlp_alpha``) regularises instead: with a few hundred
    patients and a 512-512 network a weak penalty memorises the training set. The default head
    (64 units, ``mlp_alpha=10``) is the one of ``benchmarks/mlp_head.py`` that gives
    probabilities a clinician can read (no score below 0.02 or above 0.98 on the demo, against
    32 % for a 512-512 head with ``mlp_alpha=1``) without losing AUC; the paper's shape is
    ``hidden_layer_sizes=(512, 512)``. One log-odds column carries the same information as two
    softmax logits.

    Parameters
    ----------
    columns : sequence of str, optional
        Clinical columns; default every schema clinical column present in ``X``.
    image_output : {"logit", "embedding"}, default="logit"
        CNN output passed to the MLP.
    hidden_layer_sizes : tuple of int, default=(64,)
        Hidden layers of the MLP.
    mlp_alpha : float, default=10.0
        L2 penalty of the MLP (scikit-learn's ``MLPClassifier(alpha=...)``; tacelearn keeps
        ``alpha`` for significance levels).
    max_iter : int, default=500
        Epochs of the MLP's Adam solver (it stops earlier once the loss stops improving).
    cv : int, cross-validation generator or None, default=5
        Out-of-fold CNN outputs for the head, as in :func:`make_dltr_lr`.
    backbone : str, default="densenet169"
        CNN of the image branch, as in :func:`make_dltr`.
    patch_size : int or tuple of 3 int, default=128
        Patch side in pixels (or 3D patch shape), as in :func:`make_dltr`.
    extractor_params : dict, optional
        Further :class:`~tacelearn.transformers.TumourPatchExtractor` parameters, as in
        :func:`make_dltr`.
    encoder_params : dict, optional
        Further :class:`~tacelearn.transformers.CNNEncoder` parameters, as in
        :func:`make_dltr`.
    random_state : int, optional
        Seed of the CNN's initialisation, augmentation and batches, and of the MLP's
        weight initialisation.
    unknown_categories : {"warn", "error", "ignore"}, default="warn"
        What a categorical value never seen in training does at prediction, as in
        :func:`make_clinical_model`.
    lesion_aggregation : {"largest", "max", "volume_mean", "attention"}, default="largest"
        How the CNN output of a patient comes from its lesions, as in :func:`make_dltr`.

    Returns
    -------
    model : sklearn.pipeline.Pipeline
        Unfitted; steps ``features`` and ``classifier``.

    Examples
    --------
    >>> from tacelearn.estimators import make_dltr_mlp
    >>> model = make_dltr_mlp(hidden_layer_sizes=(64,), backbone="resnet18")
    >>> model.named_steps["classifier"].hidden_layer_sizes
    (64,)
    """
    _check_options("image_output", image_output, _IMAGE_OUTPUTS)
    branch = image_branch(output=image_output, cv=cv, backbone=backbone,
                          patch_size=patch_size, extractor_params=extractor_params,
                          encoder_params=encoder_params, random_state=random_state,
                          lesion_aggregation=lesion_aggregation)
    head = BinaryMLPClassifier(hidden_layer_sizes=hidden_layer_sizes, alpha=mlp_alpha,
                               max_iter=max_iter, random_state=random_state)
    return Pipeline([
        ("features", _fusion_features(
            branch, clinical_preprocessor(unknown_categories=unknown_categories), columns)),
        ("classifier", head),
    ])
