"""Waterfall and box displays: bar heights, colours, medians and the Mann-Whitney test."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from scipy import stats
from sklearn.linear_model import LogisticRegression

from tacelearn.plotting import ScoreByResponseDisplay, ScoreWaterfallDisplay
from tacelearn.plotting._base import RESPONSE_COLORS


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 60)
    score = np.clip(0.35 + 0.3 * y + rng.normal(0, 0.2, 60), 0, 1)
    return y, score


def test_waterfall_bars_are_sorted_scores_minus_cut(scored):
    y, score = scored
    display = ScoreWaterfallDisplay.from_predictions(y, score, cut="mean")
    assert display.cut == pytest.approx(np.mean(score))
    heights = [bar.get_height() for bar in display.bars_]
    np.testing.assert_allclose(heights, np.sort(score)[::-1] - np.mean(score))
    order = np.argsort(-score, kind="stable")
    for bar, patient in zip(display.bars_, order):
        assert bar.get_facecolor() == to_rgba(RESPONSE_COLORS[y[patient]])
    assert display.cut_line_.get_ydata()[0] == 0
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == ["OR", "NOR"]


def test_waterfall_from_estimator_default_cut_is_one_half():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 1))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    display = ScoreWaterfallDisplay.from_estimator(model, X, y)
    assert display.cut == 0.5
    np.testing.assert_allclose(sorted(b.get_height() for b in display.bars_),
                               np.sort(model.predict_proba(X)[:, 1]) - 0.5)


def test_box_medians_points_and_mann_whitney(scored):
    y, score = scored
    display = ScoreByResponseDisplay.from_predictions(y, score, random_state=3)
    medians = [line.get_ydata()[0] for line in display.boxplot_["medians"]]
    np.testing.assert_allclose(medians, [np.median(score[y == 0]), np.median(score[y == 1])])
    for position, points in enumerate(display.points_):
        offsets = points.get_offsets()
        np.testing.assert_allclose(offsets[:, 1], score[y == position])
        assert np.all(np.abs(offsets[:, 0] - position) <= 0.08)
    # R's wilcox.test rule: exact for groups under 50 without ties, as here.
    expected = stats.mannwhitneyu(score[y == 1], score[y == 0], method="exact").pvalue
    title = display.ax_.get_title()
    assert title == (f"Mann-Whitney P = {expected:.3f}" if expected >= 0.001
                     else "Mann-Whitney P < 0.001")
    labels = [t.get_text() for t in display.ax_.get_xticklabels()]
    assert labels == [f"NOR (n={np.sum(y == 0)})", f"OR (n={np.sum(y == 1)})"]


def test_string_outcomes_need_pos_label(scored):
    y, score = scored
    labels = np.where(y == 1, "PR", "SD")
    with pytest.raises(ValueError, match="pos_label"):
        ScoreByResponseDisplay.from_predictions(labels, score)
    display = ScoreByResponseDisplay.from_predictions(labels, score, pos_label="PR")
    assert len(display.points_[1].get_offsets()) == np.sum(y == 1)
