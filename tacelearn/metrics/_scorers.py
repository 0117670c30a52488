"""scikit-learn scorers for ``scoring=`` in GridSearchCV and cross_validate."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import make_scorer

from ._decision_curve import net_benefit
from ._delong import delong_roc_variance

__all__ = ["delong_auc_scorer", "net_benefit_scorer"]


def _case_label(y_true, pos_label):
    # A scorer hands over the probability of the estimator's classes_[1], the greater label,
    # when no pos_label is set; the metric must then count that label as the case.
    return np.unique(np.asarray(y_true))[-1] if pos_label is None else pos_label


def _delong_auc(y_true, y_score, *, pos_label=None):
    return delong_roc_variance(y_true, y_score, pos_label=_case_label(y_true, pos_label))[0]


def _net_benefit(y_true, y_score, *, threshold, harm=0.0, pos_label=None):
    return net_benefit(
        y_true, y_score, threshold, harm=harm, pos_label=_case_label(y_true, pos_label)
    )


#: AUC scorer computed by the DeLong midrank code, for ``scoring=delong_auc_scorer``.
#: It asks the estimator for ``decision_function``, else ``predict_proba``; the case is the
#: estimator's ``classes_[1]``. The value equals ``roc_auc_score`` and the AUC of
#: :func:`delong_roc_variance`, so cross-validated scores and the study's tables agree. A test
#: fold with fewer than two cases or controls raises ValueError.
delong_auc_scorer = make_scorer(
    _delong_auc, response_method=("decision_function", "predict_proba")
)


def net_benefit_scorer(threshold, *, harm=0.0, pos_label=None):
    """A scorer of the net benefit at one threshold probability, for ``scoring=``.

    Parameters
    ----------
    threshold : float
        Threshold probability ``pt`` in [0, 1).
    harm : float, default=0.0
        Harm of the test, in units of true positives.
    pos_label : int, float, bool or str, default=None
        The event label; ``None`` means the estimator's ``classes_[1]``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` using ``predict_proba`` of the event class; greater is
        better.

    See Also
    --------
    net_benefit : The metric.
    delong_auc_scorer : The AUC as a scorer.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_validate
    >>> from tacelearn.metrics import delong_auc_scorer, net_benefit_scorer
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> cv = cross_validate(LogisticRegression(), X, y, cv=3,
    ...                     scoring={"auc": delong_auc_scorer, "nb": net_benefit_scorer(0.3)})
    >>> bool(cv["test_auc"].min() > 0.8), bool(cv["test_nb"].min() > 0.0)
    (True, True)
    """
    if not 0.0 <= float(threshold) < 1.0:
        raise ValueError(f"threshold must lie in [0, 1), got {threshold!r}")
    return make_scorer(
        _net_benefit,
        response_method="predict_proba",
        threshold=float(threshold),
        harm=float(harm),
        pos_label=pos_label,
    )
