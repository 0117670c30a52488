"""The study's figures, drawn with tacelearn's Displays and saved as PNG files."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt

from ..plotting import (
    CalibrationCurveDisplay,
    DecisionCurveDisplay,
    DelongMatrixDisplay,
    KaplanMeierDisplay,
    MultiRocDisplay,
    ScoreByResponseDisplay,
    ScoreWaterfallDisplay,
)
from ..utils import format_number
from ._analysis import score_cut_value, wide_scores
from ._presentation import display_model, display_split
from ._survival_section import ENDPOINTS

__all__ = ["Figure", "draw_figures", "save_figure"]

_DPI = 110


class Figure:
    """A saved figure: where it is, what it shows, which report section it belongs to, and
    the text of its legends (the page gives it as the image's alternative text, so that the
    numbers a legend shows are in the page as text too)."""

    def __init__(self, path, caption, section, legends=()):
        self.path = path
        self.caption = caption
        self.section = section
        self.legends = tuple(legends)


def save_figure(figure, path, caption, section):
    """Write ``figure`` to ``path`` as PNG, close it, and return it as a :class:`Figure`."""
    legends = [text.get_text() for ax in figure.axes if ax.get_legend() is not None
               for text in ax.get_legend().get_texts()]
    figure.savefig(path, dpi=_DPI, bbox_inches="tight")
    plt.close(figure)
    return Figure(path, caption, section, legends)


def legend_below(ax, ncol=1):
    """Move the legend under the axes, where it hides no curve."""
    legend = ax.get_legend()
    if legend is None:
        return
    handles, labels = ax.get_legend_handles_labels()
    legend.remove()
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol,
              fontsize=8, frameon=False)


def _named(wide, models):
    return {display_model(m): wide[m].to_numpy() for m in models if m in wide.columns}


def _discrimination(y, named, split, title, folder):
    figures = []
    display = MultiRocDisplay.from_predictions(y, named)
    display.ax_.set_title(f"ROC curves: {title}")
    legend_below(display.ax_)
    figures.append(save_figure(display.figure_, folder / f"roc_{split}.png",
                               f"ROC curves with DeLong 95% CIs, {title}", "Discrimination"))
    models = {k: v for k, v in named.items() if not k.startswith("Ceiling")}
    if len(models) > 1:
        display = DelongMatrixDisplay.from_predictions(y, models)
        display.ax_.set_title(f"DeLong test P values (unadjusted): {title}")
        figures.append(save_figure(display.figure_, folder / f"delong_{split}.png",
                                   f"Pairwise DeLong tests (unadjusted P), {title}",
                                   "Discrimination"))
    return figures


def _calibration(y, named, split, title, folder, settings):
    models = [(k, v) for k, v in named.items() if not k.startswith("Ceiling")]
    figure, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 4.6),
                                squeeze=False)
    for ax, (name, scores) in zip(axes[0], models):
        ax.set_title(name, fontsize=10)
        try:
            CalibrationCurveDisplay.from_predictions(
                y, scores, name=name, n_resamples=min(settings.n_resamples, 200),
                random_state=settings.random_state, ax=ax)
        except ValueError as error:  # tied predictions (a few binary factors): no loess curve
            warnings.warn(f"no calibration curve of {name}, {title}: {error}", RuntimeWarning,
                          stacklevel=2)
            ax.text(0.5, 0.5, "no loess curve:\ntoo many tied predictions", ha="center",
                    va="center", transform=ax.transAxes)
            continue
        legend_below(ax)
    figure.suptitle(f"Calibration (loess, 95% bootstrap band): {title}", fontsize=11)
    return save_figure(figure, folder / f"calibration_{split}.png",
                       f"Observed against predicted probability of response, {title}",
                       "Calibration")


def _scores(y, score, primary, split, title, folder, settings):
    label = display_model(primary)
    figures = []
    display = ScoreWaterfallDisplay.from_predictions(y, score, cut=settings.threshold)
    display.ax_.set_title(f"{label} scores: {title}")
    figures.append(save_figure(
        display.figure_, folder / f"waterfall_{split}.png",
        f"{label} score per patient, coloured by true response, {title}", "Scores"))
    display = ScoreByResponseDisplay.from_predictions(y, score)
    display.ax_.set_title(f"{label} by response: {title}")
    figures.append(save_figure(
        display.figure_, folder / f"scores_by_response_{split}.png",
        f"{label} score by true response, {title}", "Scores"))
    return figures


def draw_figures(scores, cohort, settings, folder, splits):
    """Draw every figure of the report into ``folder``; return them as :class:`Figure` s.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores: ``patient_id, split, model, score, objective_response``.
    cohort : pandas.DataFrame
        The validated cohort (survival columns).
    settings : StudySettings
        The run's settings.
    folder : pathlib.Path
        Where the PNG files go.
    splits : list of str
        The evaluation splits.

    Returns
    -------
    figures : list of Figure
    """
    figures = []
    models = [*settings.models, "ceiling"]
    for split in splits:
        wide, y = wide_scores(scores, split, models)
        if y.nunique() < 2:
            continue
        named, title = _named(wide, models), display_split(split)
        y = y.to_numpy()
        figures += _discrimination(y, named, split, title, folder)
        figures.append(_calibration(y, named, split, title, folder, settings))
        display = DecisionCurveDisplay.from_predictions(
            y, {k: v for k, v in named.items() if not k.startswith("Ceiling")})
        display.ax_.set_title(f"Decision curves: {title}")
        legend_below(display.ax_, ncol=2)
        figures.append(save_figure(
            display.figure_, folder / f"decision_curve_{split}.png",
            f"Net benefit against treat-all and treat-none, {title}", "Clinical utility"))
        figures += _scores(y, wide[settings.primary].to_numpy(), settings.primary, split,
                           title, folder, settings)
    figures += _survival_figures(scores, cohort, settings, folder, splits)
    return figures


def _survival_figures(scores, cohort, settings, folder, splits):
    figures = []
    primary = settings.primary
    cut = score_cut_value(scores, primary, settings.score_cut, settings.train_split)
    outcomes = cohort.set_index("patient_id")
    for name, time_column, event_column in ENDPOINTS:
        if time_column not in outcomes or event_column not in outcomes:
            continue
        for split in splits:
            rows = scores[(scores["model"] == primary) & (scores["split"] == split)]
            data = outcomes.loc[rows["patient_id"], [time_column, event_column]].assign(
                score=rows["score"].to_numpy()).dropna()
            high = data["score"] >= cut
            if len(data) < 4 or high.all() or not high.any() or data[event_column].sum() == 0:
                continue
            display = KaplanMeierDisplay.from_predictions(
                data[time_column].to_numpy(), data[event_column].to_numpy().astype(int),
                data["score"].to_numpy(), cut=cut)
            # keep the Display's log-rank P under the study's own title
            logrank = display.ax_.get_title()
            display.ax_.set_title(f"{name} by {display_model(primary)} score: "
                                  f"{display_split(split)}\n{logrank}", fontsize=10)
            display.ax_.set_xlabel("Months")
            legend_below(display.ax_, ncol=2)
            figures.append(save_figure(
                display.figure_, folder / f"km_{name.lower()}_{split}.png",
                f"{name} of high vs low {display_model(primary)} score (cut "
                f"{format_number(cut)}, the training {settings.score_cut}), "
                f"{display_split(split)}", "Survival"))
    return figures
