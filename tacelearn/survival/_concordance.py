"""Harrell's concordance index, through scikit-survival, with an explicit sign convention."""

from __future__ import annotations

from sksurv.metrics import concordance_index_censored

from ._validation import check_numbers, check_survival

__all__ = ["concordance_index"]


def concordance_index(time, event, scores, *, higher_is_riskier=False, tied_tol=0.0):
    """Harrell's concordance index (C) between scores and survival.

    Computed by :func:`sksurv.metrics.concordance_index_censored`, which expects **risk** scores
    (higher = earlier event). tacelearn's scores are probabilities of objective response, and a
    responder lives longer, so by default (``higher_is_riskier=False``) a **high score means
    low risk** and the scores are negated before they reach scikit-survival. Pass
    ``higher_is_riskier=True`` for scores that grow with risk (a Cox linear predictor, a
    hazard). With the wrong sign the index comes out as ``1 - C``.

    A pair of patients is comparable when the one with the shorter time had the event (a
    patient censored at the time of another's event counts as outliving it; two events at
    the same time are not comparable); it is concordant when that patient is the riskier one
    by the scores; tied scores count one half. This is R's
    ``concordance(Surv(time, event) ~ scores)$concordance`` (survival package): R's default
    orientation is that of ``higher_is_riskier=False``, and only exactly equal scores are
    tied, so scores 1e-9 apart are ordered (scikit-survival's own default merges scores within
    1e-8).

    Parameters
    ----------
    time : array-like of shape (n_patients,)
        Follow-up times, non-negative.
    event : array-like of shape (n_patients,)
        1 (or True) where the event was observed, 0 where censored.
    scores : array-like of shape (n_patients,)
        Model scores.
    higher_is_riskier : bool, default=False
        Whether a higher score means a higher risk of the event.
    tied_tol : float, default=0.0
        Scores at most this far apart are tied; 0 (R's rule) ties only equal scores.

    Returns
    -------
    cindex : float
        The concordance index: 1 orders every comparable pair correctly, 0.5 is chance.

    Raises
    ------
    ValueError
        For inputs of different lengths, negative or missing times, events outside {0, 1},
        missing scores (the patients are named), or no event.

    See Also
    --------
    lifelines.utils.concordance_index : The same index for predicted survival times (higher =
        longer survival, the convention of ``higher_is_riskier=False``).

    Examples
    --------
    >>> from tacelearn.survival import concordance_index
    >>> time = [2.0, 4.0, 6.0, 8.0]
    >>> event = [1, 1, 1, 0]
    >>> probability_of_response = [0.1, 0.3, 0.2, 0.9]
    >>> round(concordance_index(time, event, probability_of_response), 4)
    0.8333
    >>> round(concordance_index(time, event, probability_of_response, higher_is_riskier=True), 4)
    0.1667
    """
    times, events = check_survival(time, event, scores=scores)
    values = check_numbers(scores, "scores")
    if not tied_tol >= 0:
        raise ValueError(f"tied_tol must be a non-negative number, got {tied_tol!r}")
    if not events.any():
        raise ValueError("no event was observed: no pair of patients is comparable")
    risk = values if higher_is_riskier else -values
    return float(concordance_index_censored(events, times, risk, tied_tol=tied_tol)[0])
