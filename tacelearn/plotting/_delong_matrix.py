"""Heatmap of the pairwise DeLong P values between models."""

from __future__ import annotations

import numpy as np

from ..metrics import delong_test_matrix
from ._base import get_axes, scores_of_estimators

__all__ = ["DelongMatrixDisplay"]


def _format_cell(pvalue, decimals):
    floor = 10.0 ** -decimals
    return f"<{floor:.{decimals}f}" if pvalue < floor else f"{pvalue:.{decimals}f}"


class DelongMatrixDisplay:
    """Matrix of pairwise DeLong test P values, annotated, one row and column per model.

    Cell (i, j) holds the P value of the DeLong test of AUC_i against AUC_j
    (:func:`tacelearn.metrics.delong_test_matrix`), uncorrected for multiple comparisons. The
    diagonal is left blank. Create it with :meth:`from_predictions` or :meth:`from_estimator`;
    all parameters are stored as attributes.

    Parameters
    ----------
    pvalues : pandas.DataFrame of shape (n_models, n_models)
        P values, indexed and labelled by model name.

    Attributes
    ----------
    im_ : matplotlib.image.AxesImage
        The heatmap (colour = P value, on a 0-1 scale).
    text_ : numpy.ndarray of matplotlib.text.Text of shape (n_models, n_models)
        The annotations; ``None`` on the diagonal.
    colorbar_ : matplotlib.colorbar.Colorbar or None
        The colour bar, if drawn.
    ax_ : matplotlib.axes.Axes
        The axes drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    See Also
    --------
    tacelearn.metrics.delong_roc_test : One pair, with the statistic and interval.
    MultiRocDisplay : The curves being compared.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.plotting import DelongMatrixDisplay
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile([0, 1], 40)
    >>> scores = {"strong": y + rng.normal(0, 0.6, 80), "weak": y + rng.normal(0, 2.0, 80),
    ...           "noise": rng.normal(0, 1, 80)}
    >>> display = DelongMatrixDisplay.from_predictions(y, scores)
    >>> display.text_[0, 1].get_text(), display.text_[0, 2].get_text()
    ('0.011', '<0.001')
    >>> import matplotlib.pyplot as plt
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, pvalues):
        self.pvalues = pvalues

    def plot(self, ax=None, *, cmap="Blues_r", decimals=3, colorbar=True, **kwargs):
        """Draw the heatmap.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        cmap : str or matplotlib.colors.Colormap, default="Blues_r"
            Colour map; small P values are dark by default.
        decimals : int, default=3
            Decimals of the annotations (smaller P values print as ``<0.001``).
        colorbar : bool, default=True
            Add a colour bar.
        **kwargs : dict
            Passed to ``Axes.imshow``.

        Returns
        -------
        display : DelongMatrixDisplay
            This display, with its artists, ``ax_`` and ``figure_`` set.
        """
        ax = get_axes(ax)
        values = self.pvalues.to_numpy(dtype=float)
        n_models = values.shape[0]
        shown = values.copy()
        np.fill_diagonal(shown, np.nan)
        style = {"cmap": cmap, "vmin": 0.0, "vmax": 1.0, **kwargs}
        self.im_ = ax.imshow(shown, **style)
        colormap = self.im_.cmap
        self.text_ = np.empty((n_models, n_models), dtype=object)
        for i in range(n_models):
            for j in range(n_models):
                if i == j:
                    continue
                # Dark cells get white text, light cells black.
                red, green, blue, _ = colormap(self.im_.norm(values[i, j]))
                color = "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"
                self.text_[i, j] = ax.text(j, i, _format_cell(values[i, j], decimals),
                                           ha="center", va="center", color=color, fontsize=9)
        names = [str(name) for name in self.pvalues.columns]
        ax.set_xticks(np.arange(n_models), names, rotation=45, ha="right")
        ax.set_yticks(np.arange(n_models), [str(name) for name in self.pvalues.index])
        ax.set_title("DeLong test P values", fontsize=10)
        self.colorbar_ = ax.figure.colorbar(self.im_, ax=ax, label="P value") if colorbar \
            else None
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_predictions(cls, y_true, scores, *, alternative="two-sided", pos_label=None,
                         ax=None, **kwargs):
        """DeLong P values of models scored on the same patients.

        Parameters
        ----------
        y_true : array-like of shape (n_patients,)
            Binary outcome.
        scores : mapping, DataFrame or array-like
            One score vector per model.
        alternative : {"two-sided", "greater", "less"}, default="two-sided"
            Cell (i, j) tests AUC_i against AUC_j with this alternative.
        pos_label : int, float, bool or str, optional
            The case label; may be omitted for 0/1 and boolean outcomes.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        **kwargs : dict
            Passed to :meth:`plot` (``cmap``, ``decimals``, ``colorbar``), the rest to
            ``Axes.imshow``.

        Returns
        -------
        display : DelongMatrixDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        pvalues = delong_test_matrix(y_true, scores, alternative=alternative,
                                     pos_label=pos_label)
        return cls(pvalues=pvalues).plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, estimators, X, y, *, alternative="two-sided", pos_label=None,
                       ax=None, **kwargs):
        """DeLong P values of fitted classifiers on the same cohort.

        Parameters
        ----------
        estimators : mapping of str to estimator
            Fitted classifiers, at least two.
        X : array-like or pandas.DataFrame
            The cohort to score.
        y : array-like of shape (n_patients,)
            Its outcome.
        alternative : {"two-sided", "greater", "less"}, default="two-sided"
            Cell (i, j) tests AUC_i against AUC_j with this alternative.
        pos_label : int, float, bool or str, optional
            The case label, among the estimators' ``classes_``; by default the last class.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure otherwise.
        **kwargs : dict
            Passed to :meth:`plot` (``cmap``, ``decimals``, ``colorbar``), the rest to
            ``Axes.imshow``.

        Returns
        -------
        display : DelongMatrixDisplay
            A new display, drawn, with its artists, ``ax_`` and ``figure_`` set.
        """
        scores = scores_of_estimators(estimators, X, pos_label=pos_label)
        return cls.from_predictions(y, scores, alternative=alternative, pos_label=pos_label,
                                    ax=ax, **kwargs)
