"""Decision-curve display against net benefit computed from its definition."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tacelearn.plotting import DecisionCurveDisplay


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def net_benefit_by_hand(y, score, pt):
    treated = score >= pt
    n = len(y)
    return np.sum(treated & (y == 1)) / n - np.sum(treated & (y == 0)) / n * pt / (1 - pt)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(150, 2))
    probability = 1 / (1 + np.exp(-(x[:, 0] - 0.3)))
    y = (rng.random(150) < probability).astype(int)
    return x, y, probability


def test_lines_hold_net_benefit_of_models_and_references(data):
    _, y, probability = data
    thresholds = np.linspace(0.05, 0.9, 18)
    display = DecisionCurveDisplay.from_predictions(
        y, {"model": probability}, thresholds=thresholds)
    assert list(display.lines_) == ["model", "treat_all", "treat_none"]
    np.testing.assert_allclose(display.lines_["model"].get_xdata(), thresholds)
    np.testing.assert_allclose(display.lines_["model"].get_ydata(),
                               [net_benefit_by_hand(y, probability, t) for t in thresholds])
    prevalence = y.mean()
    np.testing.assert_allclose(display.lines_["treat_all"].get_ydata(),
                               prevalence - (1 - prevalence) * thresholds / (1 - thresholds))
    np.testing.assert_array_equal(display.lines_["treat_none"].get_ydata(), 0.0)
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == ["model", "Treat all", "Treat none"]
    low, high = display.ax_.get_ylim()
    assert low < 0 < prevalence < high


def test_from_estimator_scores_each_model(data):
    x, y, _ = data
    model = LogisticRegression().fit(x, y)
    display = DecisionCurveDisplay.from_estimator({"both": model}, x, y,
                                                  thresholds=[0.2, 0.5], ylim=(-0.2, 1))
    expected = [net_benefit_by_hand(y, model.predict_proba(x)[:, 1], t) for t in (0.2, 0.5)]
    np.testing.assert_allclose(display.lines_["both"].get_ydata(), expected)
    assert display.ax_.get_ylim() == (-0.2, 1)


def test_probabilities_are_required(data):
    _, y, probability = data
    with pytest.raises(ValueError, match="probabilities in"):
        DecisionCurveDisplay.from_predictions(y, {"logit": np.log(probability)})
