"""Kaplan-Meier curves by group, with the numbers at risk and the log-rank P value."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.transforms import blended_transform_factory

from ..survival import kaplan_meier, logrank_test, split_by_score
from ..utils import format_pvalue
from ._base import get_axes, positive_scores

__all__ = ["KaplanMeierDisplay"]

# Layout of the at-risk table under the axes, in axes fractions: first row, row height, and
# where the group names end (left of the count under x = 0).
_TABLE_TOP, _ROW_HEIGHT, _NAMES_RIGHT = -0.2, 0.07, -0.05


def at_risk_counts(survival, times):
    """Patients of each group still followed at each time (time >= t), from a KM table."""
    counts = {}
    for group, curve in survival.groupby("group", sort=False):
        curve_times = curve["time"].to_numpy()
        at_risk = curve["at_risk"].to_numpy()
        # The first tabulated time at or after t holds everyone with time >= t.
        first = np.searchsorted(curve_times, times, side="left")
        counts[group] = np.where(first < len(curve_times),
                                 at_risk[np.minimum(first, len(curve_times) - 1)], 0)
    return pd.DataFrame(counts, index=pd.Index(times, name="time")).T.rename_axis("group")


class KaplanMeierDisplay:
    """Kaplan-Meier curves of patient groups, as in the paper's survival figures.

    One step curve per group with its pointwise confidence band and censoring marks, the
    log-rank P value in the title, the band's level and type in the lower left corner (e.g.
    "Bands: 95% CI, log", R's ``survfit`` default), and the numbers at risk (patients with a
    follow-up time at or beyond each tick, as R's ``summary.survfit``) in a table under the
    axes. Where R has no interval (after the curve reaches 0) the band stops. Create it with
    :meth:`from_groups`, :meth:`from_predictions` (high/low score groups) or
    :meth:`from_estimator`; all parameters are stored as attributes.

    Parameters
    ----------
    kaplan_meier : tacelearn.survival.KaplanMeierResult
        The curves (:func:`tacelearn.survival.kaplan_meier`).
    logrank : tacelearn.survival.LogrankResult, optional
        The test shown in the title.
    cut : float, optional
        The score cut that made the groups, shown in the title.

    Attributes
    ----------
    lines_ : dict of str to matplotlib.lines.Line2D
        Survival curve of each group.
    confidence_bands_ : dict of str to matplotlib.collections.PolyCollection
        Confidence band of each group (when drawn).
    confidence_label_ : matplotlib.text.Text or None
        The band's level and type, e.g. "Bands: 95% CI, log" (when drawn).
    censor_marks_ : dict of str to matplotlib.lines.Line2D
        Censoring marks of each group (when drawn).
    at_risk_ : pandas.DataFrame
        Numbers at risk, one row per group, one column per tick (when drawn).
    at_risk_texts_ : list of matplotlib.text.Text
        The table's texts.
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    See Also
    --------
    tacelearn.survival.kaplan_meier, tacelearn.survival.logrank_test : The numbers drawn.

    Examples
    --------
    >>> from tacelearn.plotting import KaplanMeierDisplay
    >>> time = [6, 7, 10, 15, 19, 25, 1, 3, 4, 5, 8, 9]
    >>> event = [1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1]
    >>> score = [0.9, 0.8, 0.7, 0.8, 0.9, 0.6, 0.2, 0.3, 0.1, 0.4, 0.3, 0.2]
    >>> display = KaplanMeierDisplay.from_predictions(time, event, score, cut=0.5)
    >>> display.ax_.get_title()
    'Score cut 0.5, log-rank P = 0.012'
    >>> display.confidence_label_.get_text()
    'Bands: 95% CI, log'
    >>> display.at_risk_.loc["low"].tolist()
    [6, 3, 0, 0, 0, 0]
    >>> import matplotlib.pyplot as plt
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, kaplan_meier, logrank=None, cut=None):
        self.kaplan_meier = kaplan_meier
        self.logrank = logrank
        self.cut = cut

    def plot(self, ax=None, *, show_ci=True, show_censors=True, show_at_risk=True,
             xlabel="Time (months)", ylabel="Survival probability", **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure (with room for the at-risk table) otherwise.
        show_ci : bool, default=True
            Shade the pointwise confidence band and name its level and type.
        show_censors : bool, default=True
            Mark censored patients with ``+``.
        show_at_risk : bool, default=True
            Write the numbers at risk under the axes, at the x ticks.
        xlabel, ylabel : str
            Axis labels (e.g. ``ylabel="Progression-free survival"``).
        **kwargs : dict
            Passed to ``Axes.step`` for every curve.

        Returns
        -------
        display : KaplanMeierDisplay
            This display, with its artists, ``ax_`` and ``figure_`` set.
        """
        new_figure = ax is None
        ax = get_axes(ax)
        survival = self.kaplan_meier.survival
        summary = self.kaplan_meier.summary
        self.lines_, self.confidence_bands_, self.censor_marks_ = {}, {}, {}
        self.confidence_label_ = None
        for group, curve in survival.groupby("group", sort=False):
            label = f"{group} (n={int(summary.loc[group, 'n'])})"
            (line,) = ax.step(curve["time"], curve["survival"], where="post", label=label,
                              **kwargs)
            self.lines_[group] = line
            if show_ci:
                self.confidence_bands_[group] = ax.fill_between(
                    curve["time"], curve["ci_lower"], curve["ci_upper"], step="post",
                    alpha=0.15, color=line.get_color(), linewidth=0)
            if show_censors:
                censored = curve[curve["censored"] > 0]
                (self.censor_marks_[group],) = ax.plot(
                    censored["time"], censored["survival"], linestyle="none", marker="+",
                    markersize=7, color=line.get_color())
        if show_ci:
            self.confidence_label_ = ax.text(0.01, 0.02, self._confidence_text(),
                                             transform=ax.transAxes, fontsize=7, va="bottom",
                                             color="0.3")
        ax.set_xlim(0, float(survival["time"].max()) * 1.02 or 1.0)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper right", fontsize=8)
        ax.set_title(self._title(), fontsize=10)
        self.at_risk_texts_ = []
        if show_at_risk:
            self._draw_at_risk(ax)
            if new_figure:
                # The table hangs below the axes by a fraction of the axes' own height:
                # bottom = depth * (top - bottom), solved for bottom.
                depth = -_TABLE_TOP + _ROW_HEIGHT * (len(self.lines_) + 1.5)
                top = ax.figure.subplotpars.top
                ax.figure.subplots_adjust(bottom=top * depth / (1 + depth))
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _confidence_text(self):
        level = f"{100 * self.kaplan_meier.confidence_level:g}%"
        return f"Bands: {level} CI, {self.kaplan_meier.conf_type}"

    def _title(self):
        parts = []
        if self.cut is not None:
            parts.append(f"Score cut {self.cut:.3g}")
        if self.logrank is not None:
            parts.append(f"log-rank {format_pvalue(self.logrank.pvalue)}")
        title = ", ".join(parts)
        return title[:1].upper() + title[1:]

    def _draw_at_risk(self, ax):
        low, high = ax.get_xlim()
        ticks = np.array([t for t in ax.get_xticks() if low <= t <= high])
        self.at_risk_ = at_risk_counts(self.kaplan_meier.survival, ticks)
        under_axes = blended_transform_factory(ax.transData, ax.transAxes)
        self.at_risk_texts_.append(ax.text(0, _TABLE_TOP, "Number at risk",
                                           transform=ax.transAxes, fontsize=8,
                                           fontweight="bold", va="center"))
        for row, (group, counts) in enumerate(self.at_risk_.iterrows(), start=1):
            y = _TABLE_TOP - row * _ROW_HEIGHT
            color = self.lines_[group].get_color()
            self.at_risk_texts_.append(ax.text(_NAMES_RIGHT, y, str(group),
                                               transform=ax.transAxes,
                                               ha="right", va="center", fontsize=8,
                                               color=color))
            self.at_risk_texts_ += [
                ax.text(tick, y, str(int(count)), transform=under_axes, ha="center",
                        va="center", fontsize=8, color=color)
                for tick, count in counts.items()
            ]

    @classmethod
    def from_groups(cls, time, event, groups, *, confidence_level=0.95, conf_type="log", ax=None,
                    **kwargs):
        """Curves of given groups, compared by the log-rank test.

        Parameters
        ----------
        time : array-like of shape (n_patients,)
            Follow-up times (e.g. ``pfs_months``).
        event : array-like of shape (n_patients,)
            1 where the event was observed, 0 where censored.
        groups : array-like of shape (n_patients,)
            Group of each patient.
        confidence_level : float, default=0.95
            Level of the confidence bands.
        conf_type : {"log", "log-log", "plain"}, default="log"
            Type of the bands, as R's ``survfit(conf.type = ...)``.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure (with room for the at-risk table) otherwise.
        **kwargs : dict
            Passed to :meth:`plot` (``show_ci``, ``show_censors``, ``show_at_risk``,
            ``xlabel``, ``ylabel``), the rest to ``Axes.step`` for every curve.

        Returns
        -------
        display : KaplanMeierDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        curves = kaplan_meier(time, event, groups, confidence_level=confidence_level,
                              conf_type=conf_type)
        test = logrank_test(time, event, groups) if len(curves.summary) > 1 else None
        return cls(kaplan_meier=curves, logrank=test).plot(ax=ax, **kwargs)

    @classmethod
    def from_predictions(cls, time, event, y_score, *, cut="mean", confidence_level=0.95,
                         conf_type="log", ax=None, **kwargs):
        """Curves of the high and low score groups (:func:`~tacelearn.survival.split_by_score`).

        Parameters
        ----------
        time : array-like of shape (n_patients,)
            Follow-up times (e.g. ``pfs_months``).
        event : array-like of shape (n_patients,)
            1 where the event was observed, 0 where censored.
        y_score : array-like of shape (n_patients,)
            Model scores; a score equal to the cut is "high".
        cut : {"mean", "median"} or float, default="mean"
            Where to split, as the paper did at the mean.
        confidence_level : float, default=0.95
            Level of the confidence bands.
        conf_type : {"log", "log-log", "plain"}, default="log"
            Type of the bands, as R's ``survfit(conf.type = ...)``.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure (with room for the at-risk table) otherwise.
        **kwargs : dict
            Passed to :meth:`plot` (``show_ci``, ``show_censors``, ``show_at_risk``,
            ``xlabel``, ``ylabel``), the rest to ``Axes.step`` for every curve.

        Returns
        -------
        display : KaplanMeierDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        groups, cut_value = split_by_score(y_score, cut=cut)
        curves = kaplan_meier(time, event, groups, confidence_level=confidence_level,
                              conf_type=conf_type)
        test = logrank_test(time, event, groups) if len(curves.summary) > 1 else None
        return cls(kaplan_meier=curves, logrank=test, cut=cut_value).plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, X, time, event, *, cut="mean", pos_label=None,
                       confidence_level=0.95, conf_type="log", ax=None, **kwargs):
        """Curves of the high and low groups of a fitted classifier's scores.

        Parameters
        ----------
        estimator : estimator
            Fitted classifier; its probability of the positive class (response) is the score.
        X : array-like or pandas.DataFrame
            The cohort to score.
        time : array-like of shape (n_patients,)
            Follow-up times (e.g. ``pfs_months``).
        event : array-like of shape (n_patients,)
            1 where the event was observed, 0 where censored.
        cut : {"mean", "median"} or float, default="mean"
            Where to split the scores; a score equal to the cut is "high".
        pos_label : int, float, bool or str, optional
            The class whose probability is the score; default the last of ``classes_``.
        confidence_level : float, default=0.95
            Level of the confidence bands.
        conf_type : {"log", "log-log", "plain"}, default="log"
            Type of the bands, as R's ``survfit(conf.type = ...)``.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure (with room for the at-risk table) otherwise.
        **kwargs : dict
            Passed to :meth:`plot` (``show_ci``, ``show_censors``, ``show_at_risk``,
            ``xlabel``, ``ylabel``), the rest to ``Axes.step`` for every curve.

        Returns
        -------
        display : KaplanMeierDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        scores = positive_scores(estimator, X, pos_label=pos_label)
        return cls.from_predictions(time, event, scores, cut=cut,
                                    confidence_level=confidence_level, conf_type=conf_type,
                                    ax=ax, **kwargs)
