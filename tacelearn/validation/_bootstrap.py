"""Optimism-corrected internal validation: Harrell's bootstrap (R's ``rms::validate``) and the
.632+ estimator of Efron & Tibshirani (1997), refitting the whole pipeline on every resample."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import _num_samples

from ..stats import DEFAULT_LOGIT_EPSILON
from ..utils import call_capturing_warnings, check_binary_outcome, reraise_warnings
from ._performance import (
    case_label_of,
    case_probability,
    check_metric_names,
    evaluate_metrics,
    fit_and_predict,
    rank_auc,
)

__all__ = ["DEFAULT_METRICS", "BootstrapValidationResult", "bootstrap_validate"]

#: Metrics of :func:`bootstrap_validate` unless asked otherwise.
DEFAULT_METRICS = ("auc", "calibration_slope", "calibration_intercept", "brier")
#: Errors of a resample's fit that skip the resample instead of stopping the validation.
RESAMPLE_ERRORS = (ValueError, np.linalg.LinAlgError)


class _Resample(NamedTuple):
    probabilities: np.ndarray | None  # the refit's case probabilities for every patient
    training: np.ndarray | None  # metrics on the resample (the refit's own training data)
    test: np.ndarray | None  # metrics on the original patients
    out_of_bag_auc: float
    error: str | None


@dataclass(frozen=True)
class BootstrapValidationResult:
    """Result of :func:`bootstrap_validate`.

    Made by :func:`bootstrap_validate`; each parameter is kept as an attribute of the same
    name.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per metric (index ``metric``), the columns of ``rms::validate``: ``apparent``
        (the model fitted and evaluated on all patients), ``training`` (mean over resamples of
        the refit evaluated on its own resample), ``test`` (mean of the refit evaluated on the
        original patients), ``optimism`` (mean of training - test), ``corrected`` (apparent -
        optimism) and ``n`` (resamples where the metric was defined on both).
    estimates_632plus : pandas.DataFrame
        The .632+ estimates of the AUC and the Brier score (index ``metric``): ``apparent``,
        ``out_of_bag`` (the leave-one-out bootstrap performance), ``no_information`` (0.5 for the
        AUC; the Brier score of predictions permuted across patients), ``relative_overfitting``
        (R'), ``weight`` (w = 0.632 / (1 - 0.368 R')) and ``estimate``.
    resamples : pandas.DataFrame
        Per successful resample (index ``resample``, the resample's number): each metric's
        ``training`` and ``test`` value (columns ``<metric>_training``, ``<metric>_test``) and
        the out-of-bag AUC.
    n_bootstraps : int
        Resamples drawn.
    n_successful : int
        Resamples whose refit succeeded.
    n_failed : int
        Resamples skipped: one class only, or a refit that raised ValueError.
    failures : tuple of (int, str)
        Resample number and reason of each skipped resample.

    See Also
    --------
    bootstrap_validate : Computes it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from tacelearn.validation import bootstrap_validate
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 2))
    >>> y = rng.random(60) < 1 / (1 + np.exp(-X[:, 0]))
    >>> result = bootstrap_validate(LogisticRegression(), X, y, n_bootstraps=5, random_state=0)
    >>> result.n_bootstraps, result.n_successful, result.failures
    (5, 5, ())
    >>> list(result.table.columns)
    ['apparent', 'training', 'test', 'optimism', 'corrected', 'n']
    >>> list(result.estimates_632plus.index)
    ['auc', 'brier']
    """

    table: pd.DataFrame
    estimates_632plus: pd.DataFrame
    resamples: pd.DataFrame
    n_bootstraps: int
    n_successful: int
    n_failed: int
    failures: tuple


def _evaluate_resample(estimator, X, y, is_case, indices, case_label, metrics, epsilon):
    """Refit on one resample; the refit's metrics on it and on the original patients."""
    try:
        probabilities = fit_and_predict(estimator, X, y, indices, case_label)
    except RESAMPLE_ERRORS as error:
        return _Resample(None, None, None, np.nan, f"{type(error).__name__}: {error}")
    out_of_bag = np.ones(is_case.shape[0], dtype=bool)
    out_of_bag[indices] = False
    return _Resample(
        probabilities=probabilities,
        training=evaluate_metrics(metrics, is_case[indices], probabilities[indices], epsilon),
        test=evaluate_metrics(metrics, is_case, probabilities, epsilon),
        out_of_bag_auc=rank_auc(is_case[out_of_bag], probabilities[out_of_bag]),
        error=None,
    )


def _check_n_bootstraps(n_bootstraps):
    if isinstance(n_bootstraps, bool) or int(n_bootstraps) != n_bootstraps or n_bootstraps < 1:
        raise ValueError(f"n_bootstraps must be a positive integer, got {n_bootstraps!r}")
    return int(n_bootstraps)


@np.errstate(invalid="ignore")  # inf - inf: an infinite slope on both sides is undefined
def _optimism_table(metrics, apparent, training, test):
    rows = []
    for j, metric in enumerate(metrics):
        defined = ~(np.isnan(training[:, j]) | np.isnan(test[:, j]))
        if defined.any():
            mean_training = training[defined, j].mean()
            mean_test = test[defined, j].mean()
            optimism = (training[defined, j] - test[defined, j]).mean()
        else:
            mean_training = mean_test = optimism = np.nan
        rows.append((metric, apparent[j], mean_training, mean_test, optimism,
                     apparent[j] - optimism, int(defined.sum())))
    table = pd.DataFrame(rows, columns=["metric", "apparent", "training", "test", "optimism",
                                        "corrected", "n"])
    return table.set_index("metric")


def _632_plus(apparent_error, out_of_bag_error, no_information_error):
    """Efron & Tibshirani's (1997) .632+ error, with R' and w (their eqs. 27-32)."""
    out_of_bag_error = min(out_of_bag_error, no_information_error)
    if out_of_bag_error > apparent_error and no_information_error > apparent_error:
        relative = (out_of_bag_error - apparent_error) / (no_information_error - apparent_error)
    else:
        relative = 0.0
    # 0.632 ~ 1 - 1/e, the chance that a patient is drawn into a resample.
    weight = 0.632 / (1.0 - 0.368 * relative)
    return (1.0 - weight) * apparent_error + weight * out_of_bag_error, relative, weight


def _leave_one_out_brier(is_case, resamples, outcomes):
    """Efron's leave-one-out bootstrap Brier score: each patient's squared error averaged over
    the refits that did not draw the patient, then averaged over the patients."""
    squared_sum = np.zeros(is_case.shape[0])
    counts = np.zeros(is_case.shape[0])
    for indices, outcome in zip(resamples, outcomes):
        out_of_bag = np.ones(is_case.shape[0], dtype=bool)
        out_of_bag[indices] = False
        squared_sum[out_of_bag] += (outcome.probabilities[out_of_bag] - is_case[out_of_bag]) ** 2
        counts[out_of_bag] += 1
    seen = counts > 0
    return float(np.mean(squared_sum[seen] / counts[seen])) if seen.any() else np.nan


def _estimates_632plus(is_case, apparent_probabilities, resamples, outcomes):
    outcome = is_case.astype(np.float64)
    apparent_auc = rank_auc(is_case, apparent_probabilities)
    apparent_brier = float(np.mean((apparent_probabilities - outcome) ** 2))
    out_of_bag_aucs = np.array([o.out_of_bag_auc for o in outcomes])
    defined = ~np.isnan(out_of_bag_aucs)
    out_of_bag_auc = float(out_of_bag_aucs[defined].mean()) if defined.any() else np.nan
    out_of_bag_brier = _leave_one_out_brier(is_case, resamples, outcomes)
    # Predictions carry no information when any patient's could belong to any other patient.
    no_information_brier = float(outcome.mean() - 2.0 * outcome.mean()
                                 * apparent_probabilities.mean()
                                 + np.mean(apparent_probabilities**2))
    auc_error, auc_relative, auc_weight = _632_plus(1.0 - apparent_auc, 1.0 - out_of_bag_auc,
                                                    0.5)
    brier, brier_relative, brier_weight = _632_plus(apparent_brier, out_of_bag_brier,
                                                    no_information_brier)
    rows = [("auc", apparent_auc, out_of_bag_auc, 0.5, auc_relative, auc_weight,
             1.0 - auc_error),
            ("brier", apparent_brier, out_of_bag_brier, no_information_brier, brier_relative,
             brier_weight, brier)]
    table = pd.DataFrame(rows, columns=["metric", "apparent", "out_of_bag", "no_information",
                                        "relative_overfitting", "weight", "estimate"])
    return table.set_index("metric")


def _resample_table(metrics, numbers, outcomes):
    columns = {}
    for j, metric in enumerate(metrics):
        columns[f"{metric}_training"] = [o.training[j] for o in outcomes]
        columns[f"{metric}_test"] = [o.test[j] for o in outcomes]
    columns["out_of_bag_auc"] = [o.out_of_bag_auc for o in outcomes]
    return pd.DataFrame(columns, index=pd.Index(numbers, name="resample"))


def bootstrap_validate(estimator, X, y, *, n_bootstraps=200, metrics=DEFAULT_METRICS,
                       random_state=None, n_jobs=None, epsilon=DEFAULT_LOGIT_EPSILON,
                       pos_label=None, verbose=0):
    """Optimism-corrected performance by Harrell's bootstrap, with .632+ estimates.

    R's ``rms::validate`` for any scikit-learn classifier: the model is fitted on all patients
    and evaluated on them (apparent performance); then, for each of ``n_bootstraps`` resamples
    of the patients drawn with replacement, a clone of the **whole** estimator (screening,
    imputation, CNN and head of a pipeline) is refitted on the resample and evaluated both on
    the resample and on the original patients. The mean difference is the optimism, and
    apparent - optimism the optimism-corrected estimate (Harrell, Lee & Mark 1996; Steyerberg
    2019, ch. 17). The same refits give Efron & Tibshirani's (1997) .632+ estimates of the AUC
    and the Brier score.

    Parameters
    ----------
    estimator : classifier
        Unfitted scikit-learn classifier with ``predict_proba``, e.g. a pipeline of
        :func:`tacelearn.estimators.make_clinical_model`; only clones are fitted.
    X : array-like or pandas.DataFrame of shape (n_samples, ...)
        The development patients (the cohort DataFrame for tacelearn's models).
    y : array-like of shape (n_samples,)
        Binary outcome.
    n_bootstraps : int, default=200
        Resamples (rms's ``B``).
    metrics : sequence of str, default=("auc", "calibration_slope", "calibration_intercept", \
"brier")
        Any of ``"auc"``, ``"calibration_slope"``, ``"calibration_intercept"`` (in the large),
        ``"brier"``, ``"scaled_brier"``, ``"ici"``, ``"e50"``, ``"e90"``, ``"emax"`` (see
        :func:`tacelearn.metrics.calibration_metrics`).
    random_state : int, RandomState instance or None, default=None
        Seed of the resamples: resample ``b`` is row ``b`` of
        ``check_random_state(random_state).randint(0, n_samples, size=(n_bootstraps,
        n_samples))``. The estimator keeps its own ``random_state``.
    n_jobs : int, default=None
        Refits run in parallel by joblib (``None``: 1 unless in a ``joblib.parallel_config``
        context, which also chooses the backend; Dask's included). The cohort is passed as the
        same object to every refit, which the Dask backend sends to the workers once.
    epsilon : float, default=1e-8
        Probabilities are clipped to ``[epsilon, 1 - epsilon]`` before their logits enter the
        calibration intercept and slope.
    pos_label : int, float, bool or str, default=None
        The case label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.
    verbose : int, default=0
        Verbosity of joblib's progress messages.

    Returns
    -------
    result : BootstrapValidationResult
        ``table`` (apparent, training, test, optimism, corrected, n per metric, as
        ``rms::validate`` prints), ``estimates_632plus``, ``resamples`` (per-resample values),
        ``n_successful``, ``n_failed`` and ``failures``.

    Raises
    ------
    ValueError
        Bad outcome or metric names, X and y of different lengths, or every resample failing.
        The apparent fit is not protected: an estimator that cannot fit the full data raises.

    See Also
    --------
    tacelearn.validation.leave_one_center_out : Internal-external validation across centres.
    tacelearn.metrics.calibration_metrics : The calibration measures on one set of predictions.

    Notes
    -----
    A resample holding one class only is skipped, as is one whose refit raises ``ValueError``
    or ``LinAlgError`` (e.g. no factor passes the screening); both are counted in ``n_failed``
    and listed in ``failures``. A slope that is infinite on a resample (the refit separates its
    own training patients, as an overfitted network does) is kept: the optimism is then
    infinite, which is the honest summary. rms's ``validate`` reports the intercept of the
    joint recalibration ``y ~ a + b lp``; ``calibration_intercept`` here is
    calibration-in-the-large (slope fixed at 1). For the AUC, the leave-one-out bootstrap
    performance of the .632+ estimator is the mean AUC of each refit on the patients it did not
    draw; for the Brier score it is Efron's per-patient average.

    References
    ----------
    Harrell FE, Lee KL, Mark DB. Multivariable prognostic models. Stat Med 1996;15:361-87.

    Efron B, Tibshirani R. Improvements on cross-validation: the .632+ bootstrap method. J Am
    Stat Assoc 1997;92:548-60.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from tacelearn.validation import bootstrap_validate
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((150, 8))
    >>> y = rng.random(150) < 1 / (1 + np.exp(-X[:, 0]))
    >>> result = bootstrap_validate(LogisticRegression(), X, y, n_bootstraps=20, random_state=0)
    >>> result.table[["apparent", "optimism", "corrected"]].round(3)
                           apparent  optimism  corrected
    metric
    auc                       0.736     0.062      0.674
    calibration_slope         1.055     0.308      0.747
    calibration_intercept    -0.000     0.007     -0.007
    brier                     0.203    -0.028      0.231
    """
    n_bootstraps = _check_n_bootstraps(n_bootstraps)
    metrics = check_metric_names(metrics)
    if epsilon is None or not 0.0 < epsilon < 0.5:
        raise ValueError(f"epsilon must lie in (0, 0.5), got {epsilon!r}: every resample's "
                         "probabilities need finite logits")
    is_case = check_binary_outcome(y, pos_label=pos_label)
    n_samples = is_case.shape[0]
    if _num_samples(X) != n_samples:
        raise ValueError(f"X has {_num_samples(X)} rows but y has {n_samples} outcomes")
    case_label = case_label_of(y, is_case)
    resamples = check_random_state(random_state).randint(0, n_samples,
                                                         size=(n_bootstraps, n_samples))
    apparent_model = clone(estimator).fit(X, y)
    apparent_probabilities = case_probability(apparent_model, X, case_label)
    apparent = evaluate_metrics(metrics, is_case, apparent_probabilities, epsilon)

    n_cases_drawn = is_case[resamples].sum(axis=1)
    both_classes = (n_cases_drawn > 0) & (n_cases_drawn < n_samples)
    numbers = np.flatnonzero(both_classes)
    # Warnings of the refits come back from the workers and are raised here, once each.
    captured = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(call_capturing_warnings)(_evaluate_resample, estimator, X, y, is_case,
                                         resamples[b], case_label, metrics, epsilon)
        for b in numbers
    )
    reraise_warnings([w for _, caught in captured for w in caught])
    outcomes = [outcome for outcome, _ in captured]
    failures = [(int(b), "the resample holds one class only")
                for b in np.flatnonzero(~both_classes)]
    failures += [(int(b), o.error) for b, o in zip(numbers, outcomes) if o.error is not None]
    failures.sort()
    kept = [(b, o) for b, o in zip(numbers, outcomes) if o.error is None]
    if not kept:
        raise ValueError(f"all {n_bootstraps} resamples failed; the first: {failures[0][1]}")
    kept_numbers = [int(b) for b, _ in kept]
    kept_outcomes = [o for _, o in kept]
    training = np.array([o.training for o in kept_outcomes])
    test = np.array([o.test for o in kept_outcomes])
    return BootstrapValidationResult(
        table=_optimism_table(metrics, apparent, training, test),
        estimates_632plus=_estimates_632plus(is_case, apparent_probabilities,
                                             resamples[kept_numbers], kept_outcomes),
        resamples=_resample_table(metrics, kept_numbers, kept_outcomes),
        n_bootstraps=n_bootstraps,
        n_successful=len(kept),
        n_failed=len(failures),
        failures=tuple(failures),
    )
