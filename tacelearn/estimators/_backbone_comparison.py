"""The paper's pre-experiment (Table S2): CNN backbones compared by cross-validated AUC.

Candidates may differ in more than the backbone: each may bring its own patches (2D, 2.5D,
3D) and lesion aggregation, so that the same folds and DeLong tests compare input geometries
and lesion-level models too. Patches are extracted once per distinct extractor setting.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import check_cv
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ..metrics import delong_roc_ci, delong_roc_test, delong_roc_variance
from ..transformers import PAPER_BACKBONES, check_backbone_name
from ._factories import _encoder, _extractor

__all__ = ["compare_backbones"]

#: Columns of the table :func:`compare_backbones` returns, in order.
COMPARISON_COLUMNS = ("auc", "auc_ci_low", "auc_ci_high", "fold_auc_mean", "fold_auc_sd",
                      "training_seconds", "pvalue_vs_best")
#: What a candidate given as a dict may set.
CANDIDATE_KEYS = ("backbone", "pretrained", "patch_size", "extractor_params", "encoder_params",
                  "lesion_aggregation")


@dataclass(frozen=True)
class _Candidate:
    """One row of the comparison: its patches and its CNN."""

    backbone: str
    patch_size: object
    extractor_params: dict
    encoder_params: dict
    lesion_aggregation: str

    def extractor_key(self):
        """Candidates with equal keys share one extraction."""
        return repr((self.patch_size, sorted(self.extractor_params.items(), key=str),
                     self.lesion_aggregation == "largest"))


def _own_settings(label, value, shared):
    """A candidate's settings from a ``backbones`` dict value: a weights file or a dict."""
    if not isinstance(value, Mapping):
        if "pretrained" in shared["encoder_params"]:
            raise ValueError("backbones maps each name to its pretrained weights file; do not "
                             "also pass encoder_params['pretrained']")
        value = {"pretrained": value}
    unknown = sorted(set(value) - set(CANDIDATE_KEYS))
    if unknown:
        raise ValueError(f"candidate {label!r} sets {unknown}; a candidate may set "
                         f"{', '.join(CANDIDATE_KEYS)}")
    weights = value.get("pretrained")
    if weights is not None and not Path(weights).is_file():
        raise FileNotFoundError(f"pretrained weights file of backbone {label!r} not found: "
                                f"{weights}")
    encoder_params = {**shared["encoder_params"], **value.get("encoder_params", {})}
    if "pretrained" in value:
        encoder_params["pretrained"] = weights
    return _Candidate(
        backbone=value.get("backbone", label),
        patch_size=value.get("patch_size", shared["patch_size"]),
        extractor_params={**shared["extractor_params"], **value.get("extractor_params", {})},
        encoder_params=encoder_params,
        lesion_aggregation=value.get("lesion_aggregation", shared["lesion_aggregation"]))


def _check_candidates(backbones, shared):
    """``{label: _Candidate}`` in the order given, every backbone name checked."""
    if isinstance(backbones, Mapping):
        candidates = {label: _own_settings(label, value, shared)
                      for label, value in backbones.items()}
        labels = tuple(candidates)
    else:
        labels = (backbones,) if isinstance(backbones, str) else tuple(backbones)
        candidates = {label: _Candidate(backbone=label, **shared) for label in labels}
    if not labels:
        raise ValueError("backbones must name at least one timm model")
    for candidate in candidates.values():
        check_backbone_name(candidate.backbone)
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"backbones lists {', '.join(repeated)} more than once")
    return candidates


def _check_labels(y, cohort):
    missing = np.flatnonzero(pd.isna(np.asarray(y, dtype=object)).ravel())
    if missing.size:
        names = (cohort["patient_id"] if "patient_id" in cohort else cohort.index.to_series())
        listed = ", ".join(str(name) for name in names.iloc[missing[:5]])
        raise ValueError(f"y is missing for {missing.size} patient(s) ({listed}"
                         f"{', ...' if missing.size > 5 else ''}); leave unlabelled patients "
                         "out of the comparison")
    y = column_or_1d(y, warn=True)
    if y.shape[0] != len(cohort):
        raise ValueError(f"y has {y.shape[0]} labels but the cohort has {len(cohort)} patients")
    check_classification_targets(y)
    classes = np.unique(y)
    if classes.size != 2:
        raise ValueError(f"compare_backbones needs a binary outcome; y holds {classes.size} "
                         f"class{'es' if classes.size != 1 else ''}: {classes.tolist()}")
    return y, classes


def _check_folds(folds, y, n_patients):
    tested = np.concatenate([test for _, test in folds])
    if tested.size != n_patients or np.unique(tested).size != n_patients:
        raise ValueError("cv must put every patient in exactly one test fold (a partition, "
                         "as KFold, StratifiedKFold or GroupKFold do)")
    for number, (_, test) in enumerate(folds, start=1):
        if np.unique(y[test]).size < 2:
            raise ValueError(f"test fold {number} of {len(folds)} holds patients of one class "
                             f"only ({y[test][0]}); its AUC is undefined: use fewer folds")


def _fit_fold(template, patches, y, train, test):
    """Out-of-fold probabilities of ``test`` and the seconds the fit on ``train`` took."""
    encoder = clone(template)
    start = time.perf_counter()
    encoder.fit(patches[train], y[train])
    seconds = time.perf_counter() - start
    return encoder.predict_proba(patches[test])[:, 1], seconds


def compare_backbones(cohort, y, *, backbones=PAPER_BACKBONES, cv=5, groups=None,
                      patch_size=128, extractor_params=None, encoder_params=None,
                      random_state=None, n_jobs=None, return_scores=False,
                      lesion_aggregation="largest"):
    """Compare CNN backbones for DLTR by cross-validated AUC with DeLong inference.

    The paper's pre-experiment (Table S2) chose DenseNet169 over ResNet18, ResNet50 and Swin-T
    by the AUC of each backbone fine-tuned on the tumour patches. This runs that comparison
    under cross-validation: the patches are extracted once, every backbone is fine-tuned on
    the same folds, and the out-of-fold probabilities of all patients are pooled, so that the
    backbones' AUCs are paired on the same patients and compared by DeLong's test.

    Parameters
    ----------
    cohort : pandas.DataFrame
        One row per patient with ``patient_id`` and the image and mask path columns.
    y : array-like of shape (n_patients,)
        Binary outcome (``objective_response``); the greater label is the case.
    backbones : sequence of str or dict, default=("resnet18", "resnet50", "densenet169", \
"swin_tiny_patch4_window7_224")
        Names of timm models (or ``"monai:..."`` 3D networks); the default is the paper's
        four. A dict maps each name to its own local pretrained weights file (or None), as the
        paper fine-tuned ImageNet weights:
        ``{"resnet18": "weights/resnet18.pth", "densenet169": "weights/densenet169.pth"}``,
        or maps a row label to a dict of that candidate's own settings, among
        ``"backbone"`` (default: the label), ``"pretrained"``, ``"patch_size"``,
        ``"extractor_params"`` and ``"encoder_params"`` (merged over the shared ones) and
        ``"lesion_aggregation"``: 2D, 2.5D and 3D input compared on the same folds is
        ``{"2D": {"backbone": "resnet18"}, "2.5D": {"backbone": "resnet18",
        "extractor_params": {"context_slices": 1}}, "3D": {"backbone": "monai:resnet18",
        "patch_size": (32, 32, 16), "extractor_params": {"mode": "3d", "spacing": 3.0}}}``.
    cv : int, cross-validation generator or iterable, default=5
        Folds, the same for every backbone. An int means
        :class:`~sklearn.model_selection.StratifiedKFold` without shuffling, as in
        scikit-learn; pass ``StratifiedKFold(5, shuffle=True, random_state=0)`` to shuffle a
        cohort sorted by centre, or a grouped splitter with ``groups``. Every patient must be
        in exactly one test fold, and every test fold must hold both classes.
    groups : array-like of shape (n_patients,), optional
        Group labels for a grouped splitter (e.g. ``cohort["center"]``).
    patch_size : int or tuple of 3 int, default=128
        Side of the square patches in pixels (``(x, y, z)`` voxels for 3D patches).
    extractor_params : dict, optional
        Further :class:`~tacelearn.transformers.TumourPatchExtractor` parameters; its
        ``lesion`` mode follows from ``lesion_aggregation``.
    encoder_params : dict, optional
        Further :class:`~tacelearn.transformers.CNNEncoder` parameters for every backbone
        (epochs, learning rate, ``device``, ``memory``...). Pretrained weights fit one
        architecture each: name them in a ``backbones`` dict, not here.
    random_state : int, optional
        Seed of every CNN's initialisation, augmentation and batches.
    n_jobs : int, optional
        Trainings run in parallel (joblib), one task per backbone and fold, all in one pool;
        ``None`` means 1 unless in a joblib context (a Dask cluster runs them on its workers).
    return_scores : bool, default=False
        Also return the out-of-fold probabilities.
    lesion_aggregation : {"largest", "max", "volume_mean", "attention"}, default="largest"
        How each CNN scores a patient with several lesions, as in :func:`make_dltr`.

    Returns
    -------
    table : pandas.DataFrame
        One row per backbone (or candidate label), indexed by name, in the order given, with
        columns

        - ``auc``: AUC of the pooled out-of-fold probabilities;
        - ``auc_ci_low``, ``auc_ci_high``: its DeLong 95% confidence interval;
        - ``fold_auc_mean``, ``fold_auc_sd``: mean and standard deviation (``ddof=1``) of the
          AUCs of the test folds;
        - ``training_seconds``: seconds spent fitting, summed over folds (near 0 for fits
          loaded from an encoder ``memory``);
        - ``pvalue_vs_best``: two-sided DeLong p-value of the difference from the backbone
          with the highest ``auc``; NaN on that backbone's row. No correction for multiple
          comparisons.
    scores : pandas.DataFrame of shape (n_patients, n_backbones)
        Only with ``return_scores``: out-of-fold probabilities of the case, indexed like
        ``cohort``, one column per backbone (for
        :func:`~tacelearn.metrics.delong_test_matrix` or ROC curves).

    See Also
    --------
    make_dltr : The DLTR model with the chosen backbone.
    tacelearn.metrics.delong_roc_test : The paired test behind ``pvalue_vs_best``.

    Notes
    -----
    The pooled AUC ranks all patients' out-of-fold scores together; it is what the DeLong
    interval and test apply to. The per-fold AUCs show the spread between folds. Training a
    CNN is the cost: ``len(backbones) x n_folds`` fits. The validation of names, labels and
    folds happens before any patch is extracted or network trained.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.model_selection import StratifiedKFold
    >>> from tacelearn.datasets import make_tace_cohort
    >>> from tacelearn.estimators import compare_backbones

    Two of timm's tiny test networks stand in for the paper's backbones, on 16 patients:

    >>> cohort = make_tace_cohort(tempfile.mkdtemp(), n_per_center=(8, 4, 4),
    ...                           image_shape=(32, 32, 8))
    >>> table = compare_backbones(
    ...     cohort, cohort["objective_response"], backbones=("test_resnet", "test_efficientnet"),
    ...     cv=StratifiedKFold(2, shuffle=True, random_state=0), patch_size=32,
    ...     encoder_params={"max_epochs": 1, "batch_size": 8}, random_state=0)
    >>> table.index.tolist()
    ['test_resnet', 'test_efficientnet']
    >>> table.columns.tolist()
    ['auc', 'auc_ci_low', 'auc_ci_high', 'fold_auc_mean', 'fold_auc_sd', \
'training_seconds', 'pvalue_vs_best']
    """
    if not isinstance(cohort, pd.DataFrame):
        raise TypeError(f"cohort must be a pandas DataFrame, got {type(cohort).__name__}")
    candidates = _check_candidates(backbones, {
        "patch_size": patch_size, "extractor_params": dict(extractor_params or {}),
        "encoder_params": dict(encoder_params or {}), "lesion_aggregation": lesion_aggregation})
    names = tuple(candidates)
    y, classes = _check_labels(y, cohort)
    templates, extractors = {}, {}
    for name, candidate in candidates.items():
        templates[name] = _encoder(candidate.backbone, "proba", random_state,
                                   candidate.encoder_params, candidate.lesion_aggregation)
        # Bad settings fail now, not after the first backbone.
        templates[name]._validate_params()
        templates[name]._check_params()
        extractors.setdefault(candidate.extractor_key(), _extractor(
            candidate.patch_size, candidate.extractor_params,
            candidate.lesion_aggregation).fit(cohort))
    splitter = check_cv(cv, y, classifier=True)
    folds = list(splitter.split(np.zeros((len(y), 1)), y, groups))
    _check_folds(folds, y, len(y))

    patches = {key: extractor.fit_transform(cohort) for key, extractor in extractors.items()}
    # One pool over every (backbone, fold) pair: with two backbones and five folds all ten
    # trainings run side by side, not five at a time (the same on a Dask cluster).
    jobs = [(column, fold) for column in range(len(names)) for fold in range(len(folds))]
    results = Parallel(n_jobs=n_jobs)(
        delayed(_fit_fold)(templates[names[column]],
                           patches[candidates[names[column]].extractor_key()], y, *folds[fold])
        for column, fold in jobs
    )
    scores = np.empty((len(y), len(names)))
    seconds = np.zeros(len(names))
    for (column, fold), (fold_scores, fold_seconds) in zip(jobs, results):
        scores[folds[fold][1], column] = fold_scores
        seconds[column] += fold_seconds
    rows = []
    for column in range(len(names)):
        fold_aucs = [delong_roc_variance(y[test], scores[test, column], pos_label=classes[1])[0]
                     for _, test in folds]
        auc = delong_roc_variance(y, scores[:, column], pos_label=classes[1])[0]
        low, high = delong_roc_ci(y, scores[:, column], pos_label=classes[1])
        rows.append([auc, low, high, np.mean(fold_aucs), np.std(fold_aucs, ddof=1),
                     seconds[column], np.nan])

    table = pd.DataFrame(rows, index=pd.Index(names, name="backbone"),
                         columns=list(COMPARISON_COLUMNS))
    best = int(np.argmax(table["auc"].to_numpy()))
    for column in range(len(names)):
        if column != best:
            table.iloc[column, table.columns.get_loc("pvalue_vs_best")] = delong_roc_test(
                y, scores[:, best], scores[:, column], pos_label=classes[1]).pvalue
    if return_scores:
        return table, pd.DataFrame(scores, index=cohort.index, columns=list(names))
    return table
