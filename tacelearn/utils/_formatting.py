"""Numbers as every table, figure and report of tacelearn prints them.

One place rounds: an estimate is rounded once, from full precision, when it is turned into
text, so the same AUC reads the same in ``summary.json`` consumers, Table 2, the HTML report
and the figure legends.
"""

from __future__ import annotations

import math

__all__ = ["format_estimate_ci", "format_number", "format_pvalue"]


def _missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        not isinstance(value, (str, bytes)) and value != value)


def format_number(value, digits=3):
    """``value`` with ``digits`` decimals, ``"NA"`` when missing, ``"inf"`` when infinite.

    Parameters
    ----------
    value : float or None
        The number to print; ``None`` and NaN are missing.
    digits : int, default=3
        Decimal places.

    Returns
    -------
    text : str
        The rounded number, ``"NA"``, ``"inf"`` or ``"-inf"``.

    See Also
    --------
    format_pvalue : A P value as clinical papers print it.
    format_estimate_ci : An estimate followed by its confidence interval.

    Examples
    --------
    >>> from tacelearn.utils import format_number
    >>> format_number(0.85648), format_number(float("nan")), format_number(float("inf"))
    ('0.856', 'NA', 'inf')
    """
    if _missing(value):
        return "NA"
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}f}"


def format_pvalue(pvalue, digits=3, *, prefix=True):
    """'P = 0.012' or 'P < 0.001', the way clinical papers print P values.

    Parameters
    ----------
    pvalue : float
        The P value; a missing or infinite one prints as ``NA``.
    digits : int, default=3
        Decimals; values below ``10**-digits`` print as ``< 0.001`` (for 3).
    prefix : bool, default=True
        Start with ``"P = "`` / ``"P < "``; without it a table cell reads ``"0.012"`` or
        ``"<0.001"``.

    Returns
    -------
    text : str
        The formatted P value.

    See Also
    --------
    format_number : A number rounded to a given number of decimals.

    Examples
    --------
    >>> from tacelearn.utils import format_pvalue
    >>> format_pvalue(0.01234), format_pvalue(1e-6), format_pvalue(1e-6, prefix=False)
    ('P = 0.012', 'P < 0.001', '<0.001')
    """
    floor = 10.0 ** -digits
    if _missing(pvalue) or not math.isfinite(float(pvalue)):
        return "P = NA" if prefix else "NA"
    pvalue = float(pvalue)
    if pvalue < floor:
        return f"P < {floor:.{digits}f}" if prefix else f"<{floor:.{digits}f}"
    return f"P = {pvalue:.{digits}f}" if prefix else f"{pvalue:.{digits}f}"


def format_estimate_ci(estimate, low, high, *, digits=3, separator=None):
    """Render an estimate and its interval as ``"0.822 (0.693-0.950)"``.

    Parameters
    ----------
    estimate : float
        The point estimate (an AUC, a hazard ratio, ...).
    low : float
        Lower bound of the confidence interval; NaN when unknown.
    high : float
        Upper bound of the confidence interval; NaN when unknown.
    digits : int, default=3
        Decimal places.
    separator : str, optional
        Between the bounds; default ``"-"``, or ``" to "`` when a bound is negative
        (``"-0.5 (-1.2 to 0.3)"`` cannot be misread).

    Returns
    -------
    text : str
        ``"NA"`` when the estimate is missing, the estimate alone when both bounds are;
        an infinite bound prints as ``inf``.

    Examples
    --------
    >>> from tacelearn.utils import format_estimate_ci
    >>> format_estimate_ci(0.8216, 0.69251, 0.95)
    '0.822 (0.693-0.950)'
    >>> format_estimate_ci(-0.5, -1.21, 0.3)
    '-0.500 (-1.210 to 0.300)'
    """
    if _missing(estimate):
        return "NA"
    if _missing(low) and _missing(high):
        return format_number(estimate, digits)
    if separator is None:
        negative = any(not _missing(v) and float(v) < 0 for v in (low, high))
        separator = " to " if negative else "-"
    return (f"{format_number(estimate, digits)} ({format_number(low, digits)}{separator}"
            f"{format_number(high, digits)})")
