"""Calibration plot: the loess calibration curve with its bootstrap band, the ideal line and the
distribution of the predictions."""

from __future__ import annotations

import numpy as np

from ..metrics import calibration_metrics, loess_calibration_curve
from ..utils import check_scores
from ._base import get_axes, positive_scores

__all__ = ["CalibrationCurveDisplay"]

# The histogram of the predictions fills at most this fraction of the height of the plot.
_HISTOGRAM_HEIGHT = 0.12
_HISTOGRAM_BINS = 50


class CalibrationCurveDisplay:
    """Flexible calibration curve (loess) of one model, with a confidence band.

    The observed event rate against the predicted probability, estimated by R's default
    ``loess(y ~ p)`` (see :func:`tacelearn.metrics.loess_calibration_curve`), with its pointwise
    bootstrap band, the ideal diagonal and a histogram of the predictions along the bottom, as
    in Austin & Steyerberg (2019) and Van Calster et al. (2016). The legend gives
    calibration-in-the-large, the calibration slope and the ICI. Unlike scikit-learn's
    :class:`~sklearn.calibration.CalibrationDisplay` (binned proportions) the curve is smooth
    and carries its uncertainty. Create it with :meth:`from_predictions` or
    :meth:`from_estimator`; all parameters are stored as attributes.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`tacelearn.metrics.loess_calibration_curve`: columns ``predicted``,
        ``observed``, ``low``, ``high``.
    y_prob : ndarray of shape (n_patients,)
        The predictions, for the histogram.
    name : str, optional
        Name of the model in the legend.
    calibration : tacelearn.metrics.CalibrationResult, optional
        Its intercept, slope and ICI are written in the legend.
    confidence_level : float, default=0.95
        Level of the band, for the legend.

    Attributes
    ----------
    line_ : matplotlib.lines.Line2D
        The calibration curve.
    band_ : matplotlib.collections.PolyCollection or None
        The confidence band.
    ideal_line_ : matplotlib.lines.Line2D or None
        The diagonal of perfect calibration.
    histogram_ : matplotlib.container.BarContainer or None
        The histogram of the predictions.
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    See Also
    --------
    tacelearn.metrics.calibration_metrics : Intercept, slope, Brier scores, ICI, E50, E90, Emax.
    tacelearn.validation.LogisticRecalibrator : Recalibrate a model on a local sample.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.plotting import CalibrationCurveDisplay
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 300)
    >>> y = rng.random(300) < p
    >>> display = CalibrationCurveDisplay.from_predictions(y, p, name="model", n_resamples=50,
    ...                                                    random_state=0)
    >>> display.ax_.get_legend().get_texts()[0].get_text()
    'model: intercept -0.13, slope 1.13, ICI 0.045'
    >>> import matplotlib.pyplot as plt
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, curve, y_prob, name=None, calibration=None, confidence_level=0.95):
        self.curve = curve
        self.y_prob = y_prob
        self.name = name
        self.calibration = calibration
        self.confidence_level = confidence_level

    def _label(self, name):
        if self.calibration is None:
            return name
        summary = (f"intercept {self.calibration.calibration_intercept:.2f}, "
                   f"slope {self.calibration.calibration_slope:.2f}, "
                   f"ICI {self.calibration.ici:.3f}")
        return f"{name}: {summary}" if name else summary

    def _draw_histogram(self, ax):
        counts, edges = np.histogram(self.y_prob, bins=_HISTOGRAM_BINS, range=(0.0, 1.0))
        heights = _HISTOGRAM_HEIGHT * counts / max(int(counts.max()), 1)
        return ax.bar(edges[:-1], heights, width=np.diff(edges), align="edge", color="0.75",
                      edgecolor="none", label="_predictions", zorder=0)

    def plot(self, ax=None, *, name=None, plot_ideal=True, show_band=True, show_histogram=True,
             **kwargs):
        """Draw the curve.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        name : str, optional
            Overrides the stored ``name`` in the legend.
        plot_ideal : bool, default=True
            Draw the diagonal (turn it off when adding a second model to the same axes).
        show_band : bool, default=True
            Draw the confidence band.
        show_histogram : bool, default=True
            Draw the histogram of the predictions along the bottom.
        **kwargs : dict
            Passed to ``Axes.plot`` for the curve (``color``, ``linewidth``...).

        Returns
        -------
        display : CalibrationCurveDisplay
            This display, with its artists, ``ax_`` and ``figure_`` set.
        """
        missing = [c for c in ("predicted", "observed", "low", "high")
                   if c not in self.curve.columns]
        if missing:
            raise ValueError(f"curve lacks the columns {missing}; pass the output of "
                             "loess_calibration_curve")
        ax = get_axes(ax)
        label = self._label(self.name if name is None else name)
        (self.line_,) = ax.plot(self.curve["predicted"], self.curve["observed"], label=label,
                                **kwargs)
        self.band_ = None
        if show_band and np.isfinite(self.curve[["low", "high"]].to_numpy()).any():
            level = f"{100 * self.confidence_level:g}%"
            self.band_ = ax.fill_between(self.curve["predicted"], self.curve["low"],
                                         self.curve["high"], color=self.line_.get_color(),
                                         alpha=0.2, linewidth=0, label=f"{level} CI")
        self.ideal_line_ = None
        if plot_ideal:
            (self.ideal_line_,) = ax.plot([0, 1], [0, 1], color="0.4", linestyle="--",
                                          linewidth=0.8, label="Ideal", zorder=1)
        self.histogram_ = self._draw_histogram(ax) if show_histogram else None
        ax.set(xlim=(0.0, 1.0), ylim=(0.0, 1.0), aspect="equal",
               xlabel="Predicted probability", ylabel="Observed proportion")
        ax.legend(loc="upper left", fontsize=8)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_predictions(cls, y_true, y_prob, *, name=None, points=101, span=0.75,
                         confidence_level=0.95, n_resamples=200, random_state=None,
                         pos_label=None, ax=None, plot_ideal=True, show_band=True,
                         show_histogram=True, **kwargs):
        """Calibration curve of predicted probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_patients,)
            Binary outcome.
        y_prob : array-like of shape (n_patients,)
            Predicted probabilities of the case label.
        name : str, optional
            Name of the model in the legend.
        points : int or array-like, default=101
            Where the curve is evaluated (see
            :func:`tacelearn.metrics.loess_calibration_curve`).
        span : float, default=0.75
            Fraction of the patients in each loess neighbourhood.
        confidence_level : float, default=0.95
            Level of the band.
        n_resamples : int, default=200
            Bootstrap resamples of the band; 0 draws no band.
        random_state : int, RandomState instance or None, default=None
            Seed of the bootstrap.
        pos_label : int, float, bool or str, optional
            The case label; may be omitted for 0/1 and boolean outcomes.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        plot_ideal : bool, default=True
            Draw the diagonal of perfect calibration.
        show_band : bool, default=True
            Draw the confidence band.
        show_histogram : bool, default=True
            Draw the histogram of the predictions along the bottom.
        **kwargs : dict
            Passed to ``Axes.plot`` for the curve (``color``, ``linewidth``...).

        Returns
        -------
        display : CalibrationCurveDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        curve = loess_calibration_curve(y_true, y_prob, points=points, span=span,
                                        confidence_level=confidence_level,
                                        n_resamples=n_resamples, random_state=random_state,
                                        pos_label=pos_label)
        calibration = calibration_metrics(y_true, y_prob, n_resamples=0, span=span,
                                          pos_label=pos_label)
        probabilities = check_scores(y_prob, calibration.n_samples, name="y_prob",
                                     probability=True)
        display = cls(curve=curve, y_prob=probabilities, name=name, calibration=calibration,
                      confidence_level=confidence_level)
        return display.plot(ax=ax, plot_ideal=plot_ideal, show_band=show_band,
                            show_histogram=show_histogram, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, name=None, points=101, span=0.75,
                       confidence_level=0.95, n_resamples=200, random_state=None,
                       pos_label=None, ax=None, plot_ideal=True, show_band=True,
                       show_histogram=True, **kwargs):
        """Calibration curve of a fitted classifier on a cohort.

        Parameters
        ----------
        estimator : classifier
            Fitted, with ``predict_proba``.
        X : array-like or pandas.DataFrame
            The cohort to score.
        y : array-like of shape (n_patients,)
            Its outcome.
        name : str, optional
            Name in the legend; default the estimator's class name.
        points : int or array-like, default=101
            Where the curve is evaluated (see
            :func:`tacelearn.metrics.loess_calibration_curve`).
        span : float, default=0.75
            Fraction of the patients in each loess neighbourhood.
        confidence_level : float, default=0.95
            Level of the band.
        n_resamples : int, default=200
            Bootstrap resamples of the band; 0 draws no band.
        random_state : int, RandomState instance or None, default=None
            Seed of the bootstrap.
        pos_label : int, float, bool or str, optional
            The case label, among ``estimator.classes_``; may be omitted for 0/1 and boolean
            outcomes.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        plot_ideal : bool, default=True
            Draw the diagonal of perfect calibration.
        show_band : bool, default=True
            Draw the confidence band.
        show_histogram : bool, default=True
            Draw the histogram of the predictions along the bottom.
        **kwargs : dict
            Passed to ``Axes.plot`` for the curve (``color``, ``linewidth``...).

        Returns
        -------
        display : CalibrationCurveDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        if not hasattr(estimator, "predict_proba"):
            raise TypeError(f"{type(estimator).__name__} has no predict_proba; a calibration "
                            "curve needs probabilities")
        y_prob = positive_scores(estimator, X, pos_label=pos_label)
        return cls.from_predictions(
            y, y_prob, name=type(estimator).__name__ if name is None else name, points=points,
            span=span, confidence_level=confidence_level, n_resamples=n_resamples,
            random_state=random_state, pos_label=pos_label, ax=ax, plot_ideal=plot_ideal,
            show_band=show_band, show_histogram=show_histogram, **kwargs)
