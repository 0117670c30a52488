"""Net benefit and decision curves (Vickers & Elkin 2006), as R's dcurves computes them."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..utils import check_binary_outcome, check_named_scores, check_scores

__all__ = ["REFERENCE_STRATEGIES", "decision_curve", "net_benefit"]

#: Names of the two reference strategies in :func:`decision_curve`'s output.
REFERENCE_STRATEGIES = ("treat_all", "treat_none")
_SMALLEST_POSITIVE = np.nextafter(0.0, 1.0)


def _check_thresholds(thresholds):
    values = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    if values.ndim != 1 or values.size == 0:
        raise ValueError("thresholds must be a non-empty 1-D sequence of probabilities")
    outside = ~((values >= 0.0) & (values < 1.0))
    if outside.any():
        raise ValueError(
            f"threshold probabilities must lie in [0, 1), got {values[outside].tolist()[:8]}"
        )
    return values


def _check_harm(harm, name):
    value = float(harm)
    if not np.isfinite(value):
        raise ValueError(f"harm of {name} must be a finite number, got {harm!r}")
    return value


def _called_positive(sorted_scores, thresholds):
    """How many of the sorted scores are >= each threshold, a score of exactly 0 never.

    dcurves (R and Python) moves scores of exactly 0 to -epsilon before comparing, so that
    such a patient is not treated even at the threshold 0; the smallest positive double as
    the least threshold does the same.
    """
    effective = np.maximum(thresholds, _SMALLEST_POSITIVE)
    return sorted_scores.shape[0] - np.searchsorted(sorted_scores, effective, side="left")


def _odds(thresholds):
    return thresholds / (1.0 - thresholds)


def _net_benefit_from_counts(tp, fp, n_total, thresholds, harm):
    return tp / n_total - fp / n_total * _odds(thresholds) - harm


def net_benefit(y_true, y_score, threshold, *, harm=0.0, pos_label=None):
    """Net benefit of treating the patients whose predicted probability reaches a threshold.

    ``net_benefit = TP / n - FP / n * pt / (1 - pt) - harm``, a patient being treated when
    ``score >= pt`` (Vickers & Elkin 2006) and the score is not exactly 0: as R's and
    Python's dcurves, a patient given probability 0 is never treated, even at ``pt = 0``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome; with booleans, True is the event.
    y_score : array-like of shape (n_samples,)
        Predicted probabilities of the event, in [0, 1].
    threshold : float
        Threshold probability ``pt`` in [0, 1).
    harm : float, default=0.0
        Harm of the test itself, in units of true positives, subtracted from the net benefit.
    pos_label : int, float, bool or str, default=None
        The event label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.

    Returns
    -------
    net_benefit : float
        True positives per patient, less the false positives per patient weighted by the
        odds of the threshold, less ``harm``: at most the prevalence (every case treated,
        no false positive).

    See Also
    --------
    decision_curve : Net benefit over a range of thresholds, with treat-all and treat-none.

    Examples
    --------
    >>> from tacelearn.metrics import net_benefit
    >>> y = [True, True, False, False, False]
    >>> p = [0.9, 0.4, 0.6, 0.2, 0.1]
    >>> round(net_benefit(y, p, 0.25), 4)  # 2/5 - 1/5 * (0.25 / 0.75)
    0.3333
    """
    is_case = check_binary_outcome(y_true, pos_label=pos_label)
    scores = check_scores(y_score, is_case.shape[0], probability=True)
    thresholds = _check_thresholds(threshold)
    if thresholds.size != 1:
        raise ValueError("net_benefit takes one threshold; use decision_curve for several")
    tp = _called_positive(np.sort(scores[is_case]), thresholds)
    fp = _called_positive(np.sort(scores[~is_case]), thresholds)
    harm = _check_harm(harm, "y_score")
    return float(_net_benefit_from_counts(tp, fp, is_case.shape[0], thresholds, harm)[0])


def decision_curve(y_true, scores, *, thresholds=None, harm=0.0, pos_label=None):
    """Decision curves: net benefit across threshold probabilities, with treat-all and treat-none.

    As R's ``dcurves::dca(y ~ model, thresholds = ...)``: a patient is treated when the score
    reaches the threshold and is not exactly 0 (dcurves never treats a score of 0).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary outcome; with booleans, True is the event.
    scores : array-like of shape (n_samples,), mapping or DataFrame
        Predicted probabilities in [0, 1]: one array (the model is named ``"model"``), a
        mapping of model name to array, or a DataFrame with one column per model.
    thresholds : array-like of float, default=None
        Threshold probabilities in [0, 1); ``None`` means 0.01, 0.02, ..., 0.99.
    harm : float or mapping, default=0.0
        Harm of each model's test in units of true positives (a mapping of model name to harm,
        models left out having none); the reference strategies have none.
    pos_label : int, float, bool or str, default=None
        The event label; may be omitted for {0, 1}, {-1, 1} and boolean outcomes.

    Returns
    -------
    curve : pandas.DataFrame
        Long form, one row per model and threshold, the models first, then ``"treat_all"`` and
        ``"treat_none"``. Columns: ``model``, ``threshold``, ``n``, ``prevalence``, ``tp_rate``
        (TP / n), ``fp_rate`` (FP / n), ``net_benefit`` (tp_rate - fp_rate * pt / (1 - pt) -
        harm) and ``net_interventions_avoided`` per 100 patients,
        ``100 * (net_benefit - net_benefit_treat_all) / (pt / (1 - pt))`` as in Vickers' dca
        and dcurves (undefined, NaN, at pt = 0).

    See Also
    --------
    net_benefit : One model at one threshold.

    Examples
    --------
    >>> from tacelearn.metrics import decision_curve
    >>> y = [True, True, False, False, False]
    >>> curve = decision_curve(y, {"dltr": [0.9, 0.4, 0.6, 0.2, 0.1]}, thresholds=[0.25, 0.5])
    >>> curve[["model", "threshold", "net_benefit"]].round(4)
            model  threshold  net_benefit
    0        dltr       0.25       0.3333
    1        dltr       0.50       0.0000
    2   treat_all       0.25       0.2000
    3   treat_all       0.50      -0.2000
    4  treat_none       0.25       0.0000
    5  treat_none       0.50       0.0000
    """
    is_case = check_binary_outcome(y_true, pos_label=pos_label)
    n_total = is_case.shape[0]
    names, matrix = check_named_scores(scores, n_total, probability=True)
    clashes = sorted(set(names) & set(REFERENCE_STRATEGIES))
    if clashes:
        raise ValueError(f"model names {clashes} are reserved for the reference strategies")
    if isinstance(harm, Mapping):
        unknown = sorted(set(map(str, harm)) - set(names))
        if unknown:
            raise ValueError(f"harm names models that are not in scores: {unknown}")
        harms = [_check_harm(harm.get(name, 0.0), name) for name in names]
    else:
        harms = [_check_harm(harm, name) for name in names]
    pts = np.arange(1, 100) / 100.0 if thresholds is None else _check_thresholds(thresholds)

    n_cases = int(is_case.sum())
    prevalence = n_cases / n_total
    tp_counts = [_called_positive(np.sort(row[is_case]), pts) for row in matrix]
    fp_counts = [_called_positive(np.sort(row[~is_case]), pts) for row in matrix]
    tp_counts += [np.full(pts.shape, n_cases), np.zeros(pts.shape, dtype=np.int64)]
    fp_counts += [np.full(pts.shape, n_total - n_cases), np.zeros(pts.shape, dtype=np.int64)]
    harms += [0.0, 0.0]
    all_names = [*names, *REFERENCE_STRATEGIES]

    treat_all = _net_benefit_from_counts(tp_counts[-2], fp_counts[-2], n_total, pts, 0.0)
    odds = _odds(pts)
    frames = []
    for name, tp, fp, model_harm in zip(all_names, tp_counts, fp_counts, harms):
        benefit = _net_benefit_from_counts(tp, fp, n_total, pts, model_harm)
        avoided = np.full(pts.shape, np.nan)
        np.divide(100.0 * (benefit - treat_all), odds, out=avoided, where=odds > 0.0)
        frames.append(
            pd.DataFrame(
                {
                    "model": name,
                    "threshold": pts,
                    "n": n_total,
                    "prevalence": prevalence,
                    "tp_rate": tp / n_total,
                    "fp_rate": fp / n_total,
                    "net_benefit": benefit,
                    "net_interventions_avoided": avoided,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
