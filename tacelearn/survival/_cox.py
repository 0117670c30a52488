"""Cox proportional-hazards regression as R's ``coxph`` reports it.

The partial likelihood, its gradient and Hessian, with Efron's or Breslow's handling of tied
event times, come from :class:`statsmodels.duration.hazard_regression.PHReg`. The fit itself is
Newton-Raphson from zero with step halving, like R's ``coxph.fit``, run until the log partial
likelihood changes by less than 1e-12 relatively (R stops at 1e-9), so that coefficients match
R's to about 1e-10. When the likelihood is monotone (a covariate separates the patients at
every event time), the estimate is infinite: it is reported as such, with the likelihood-ratio
test, instead of a huge hazard ratio with a meaningless Wald test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import ndtri
from statsmodels.duration.hazard_regression import PHReg

from ._validation import check_numbers, check_survival

__all__ = ["CoxResult", "LikelihoodTest", "cox_hazard_ratio", "cox_regression"]

TIES = ("efron", "breslow")
_MAX_ITERATIONS = 100
_RELATIVE_TOLERANCE = 1e-12
_ROUNDING = 1e-13
# R's coxph flags a coefficient as infinite when the Newton step still left at convergence
# exceeds its eps (1e-9) and toler.inf = sqrt(eps) times the coefficient.
_INFINITE_STEP = 1e-9
_INFINITE_RELATIVE_STEP = np.sqrt(1e-9)


@dataclass(frozen=True)
class LikelihoodTest:
    """A chi-square test of the Cox model, shaped like scipy's test results.

    Made by :func:`cox_regression` (its ``likelihood_ratio``, ``wald`` and ``score`` tests);
    each parameter is kept as an attribute of the same name. It unpacks as
    ``statistic, pvalue``.

    Parameters
    ----------
    statistic : float
        Chi-square statistic; NaN when the test is undefined (a Wald test under an infinite
        estimate).
    pvalue : float
        Its P value under the chi-square distribution with ``degrees_of_freedom``.
    degrees_of_freedom : int
        Number of covariates tested.

    See Also
    --------
    CoxResult : The fit that holds the three tests.

    Examples
    --------
    >>> from tacelearn.survival import cox_regression
    >>> time = [5, 8, 3, 12, 7, 2, 9, 11, 4, 6]
    >>> event = [1, 0, 1, 1, 0, 1, 1, 0, 1, 1]
    >>> score = [0.7, 0.2, 0.9, 0.1, 0.4, 0.8, 0.3, 0.2, 0.6, 0.5]
    >>> result = cox_regression(time, event, score)
    >>> statistic, pvalue = result.likelihood_ratio  # R: summary(coxph(...))$logtest
    >>> round(statistic, 3), round(pvalue, 5), result.likelihood_ratio.degrees_of_freedom
    (14.709, 0.00013, 1)
    """

    statistic: float
    pvalue: float
    degrees_of_freedom: int

    def __iter__(self):
        # Unpacks as ``statistic, pvalue = result.likelihood_ratio``, like scipy's results.
        return iter((self.statistic, self.pvalue))


@dataclass(frozen=True)
class CoxResult:
    """Result of :func:`cox_regression`: R's ``summary(coxph(...))`` as Python objects.

    Made by :func:`cox_regression`; each parameter is kept as an attribute of the same name.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per covariate (see :func:`cox_hazard_ratio`).
    likelihood_ratio, wald, score : LikelihoodTest
        The global tests of all covariates, as R's "Likelihood ratio test", "Wald test" and
        "Score (logrank) test".
    log_likelihood : tuple of float
        Log partial likelihood without covariates and at the estimate (R's ``fit$loglik``).
    monotone : bool
        Whether some estimate is infinite (monotone likelihood).
    ties : {"efron", "breslow"}
        How tied event times were handled.
    n_patients, n_events : int
        Patients in the fit and events among them.
    iterations : int
        Newton-Raphson iterations of the full model.
    confidence_level : float
        Level of the hazard ratios' confidence intervals in ``table``.

    See Also
    --------
    cox_regression : Fits the model.
    LikelihoodTest : The global tests.

    Examples
    --------
    >>> from tacelearn.survival import cox_regression
    >>> time = [5, 8, 3, 12, 7, 2, 9, 11, 4, 6]
    >>> event = [1, 0, 1, 1, 0, 1, 1, 0, 1, 1]
    >>> score = [0.7, 0.2, 0.9, 0.1, 0.4, 0.8, 0.3, 0.2, 0.6, 0.5]
    >>> result = cox_regression(time, event, score)
    >>> result.n_patients, result.n_events, result.ties, bool(result.monotone)
    (10, 7, 'efron', False)
    >>> round(float(result.table.loc["covariate", "coef"]), 3)  # R: coef(coxph(...))
    12.735
    """

    table: pd.DataFrame
    likelihood_ratio: LikelihoodTest
    wald: LikelihoodTest
    score: LikelihoodTest
    log_likelihood: tuple
    monotone: bool
    ties: str
    n_patients: int
    n_events: int
    iterations: int
    confidence_level: float


def _covariate_frame(covariates):
    if isinstance(covariates, pd.DataFrame):
        frame = covariates
    elif isinstance(covariates, pd.Series):
        frame = covariates.to_frame(name=covariates.name if covariates.name is not None
                                    else "covariate")
    else:
        array = np.asarray(covariates, dtype=object)
        if array.ndim == 1:
            frame = pd.DataFrame({"covariate": array})
        elif array.ndim == 2:
            frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
        else:
            raise ValueError(f"covariates must be 1-D or 2-D, got shape {array.shape}")
    columns = {}
    for name in frame.columns:
        columns[str(name)] = check_numbers(frame[name], f"covariate '{name}'")
        if np.ptp(columns[str(name)]) == 0:
            raise ValueError(f"covariate '{name}' is constant: it has no hazard ratio")
    return pd.DataFrame(columns)


def _first_column(covariates):
    """A 1-D view of the covariates, only for the length check."""
    if isinstance(covariates, pd.DataFrame):
        return covariates.iloc[:, 0]
    array = np.asarray(covariates, dtype=object)
    return array if array.ndim == 1 else array[:, 0]


def _newton_step(model, beta):
    gradient, hessian = model.score(beta), model.hessian(beta)
    try:
        return np.linalg.solve(-hessian, gradient)
    except np.linalg.LinAlgError:
        raise ValueError("the covariates are collinear: the Cox model has no unique "
                         "estimate; drop one of them") from None


def _maximise(model, n_parameters):
    """Newton-Raphson with step halving from 0; returns (beta, log-likelihood, iterations)."""
    beta = np.zeros(n_parameters)
    log_likelihood = model.loglike(beta)
    for iteration in range(1, _MAX_ITERATIONS + 1):
        step = _newton_step(model, beta)
        candidate_ll = model.loglike(beta + step)
        # Halve only on a real decrease: near the maximum the change is rounding noise, and
        # the full Newton step (from the exact gradient) is the accurate one.
        rounding = _ROUNDING * abs(log_likelihood)
        for _ in range(30):
            if candidate_ll >= log_likelihood - rounding:
                break
            step = step / 2.0
            candidate_ll = model.loglike(beta + step)
        change = abs(candidate_ll - log_likelihood)
        beta, log_likelihood = beta + step, candidate_ll
        if change <= _RELATIVE_TOLERANCE * abs(log_likelihood):
            return beta, log_likelihood, iteration
    return beta, log_likelihood, _MAX_ITERATIONS


def _fit(times, events, exog, ties):
    model = PHReg(times, exog, status=events.astype(float), ties=ties)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        beta, log_likelihood, iterations = _maximise(model, exog.shape[1])
        remaining = _newton_step(model, beta)
        information = -model.hessian(beta)
    infinite = ((np.abs(remaining) > _INFINITE_STEP)
                & (np.abs(remaining) > _INFINITE_RELATIVE_STEP * np.abs(beta)))
    return model, beta, log_likelihood, iterations, infinite, information


def _chi_square(statistic, degrees_of_freedom):
    return LikelihoodTest(float(statistic), float(stats.chi2.sf(statistic, degrees_of_freedom)),
                          int(degrees_of_freedom))


def _drop_one_tests(times, events, exog, ties, log_likelihood, null_log_likelihood):
    """Likelihood-ratio test of each covariate: the model without it against the full one."""
    if exog.shape[1] == 1:
        reduced = [null_log_likelihood]
    else:
        reduced = [_fit(times, events, np.delete(exog, j, axis=1), ties)[2]
                   for j in range(exog.shape[1])]
    statistic = np.maximum(2.0 * (log_likelihood - np.asarray(reduced)), 0.0)
    return statistic, stats.chi2.sf(statistic, 1)


def _global_tests(model, beta, information, infinite, log_likelihood, null_log_likelihood):
    n_parameters = beta.size
    likelihood_ratio = _chi_square(max(2.0 * (log_likelihood - null_log_likelihood), 0.0),
                                   n_parameters)
    if infinite.any():
        wald = LikelihoodTest(np.nan, np.nan, n_parameters)
    else:
        wald = _chi_square(beta @ information @ beta, n_parameters)
    zero = np.zeros(n_parameters)
    gradient = model.score(zero)
    score = _chi_square(gradient @ np.linalg.solve(-model.hessian(zero), gradient),
                        n_parameters)
    return likelihood_ratio, wald, score


def _coefficient_table(names, beta, information, infinite, drop_one, z):
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(np.diag(np.linalg.inv(information)))
    coef = np.where(infinite, np.copysign(np.inf, beta), beta)
    se = np.where(infinite, np.nan, se)
    wald_z = coef / se
    lr_statistic, lr_pvalue = drop_one
    return pd.DataFrame({
        "coef": coef,
        "se": se,
        "hazard_ratio": np.exp(coef),
        "ci_lower": np.exp(coef - z * se),
        "ci_upper": np.exp(coef + z * se),
        "statistic": wald_z,
        "pvalue": 2.0 * stats.norm.sf(np.abs(wald_z)),
        "lr_statistic": lr_statistic,
        "lr_pvalue": lr_pvalue,
        "infinite": infinite,
    }, index=pd.Index(names, name="covariate"))


def cox_regression(time, event, covariates, *, ties="efron", confidence_level=0.95):
    """Fit a Cox proportional-hazards model and test it, as R's ``coxph`` does.

    Every covariate enters one model, so several covariates give a multivariable model whose
    ratios are adjusted for each other. R: ``summary(coxph(Surv(time, event) ~ x1 + x2,
    ties = ties))``.

    Parameters
    ----------
    time : array-like of shape (n_patients,)
        Follow-up times, non-negative.
    event : array-like of shape (n_patients,)
        1 (or True) where the event was observed, 0 where censored.
    covariates : array-like of shape (n_patients,) or (n_patients, n_covariates)
        Numeric covariates; a DataFrame or named Series gives the row names. Code a group as
        0/1, e.g. ``(groups == "high").astype(int)`` for the hazard ratio of high against low.
    ties : {"efron", "breslow"}, default="efron"
        Handling of tied event times; ``"efron"`` is R's default, ``"breslow"`` that of SAS
        and Stata.
    confidence_level : float, default=0.95
        Level of the hazard ratios' Wald intervals.

    Returns
    -------
    result : CoxResult
        ``table`` (per covariate), the global ``likelihood_ratio``, ``wald`` and ``score``
        tests, ``log_likelihood``, ``monotone`` and the fit's details.

    Raises
    ------
    ValueError
        For inputs of different lengths, negative or missing times, events outside {0, 1},
        missing, constant or collinear covariates (named), no event, or an unknown ``ties``.
    TypeError
        For a covariate that holds text.

    See Also
    --------
    cox_hazard_ratio : The per-covariate table alone.
    logrank_test : The score test of a single binary covariate, without the model.

    Notes
    -----
    When the likelihood is monotone (e.g. every event happens in one group), the estimate is
    infinite: R's ``coxph`` then warns and prints a huge coefficient whose Wald test says
    nothing (P near 1). Here such a coefficient is ``inf`` (or ``-inf``), its hazard ratio
    ``inf`` (or 0), its standard error, interval and Wald test NaN, ``infinite`` True and
    ``monotone`` True; the likelihood-ratio tests (``lr_pvalue`` and ``likelihood_ratio``)
    remain valid and equal R's. Detection follows R's rule: at convergence the remaining
    Newton step exceeds 1e-9 and ``sqrt(1e-9)`` times the coefficient.

    Examples
    --------
    >>> from tacelearn.survival import cox_regression
    >>> time = [1, 2, 3, 4, 5, 6, 7, 8]
    >>> event = [0, 1, 1, 1, 1, 0, 0, 0]
    >>> result = cox_regression(time, event, event)  # every event in the exposed group
    >>> bool(result.monotone), float(result.table["hazard_ratio"].iloc[0])
    (True, inf)
    >>> round(result.likelihood_ratio.pvalue, 4)  # R: summary(coxph(...))$logtest: 0.0077
    0.0077
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must lie in (0, 1), got {confidence_level!r}")
    times, events = check_survival(time, event, covariates=_first_column(covariates))
    if not events.any():
        raise ValueError("no event was observed: the Cox model cannot be fitted")
    frame = _covariate_frame(covariates)
    exog = frame.to_numpy(dtype=float)
    model, beta, log_likelihood, iterations, infinite, information = _fit(
        times, events, exog, ties)
    null_log_likelihood = model.loglike(np.zeros(exog.shape[1]))
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        drop_one = _drop_one_tests(times, events, exog, ties, log_likelihood,
                                   null_log_likelihood)
        tests = _global_tests(model, beta, information, infinite, log_likelihood,
                              null_log_likelihood)
        table = _coefficient_table(list(frame.columns), beta, information, infinite, drop_one,
                                   ndtri(0.5 + confidence_level / 2.0))
    return CoxResult(table=table, likelihood_ratio=tests[0], wald=tests[1], score=tests[2],
                     log_likelihood=(float(null_log_likelihood), float(log_likelihood)),
                     monotone=bool(infinite.any()), ties=ties, n_patients=int(times.size),
                     n_events=int(events.sum()), iterations=iterations,
                     confidence_level=confidence_level)


def cox_hazard_ratio(time, event, covariates, *, confidence_level=0.95, ties="efron"):
    """Hazard ratios, confidence intervals and P values from a Cox model.

    The table of :func:`cox_regression`: R's ``summary(coxph(Surv(time, event) ~ x,
    ties = ties))`` coefficient and interval rows, and ``drop1(fit, test = "Chisq")``'s
    likelihood-ratio test of each covariate.

    Parameters
    ----------
    time : array-like of shape (n_patients,)
        Follow-up times, non-negative.
    event : array-like of shape (n_patients,)
        1 (or True) where the event was observed, 0 where censored.
    covariates : array-like of shape (n_patients,) or (n_patients, n_covariates)
        Numeric covariates; a DataFrame or named Series gives the row names. Code a group as
        0/1, e.g. ``(groups == "high").astype(int)`` for the hazard ratio of high against low.
    confidence_level : float, default=0.95
        Level of the confidence intervals.
    ties : {"efron", "breslow"}, default="efron"
        Handling of tied event times (R's default is Efron's).

    Returns
    -------
    table : pandas.DataFrame
        One row per covariate: ``coef`` (log hazard ratio), ``se``, ``hazard_ratio``,
        ``ci_lower``, ``ci_upper`` (Wald interval of the hazard ratio), ``statistic`` (Wald
        z), ``pvalue`` (Wald), ``lr_statistic`` and ``lr_pvalue`` (likelihood-ratio test of
        the covariate: the model without it against the full one) and ``infinite`` (a
        monotone likelihood: the estimate is infinite, its Wald quantities NaN; use
        ``lr_pvalue``).

    Raises
    ------
    ValueError
        For inputs of different lengths, negative or missing times, events outside {0, 1},
        missing, constant or collinear covariates (the patients or covariate are named), or
        no event.
    TypeError
        For a covariate that holds text.

    See Also
    --------
    cox_regression : The whole fit, with the global likelihood-ratio, Wald and score tests.
    logrank_test : The score test of a single binary covariate, without the model.

    Examples
    --------
    >>> from tacelearn.survival import cox_hazard_ratio
    >>> time = [6, 7, 10, 15, 19, 25, 1, 3, 4, 5, 8, 9]
    >>> event = [1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1]
    >>> low_score = [0] * 6 + [1] * 6
    >>> table = cox_hazard_ratio(time, event, low_score)
    >>> table[["hazard_ratio", "ci_lower", "ci_upper", "pvalue"]].round(4)  # as R's coxph
               hazard_ratio  ci_lower  ci_upper  pvalue
    covariate
    covariate       10.145    1.1417   90.1498  0.0376
    """
    return cox_regression(time, event, covariates, ties=ties,
                          confidence_level=confidence_level).table
