"""ROC curves of several models in one axes, each with its AUC and DeLong interval."""

from __future__ import annotations

from sklearn.metrics import roc_curve

from ..metrics import delong_roc_ci, delong_roc_variance, roc_direction
from ..utils import check_binary_outcome, check_named_scores, format_number
from ._base import get_axes, scores_of_estimators

__all__ = ["MultiRocDisplay"]


class MultiRocDisplay:
    """ROC curves of several models, with the AUC and its DeLong confidence interval.

    The paper's Figure 3 in one call: every model on the same patients, the legend entry of
    each reading ``name: AUC 0.822 (95% CI 0.751-0.893)``. The interval is DeLong's
    (:func:`tacelearn.metrics.delong_roc_ci`, as pROC's ``ci.auc``). Higher scores mean
    "more likely a case" and curves are never flipped (pROC's ``direction = "<"``) unless
    ``direction`` says otherwise. Create it with :meth:`from_predictions` or
    :meth:`from_estimator`; all parameters are stored as attributes.

    Parameters
    ----------
    fpr : list of numpy.ndarray
        False positive rates of each model (:func:`sklearn.metrics.roc_curve`).
    tpr : list of numpy.ndarray
        True positive rates of each model.
    roc_auc : list of float
        AUC of each model.
    auc_ci : list of tuple of float
        ``(low, high)`` DeLong interval of each AUC.
    names : list of str
        Model names.
    confidence_level : float, default=0.95
        Level of the intervals, for the legend.
    directions : list of str, optional
        The pROC direction of each curve (``"<"`` or ``">"``); a ``">"`` curve is labelled
        so.

    Attributes
    ----------
    lines_ : list of matplotlib.lines.Line2D
        One ROC curve per model.
    chance_level_ : matplotlib.lines.Line2D or None
        The diagonal.
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    See Also
    --------
    sklearn.metrics.RocCurveDisplay : One model, no interval.
    DelongMatrixDisplay : P values of the pairwise DeLong tests.

    Examples
    --------
    >>> from tacelearn.plotting import MultiRocDisplay
    >>> y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    >>> scores = {"m2": [.30, .20, .50, .40, .10, .60, .35, .70, .45, .80, .25, .75]}
    >>> display = MultiRocDisplay.from_predictions(y, scores)
    >>> [text.get_text() for text in display.ax_.get_legend().get_texts()][0]
    'm2: AUC 0.750 (95% CI 0.452-1.000)'
    >>> import matplotlib.pyplot as plt
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, fpr, tpr, roc_auc, auc_ci, names, confidence_level=0.95,
                 directions=None):
        self.fpr = fpr
        self.tpr = tpr
        self.roc_auc = roc_auc
        self.auc_ci = auc_ci
        self.names = names
        self.confidence_level = confidence_level
        self.directions = directions

    def plot(self, ax=None, *, plot_chance_level=True, decimals=3, **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        plot_chance_level : bool, default=True
            Draw the diagonal of a useless test.
        decimals : int, default=3
            Decimals of the AUC and its interval in the legend.
        **kwargs : dict
            Passed to every ``Axes.plot`` call of a curve (``linewidth``...).

        Returns
        -------
        display : MultiRocDisplay
            This display, with its artists, ``ax_`` and ``figure_`` set.
        """
        ax = get_axes(ax)
        level = f"{100 * self.confidence_level:g}%"
        directions = self.directions or ["<"] * len(self.names)
        self.lines_ = []
        for fpr, tpr, auc, (low, high), name, direction in zip(
                self.fpr, self.tpr, self.roc_auc, self.auc_ci, self.names, directions):
            flipped = " (lower score = case)" if direction == ">" else ""
            # The report's one formatter, so that the legend reads as Table 2 does.
            label = (f"{name}{flipped}: AUC {format_number(auc, decimals)} "
                     f"({level} CI {format_number(low, decimals)}-"
                     f"{format_number(high, decimals)})")
            (line,) = ax.plot(fpr, tpr, label=label, **kwargs)
            self.lines_.append(line)
        self.chance_level_ = None
        if plot_chance_level:
            (self.chance_level_,) = ax.plot([0, 1], [0, 1], color="0.6", linestyle="--",
                                            linewidth=0.8, label="_chance level")
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal",
               xlabel="1 - specificity (false positive rate)",
               ylabel="Sensitivity (true positive rate)")
        ax.legend(loc="lower right", fontsize=8)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_predictions(cls, y_true, scores, *, pos_label=None, confidence_level=0.95,
                         direction="<", drop_intermediate=True, ax=None,
                         plot_chance_level=True, decimals=3, **kwargs):
        """ROC curves of models scored on the same patients.

        Parameters
        ----------
        y_true : array-like of shape (n_patients,)
            Binary outcome (e.g. objective response).
        scores : mapping, DataFrame or array-like
            One score vector per model: a mapping of name to scores, a DataFrame with one
            column per model, a 2-D array (models ``model_0``...) or one 1-D array.
        pos_label : int, float, bool or str, optional
            The case label; may be omitted for 0/1 and boolean outcomes.
        confidence_level : float, default=0.95
            Level of the DeLong intervals.
        direction : {"<", ">", "auto"}, default="<"
            pROC's ``direction``: ``"<"`` (higher score = case, never flipped), ``">"``, or
            ``"auto"`` (per model, pROC's rule: :func:`tacelearn.metrics.roc_direction`).
        drop_intermediate : bool, default=True
            Drop the thresholds that do not change the curve's shape, as
            :func:`sklearn.metrics.roc_curve` does.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        plot_chance_level : bool, default=True
            Draw the diagonal of a useless test.
        decimals : int, default=3
            Decimals of the AUC and its interval in the legend.
        **kwargs : dict
            Passed to every ``Axes.plot`` call of a curve (``linewidth``...).

        Returns
        -------
        display : MultiRocDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        is_case = check_binary_outcome(y_true, pos_label=pos_label)
        names, matrix = check_named_scores(scores, is_case.shape[0])
        fpr, tpr, aucs, intervals, directions = [], [], [], [], []
        for row in matrix:
            resolved = roc_direction(is_case, row, direction)
            oriented = -row if resolved == ">" else row
            false_positive, true_positive, _ = roc_curve(is_case, oriented,
                                                         drop_intermediate=drop_intermediate)
            fpr.append(false_positive)
            tpr.append(true_positive)
            aucs.append(delong_roc_variance(is_case, oriented)[0])
            intervals.append(tuple(delong_roc_ci(is_case, oriented, confidence_level)))
            directions.append(resolved)
        display = cls(fpr=fpr, tpr=tpr, roc_auc=aucs, auc_ci=intervals, names=names,
                      confidence_level=confidence_level, directions=directions)
        return display.plot(ax=ax, plot_chance_level=plot_chance_level, decimals=decimals,
                            **kwargs)

    @classmethod
    def from_estimator(cls, estimators, X, y, *, pos_label=None, confidence_level=0.95,
                       direction="<", drop_intermediate=True, ax=None, plot_chance_level=True,
                       decimals=3, **kwargs):
        """ROC curves of fitted classifiers on the same cohort.

        Parameters
        ----------
        estimators : estimator or mapping of str to estimator
            Fitted classifiers (e.g. ``{"DLTR_MLP": pipeline, ...}``); their
            ``predict_proba`` for the positive class is the score.
        X : array-like or pandas.DataFrame
            The cohort to score.
        y : array-like of shape (n_patients,)
            Its outcome.
        pos_label : int, float, bool or str, optional
            The case label, among the estimators' ``classes_``; by default the last class.
        confidence_level : float, default=0.95
            Level of the DeLong intervals.
        direction : {"<", ">", "auto"}, default="<"
            pROC's ``direction`` (see :meth:`from_predictions`).
        drop_intermediate : bool, default=True
            Drop the thresholds that do not change the curve's shape.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        plot_chance_level : bool, default=True
            Draw the diagonal of a useless test.
        decimals : int, default=3
            Decimals of the AUC and its interval in the legend.
        **kwargs : dict
            Passed to every ``Axes.plot`` call of a curve (``linewidth``...).

        Returns
        -------
        display : MultiRocDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        scores = scores_of_estimators(estimators, X, pos_label=pos_label)
        return cls.from_predictions(y, scores, pos_label=pos_label,
                                    confidence_level=confidence_level, direction=direction,
                                    drop_intermediate=drop_intermediate, ax=ax,
                                    plot_chance_level=plot_chance_level, decimals=decimals,
                                    **kwargs)
