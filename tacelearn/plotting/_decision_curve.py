"""Decision curves: net benefit of each model against treating everyone or no one."""

from __future__ import annotations

import numpy as np

from ..metrics import decision_curve
from ._base import get_axes, scores_of_estimators

__all__ = ["DecisionCurveDisplay"]

_REFERENCE_STYLE = {
    "treat_all": {"label": "Treat all", "color": "0.5", "linestyle": "--", "linewidth": 1.0},
    "treat_none": {"label": "Treat none", "color": "black", "linestyle": "-", "linewidth": 1.0},
}


class DecisionCurveDisplay:
    """Decision curves (Vickers and Elkin, 2006) of one or more models.

    Net benefit ``TP/n - FP/n * pt / (1 - pt)`` against the threshold probability ``pt``, with
    the two reference strategies: treat everyone ("Treat all") and no one ("Treat none", net
    benefit 0). A model is useful at the thresholds where its curve lies above both. Create it
    with :meth:`from_predictions` or :meth:`from_estimator`; all parameters are stored as
    attributes.

    Parameters
    ----------
    net_benefit : pandas.DataFrame
        Long table of :func:`tacelearn.metrics.decision_curve`: columns ``model``,
        ``threshold`` and ``net_benefit``, with rows for ``"treat_all"`` and ``"treat_none"``.

    Attributes
    ----------
    lines_ : dict of str to matplotlib.lines.Line2D
        One line per model and per reference strategy, keyed by the ``model`` column.
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    See Also
    --------
    tacelearn.metrics.decision_curve : The numbers drawn.
    tacelearn.metrics.net_benefit : One model at one threshold.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.plotting import DecisionCurveDisplay
    >>> rng = np.random.default_rng(0)
    >>> probability = rng.random(200)
    >>> response = rng.random(200) < probability
    >>> display = DecisionCurveDisplay.from_predictions(response, {"model": probability})
    >>> sorted(display.lines_)
    ['model', 'treat_all', 'treat_none']
    >>> import matplotlib.pyplot as plt
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, net_benefit):
        self.net_benefit = net_benefit

    def plot(self, ax=None, *, ylim=None, **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        ylim : tuple of float, optional
            Vertical limits. Default: from a little below 0 to a little above the largest net
            benefit, so that the steep fall of "Treat all" does not flatten the models.
        **kwargs : dict
            Passed to ``Axes.plot`` for the models' curves.

        Returns
        -------
        display : DecisionCurveDisplay
            This display, with its artists, ``ax_`` and ``figure_`` set.
        """
        missing = [c for c in ("model", "threshold", "net_benefit")
                   if c not in self.net_benefit.columns]
        if missing:
            raise ValueError(f"net_benefit lacks the columns {missing}")
        ax = get_axes(ax)
        self.lines_ = {}
        for model, curve in self.net_benefit.groupby("model", sort=False):
            style = _REFERENCE_STYLE.get(model, {"label": model, **kwargs})
            (self.lines_[model],) = ax.plot(curve["threshold"], curve["net_benefit"], **style)
        if ylim is None:
            top = float(np.nanmax(self.net_benefit["net_benefit"]))
            top = top if top > 0 else 0.1
            ylim = (-0.1 * top, 1.1 * top)
        ax.set_ylim(*ylim)
        ax.set_xlim(0, 1)
        ax.set_xlabel("Threshold probability")
        ax.set_ylabel("Net benefit")
        ax.legend(loc="upper right", fontsize=8)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_predictions(cls, y_true, scores, *, thresholds=None, harm=0.0, pos_label=None,
                         ax=None, ylim=None, **kwargs):
        """Decision curves of models scored on the same patients.

        Parameters
        ----------
        y_true : array-like of shape (n_patients,)
            Binary outcome.
        scores : mapping, DataFrame or array-like
            Predicted probabilities in [0, 1], one vector per model (a mapping of name to
            scores, a DataFrame with one column per model, or one 1-D array).
        thresholds : array-like of float, optional
            Threshold probabilities; default 0.01, 0.02, ..., 0.99.
        harm : float or mapping, default=0.0
            Harm of each model's test, in units of true positives.
        pos_label : int, float, bool or str, optional
            The event label; may be omitted for 0/1 and boolean outcomes.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        ylim : tuple of float, optional
            Vertical limits; by default from a little below 0 to a little above the largest
            net benefit.
        **kwargs : dict
            Passed to ``Axes.plot`` for the models' curves.

        Returns
        -------
        display : DecisionCurveDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        curve = decision_curve(y_true, scores, thresholds=thresholds, harm=harm,
                               pos_label=pos_label)
        return cls(net_benefit=curve).plot(ax=ax, ylim=ylim, **kwargs)

    @classmethod
    def from_estimator(cls, estimators, X, y, *, thresholds=None, harm=0.0, pos_label=None,
                       ax=None, ylim=None, **kwargs):
        """Decision curves of fitted classifiers on the same cohort.

        Parameters
        ----------
        estimators : estimator or mapping of str to estimator
            Fitted classifiers with ``predict_proba``.
        X : array-like or pandas.DataFrame
            The cohort to score.
        y : array-like of shape (n_patients,)
            Its outcome.
        thresholds : array-like of float, optional
            Threshold probabilities; default 0.01, 0.02, ..., 0.99.
        harm : float or mapping, default=0.0
            Harm of each model's test, in units of true positives.
        pos_label : int, float, bool or str, optional
            The event label, among the estimators' ``classes_``; by default the last class.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        ylim : tuple of float, optional
            Vertical limits; by default from a little below 0 to a little above the largest
            net benefit.
        **kwargs : dict
            Passed to ``Axes.plot`` for the models' curves.

        Returns
        -------
        display : DecisionCurveDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        scores = scores_of_estimators(estimators, X, pos_label=pos_label)
        return cls.from_predictions(y, scores, thresholds=thresholds, harm=harm,
                                    pos_label=pos_label, ax=ax, ylim=ylim, **kwargs)
