"""The study's figures, drawn with tacelearn's Displays and saved as PNG files."""

from __future__ import annotations

import matplotlib.pyplot as plt

from ..plotting import (
    DecisionCurveDisplay,
    DelongMatrixDisplay,
    KaplanMeierDisplay,
    MultiRocDisplay,
    ScoreByResponseDisplay,
    ScoreWaterfallDisplay,
)
from ._analysis import ENDPOINTS, score_cut_value
from ._options import MODEL_LABELS

__all__ = ["Figure", "draw_figures", "save_figure"]

_DPI = 110


class Figure:
    """A saved figure: where it is, what it shows and which report section it belongs to."""

    def __init__(self, path, caption, section):
        self.path = path
        self.caption = caption
        self.section = section


def save_figure(figure, path, caption, section):
    """Write ``figure`` to ``path`` as PNG, close it, and return it as a :class:`Figure`."""
    figure.savefig(path, dpi=_DPI, bbox_inches="tight")
    plt.close(figure)
    return Figure(path, caption, section)


def _wide(scores, split):
    rows = scores[(scores["split"] == split) & scores["objective_response"].notna()]
    wide = rows.pivot(index="patient_id", columns="model", values="score")
    y = rows.drop_duplicates("patient_id").set_index("patient_id")["objective_response"]
    return wide, y.loc[wide.index].astype(int)


def _label(model):
    return MODEL_LABELS.get(model, model)


def draw_figures(scores, cohort, options, folder):
    """Draw every figure of the report into ``folder``; return them as :class:`Figure` s.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores: ``patient_id, split, model, score, objective_response``.
    cohort : pandas.DataFrame
        The validated cohort (survival columns).
    options : StudyOptions
        The run's settings.
    folder : pathlib.Path
        Where the PNG files go.

    Returns
    -------
    figures : list of Figure
    """
    figures = []
    evaluation = [s for s in scores["split"].unique() if s != options.train_split]
    primary = options.primary
    for split in evaluation:
        wide, y = _wide(scores, split)
        if y.nunique() < 2:
            continue
        named = {_label(m): wide[m].to_numpy() for m in wide.columns}

        display = MultiRocDisplay.from_predictions(y.to_numpy(), named)
        display.ax_.set_title(f"ROC curves: {split}")
        figures.append(save_figure(display.figure_, folder / f"roc_{split}.png",
                                   f"ROC curves with DeLong 95% CIs, {split}", "Discrimination"))

        if len(named) > 1:
            display = DelongMatrixDisplay.from_predictions(y.to_numpy(), named)
            display.ax_.set_title(f"DeLong test P values: {split}")
            figures.append(save_figure(display.figure_, folder / f"delong_{split}.png",
                                       f"Pairwise DeLong tests, {split}", "Discrimination"))

        display = DecisionCurveDisplay.from_predictions(y.to_numpy(), named)
        display.ax_.set_title(f"Decision curves: {split}")
        figures.append(save_figure(
            display.figure_, folder / f"decision_curve_{split}.png",
            f"Net benefit against treat-all and treat-none, {split}", "Clinical utility"))

        score = wide[primary].to_numpy()
        display = ScoreWaterfallDisplay.from_predictions(y.to_numpy(), score,
                                                         cut=options.threshold)
        display.ax_.set_title(f"{_label(primary)} scores: {split}")
        figures.append(save_figure(
            display.figure_, folder / f"waterfall_{split}.png",
            f"{_label(primary)} score per patient, coloured by true response, {split}",
            "Scores"))

        display = ScoreByResponseDisplay.from_predictions(y.to_numpy(), score)
        display.ax_.set_title(f"{_label(primary)} by response: {split}")
        figures.append(save_figure(
            display.figure_, folder / f"scores_by_response_{split}.png",
            f"{_label(primary)} score by true response, {split}", "Scores"))

    figures += _survival_figures(scores, cohort, options, folder, evaluation)
    return figures


def _survival_figures(scores, cohort, options, folder, splits):
    figures = []
    primary = options.primary
    cut = score_cut_value(scores, primary, options.score_cut, options.train_split)
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
            display.ax_.set_title(f"{name} by {_label(primary)} score: {split}\n{logrank}",
                                  fontsize=10)
            display.ax_.set_xlabel("Months")
            figures.append(save_figure(
                display.figure_, folder / f"km_{name.lower()}_{split}.png",
                f"{name} of high vs low {_label(primary)} score (cut {cut:.3f}, the training "
                f"{options.score_cut}), {split}", "Survival"))
    return figures
