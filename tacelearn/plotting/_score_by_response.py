"""Scores of responders and non-responders: box plots with every patient as a point."""

from __future__ import annotations

import numpy as np

from ..stats import mann_whitney_u
from ..utils import check_binary_outcome, check_scores, format_pvalue
from ._base import RESPONSE_COLORS, get_axes, positive_scores

__all__ = ["ScoreByResponseDisplay"]


class ScoreByResponseDisplay:
    """Box plots of the scores by true response, each patient a jittered point.

    The title gives the two-sided Mann-Whitney U test (:func:`tacelearn.stats.mann_whitney_u`,
    exact or normal as R's ``wilcox.test`` chooses)
    between the groups, the usual companion of this figure. Create it with
    :meth:`from_predictions` or :meth:`from_estimator`; all parameters are stored as
    attributes.

    Parameters
    ----------
    y_score : numpy.ndarray of shape (n_patients,)
        Scores.
    is_response : numpy.ndarray of bool of shape (n_patients,)
        True for the responders.
    labels : tuple of str, default=("NOR", "OR")
        Names of non-responders and responders (x axis).
    pvalue : float, optional
        Mann-Whitney P value shown in the title.

    Attributes
    ----------
    boxplot_ : dict
        What ``Axes.boxplot`` returns (``"boxes"``, ``"medians"``, ``"whiskers"``...), the
        non-responders first.
    points_ : list of matplotlib.collections.PathCollection
        The jittered points of non-responders and responders.
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    See Also
    --------
    ScoreWaterfallDisplay : The same scores patient by patient.

    Examples
    --------
    >>> from tacelearn.plotting import ScoreByResponseDisplay
    >>> display = ScoreByResponseDisplay.from_predictions(
    ...     [0, 0, 0, 1, 1, 1], [0.2, 0.3, 0.5, 0.4, 0.7, 0.9])
    >>> display.ax_.get_title()
    'Mann-Whitney P = 0.200'
    >>> [float(line.get_ydata()[0]) for line in display.boxplot_["medians"]]
    [0.3, 0.7]
    >>> import matplotlib.pyplot as plt
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, y_score, is_response, labels=("NOR", "OR"), pvalue=None):
        self.y_score = y_score
        self.is_response = is_response
        self.labels = labels
        self.pvalue = pvalue

    def plot(self, ax=None, *, colors=RESPONSE_COLORS, jitter=0.08, random_state=0,
             ylabel="Score", **kwargs):
        """Draw the boxes and points.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        colors : tuple of 2 colours, default=(blue, red)
            Colours of non-responders and responders.
        jitter : float, default=0.08
            Half-width of the horizontal jitter of the points.
        random_state : int, default=0
            Seed of the jitter.
        ylabel : str, default="Score"
            Label of the y axis.
        **kwargs : dict
            Passed to ``Axes.scatter`` (``s``, ``alpha``...).

        Returns
        -------
        display : ScoreByResponseDisplay
            This display, with its artists, ``ax_`` and ``figure_`` set.
        """
        ax = get_axes(ax)
        scores = np.asarray(self.y_score, dtype=float)
        is_response = np.asarray(self.is_response, dtype=bool)
        groups = [scores[~is_response], scores[is_response]]
        self.boxplot_ = ax.boxplot(groups, positions=[0, 1], widths=0.5, showfliers=False,
                                   medianprops={"color": "black"})
        rng = np.random.default_rng(random_state)
        style = {"s": 14, "alpha": 0.7, "linewidths": 0, **kwargs}
        self.points_ = [
            ax.scatter(position + rng.uniform(-jitter, jitter, len(values)), values,
                       color=color, **style)
            for position, values, color in zip((0, 1), groups, colors)
        ]
        ax.set_xticks([0, 1],
                      [f"{label} (n={len(values)})" for label, values in zip(self.labels,
                                                                             groups)])
        ax.set_xlim(-0.6, 1.6)
        ax.set_ylabel(ylabel)
        if self.pvalue is not None:
            ax.set_title(f"Mann-Whitney {format_pvalue(self.pvalue)}", fontsize=10)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_predictions(cls, y_true, y_score, *, pos_label=None, labels=("NOR", "OR"),
                         ax=None, **kwargs):
        """Box plots of given scores by true response.

        Parameters
        ----------
        y_true : array-like of shape (n_patients,)
            True response.
        y_score : array-like of shape (n_patients,)
            Scores.
        pos_label : int, float, bool or str, optional
            The responders' label; may be omitted for 0/1 and boolean outcomes.
        labels : tuple of str, default=("NOR", "OR")
            Names of non-responders and responders.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        **kwargs : dict
            Passed to :meth:`plot` (``colors``, ``jitter``, ``random_state``, ``ylabel``),
            the rest to ``Axes.scatter``.

        Returns
        -------
        display : ScoreByResponseDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        is_response = check_binary_outcome(y_true, pos_label=pos_label)
        scores = check_scores(y_score, is_response.shape[0])
        pvalue = mann_whitney_u(scores[is_response], scores[~is_response]).pvalue
        display = cls(y_score=scores, is_response=is_response, labels=labels,
                      pvalue=float(pvalue))
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, pos_label=None, labels=("NOR", "OR"), ax=None,
                       **kwargs):
        """Box plots of a fitted classifier's probability of response by true response.

        Parameters
        ----------
        estimator : estimator
            Fitted classifier.
        X : array-like or pandas.DataFrame
            The cohort to score.
        y : array-like of shape (n_patients,)
            Its true response.
        pos_label : int, float, bool or str, optional
            The responders' class, whose probability is the score; default the last of
            ``classes_``.
        labels : tuple of str, default=("NOR", "OR")
            Names of non-responders and responders.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        **kwargs : dict
            Passed to :meth:`plot` (``colors``, ``jitter``, ``random_state``, ``ylabel``),
            the rest to ``Axes.scatter``.

        Returns
        -------
        display : ScoreByResponseDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        scores = positive_scores(estimator, X, pos_label=pos_label)
        return cls.from_predictions(y, scores, pos_label=pos_label, labels=labels, ax=ax,
                                    **kwargs)
