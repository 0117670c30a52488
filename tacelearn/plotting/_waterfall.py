"""Waterfall of model scores: one bar per patient, sorted, coloured by the true response."""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Patch

from ..survival import split_by_score
from ..utils import check_binary_outcome, check_scores
from ._base import RESPONSE_COLORS, get_axes, positive_scores

__all__ = ["ScoreWaterfallDisplay"]


class ScoreWaterfallDisplay:
    """Waterfall plot of scores: patients sorted by score, bars measured from a cut.

    Each bar is ``score - cut`` for one patient, highest score on the left, coloured by the
    patient's true response, so that responders above the cut and non-responders below it
    show how well the score separates them. Create it with :meth:`from_predictions` or
    :meth:`from_estimator`; all parameters are stored as attributes.

    Parameters
    ----------
    y_score : numpy.ndarray of shape (n_patients,)
        Scores, in the patients' order.
    is_response : numpy.ndarray of bool of shape (n_patients,)
        True for the responders.
    cut : float
        The level the bars start from.
    labels : tuple of str, default=("NOR", "OR")
        Legend names of non-responders and responders.

    Attributes
    ----------
    order_ : numpy.ndarray of int
        Patient indices from the highest to the lowest score (ties keep their input order).
    bars_ : matplotlib.container.BarContainer
        The bars, in ``order_``.
    cut_line_ : matplotlib.lines.Line2D
        The zero line (the cut).
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    See Also
    --------
    ScoreByResponseDisplay : The same scores as box plots by response.

    Examples
    --------
    >>> from tacelearn.plotting import ScoreWaterfallDisplay
    >>> display = ScoreWaterfallDisplay.from_predictions([1, 0, 1, 0], [0.8, 0.3, 0.6, 0.55])
    >>> [round(float(bar.get_height()), 2) for bar in display.bars_]
    [0.3, 0.1, 0.05, -0.2]
    >>> import matplotlib.pyplot as plt
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, y_score, is_response, cut, labels=("NOR", "OR")):
        self.y_score = y_score
        self.is_response = is_response
        self.cut = cut
        self.labels = labels

    def plot(self, ax=None, *, colors=RESPONSE_COLORS, **kwargs):
        """Draw the bars.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        colors : tuple of 2 colours, default=(blue, red)
            Colours of non-responders and responders.
        **kwargs : dict
            Passed to ``Axes.bar`` (``width``, ``edgecolor``...).

        Returns
        -------
        display : ScoreWaterfallDisplay
            This display, with its artists, ``ax_`` and ``figure_`` set.
        """
        ax = get_axes(ax)
        scores = np.asarray(self.y_score, dtype=float)
        is_response = np.asarray(self.is_response, dtype=bool)
        self.order_ = np.argsort(-scores, kind="stable")
        bar_colors = np.where(is_response[self.order_], colors[1], colors[0])
        style = {"width": 1.0, "linewidth": 0, **kwargs}
        self.bars_ = ax.bar(np.arange(len(scores)), scores[self.order_] - self.cut,
                            color=bar_colors, **style)
        self.cut_line_ = ax.axhline(0.0, color="black", linewidth=0.8)
        ax.legend(handles=[Patch(color=colors[1], label=self.labels[1]),
                           Patch(color=colors[0], label=self.labels[0])],
                  loc="upper right", fontsize=8)
        ax.set_xlim(-0.5, len(scores) - 0.5)
        ax.set_xticks([])
        ax.set_xlabel("Patients, sorted by score")
        ax.set_ylabel(f"Score - {self.cut:.3g}")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_predictions(cls, y_true, y_score, *, cut=0.5, pos_label=None,
                         labels=("NOR", "OR"), ax=None, **kwargs):
        """Waterfall of given scores.

        Parameters
        ----------
        y_true : array-like of shape (n_patients,)
            True response (1 or ``pos_label`` = responder).
        y_score : array-like of shape (n_patients,)
            Scores, e.g. predicted probabilities of response.
        cut : {"mean", "median"} or float, default=0.5
            Level the bars start from: 0.5, the paper's classification threshold, or the
            scores' mean or median (the survival split).
        pos_label : int, float, bool or str, optional
            The responders' label; may be omitted for 0/1 and boolean outcomes.
        labels : tuple of str, default=("NOR", "OR")
            Legend names of non-responders and responders.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        **kwargs : dict
            Passed to :meth:`plot` (``colors``), the rest to ``Axes.bar``.

        Returns
        -------
        display : ScoreWaterfallDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        is_response = check_binary_outcome(y_true, pos_label=pos_label)
        scores = check_scores(y_score, is_response.shape[0])
        cut_value = split_by_score(scores, cut=cut).cut
        display = cls(y_score=scores, is_response=is_response, cut=cut_value, labels=labels)
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, cut=0.5, pos_label=None, labels=("NOR", "OR"),
                       ax=None, **kwargs):
        """Waterfall of a fitted classifier's probability of response.

        Parameters
        ----------
        estimator : estimator
            Fitted classifier.
        X : array-like or pandas.DataFrame
            The cohort to score.
        y : array-like of shape (n_patients,)
            Its true response.
        cut : {"mean", "median"} or float, default=0.5
            Level the bars start from: 0.5, the paper's classification threshold, or the
            scores' mean or median (the survival split).
        pos_label : int, float, bool or str, optional
            The responders' class, whose probability is the score; default the last of
            ``classes_``.
        labels : tuple of str, default=("NOR", "OR")
            Legend names of non-responders and responders.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        **kwargs : dict
            Passed to :meth:`plot` (``colors``), the rest to ``Axes.bar``.

        Returns
        -------
        display : ScoreWaterfallDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        scores = positive_scores(estimator, X, pos_label=pos_label)
        return cls.from_predictions(y, scores, cut=cut, pos_label=pos_label, labels=labels,
                                    ax=ax, **kwargs)
