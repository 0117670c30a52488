"""Kaplan-Meier display: curves by the product-limit formula, P from lifelines, risk by hand."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from lifelines.statistics import logrank_test
from sklearn.linear_model import LogisticRegression

from tacelearn.plotting import KaplanMeierDisplay

TIME = np.array([6, 7, 10, 15, 19, 25, 1, 3, 4, 5, 8, 9], dtype=float)
EVENT = np.array([1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1])
SCORE = np.array([0.9, 0.8, 0.7, 0.8, 0.9, 0.6, 0.2, 0.3, 0.1, 0.4, 0.3, 0.2])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def product_limit(time, event):
    times, survival, value = [0.0], [1.0], 1.0
    for t in np.unique(time):
        value *= 1 - np.sum((time == t) & (event == 1)) / np.sum(time >= t)
        times.append(t)
        survival.append(value)
    return np.array(times), np.array(survival)


def test_curves_title_and_at_risk_table():
    display = KaplanMeierDisplay.from_predictions(TIME, EVENT, SCORE, cut="mean")
    high = SCORE.mean() <= SCORE
    for group, member in (("high", high), ("low", ~high)):
        times, survival = product_limit(TIME[member], EVENT[member])
        line = display.lines_[group]
        np.testing.assert_allclose(line.get_xdata(), times)
        np.testing.assert_allclose(line.get_ydata(), survival, atol=1e-12)
        assert line.get_drawstyle() == "steps-post"
        censored = member & (EVENT == 0)
        np.testing.assert_allclose(display.censor_marks_[group].get_xdata(), TIME[censored])
    expected = logrank_test(TIME[high], TIME[~high], EVENT[high], EVENT[~high]).p_value
    assert display.ax_.get_title() == (
        f"Score cut {SCORE.mean():.3g}, log-rank P = {expected:.3f}")
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == [f"high (n={high.sum()})", f"low (n={(~high).sum()})"]

    ticks = display.at_risk_.columns.to_numpy()
    assert ticks[0] == 0
    for group, member in (("high", high), ("low", ~high)):
        by_hand = [int(np.sum(TIME[member] >= tick)) for tick in ticks]
        assert display.at_risk_.loc[group].tolist() == by_hand
    texts = [t.get_text() for t in display.at_risk_texts_]
    assert texts[0] == "Number at risk"
    assert texts[1] == "high"
    assert texts[2:2 + len(ticks)] == [
        str(int(np.sum(TIME[high] >= tick))) for tick in ticks]


def test_groups_on_given_axes_without_extras():
    _, ax = plt.subplots()
    groups = np.array(["A", "B", "C"] * 4)
    display = KaplanMeierDisplay.from_groups(TIME, EVENT, groups, ax=ax, show_ci=False,
                                             show_censors=False, show_at_risk=False)
    assert display.ax_ is ax
    assert list(display.lines_) == ["A", "B", "C"]
    assert display.confidence_bands_ == {}
    assert display.at_risk_texts_ == []
    assert display.ax_.get_title().startswith("Log-rank P = ")
    assert display.logrank.degrees_of_freedom == 2


def test_from_estimator_splits_predicted_probabilities():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] + rng.normal(0, 0.5, 40) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    time = rng.exponential(10, 40)
    event = rng.integers(0, 2, 40)
    display = KaplanMeierDisplay.from_estimator(model, X, time, event, cut="median")
    probability = model.predict_proba(X)[:, 1]
    assert display.cut == pytest.approx(np.median(probability))
    assert display.kaplan_meier.summary.loc["high", "n"] == np.sum(
        probability >= np.median(probability))


@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
def test_band_type_is_printed_and_follows_r(conf_type):
    display = KaplanMeierDisplay.from_groups(TIME, EVENT, np.array(["all"] * 12),
                                             conf_type=conf_type, confidence_level=0.9)
    assert display.confidence_label_.get_text() == f"Bands: 90% CI, {conf_type}"
    assert display.kaplan_meier.conf_type == conf_type
    # The band stops where R's interval is NA: the curve reaches 0 at the last time (25).
    band = display.kaplan_meier.survival
    assert band[["ci_lower", "ci_upper"]].iloc[-1].isna().all()


def test_no_band_no_label():
    display = KaplanMeierDisplay.from_predictions(TIME, EVENT, SCORE, show_ci=False)
    assert display.confidence_label_ is None
    assert display.confidence_bands_ == {}
