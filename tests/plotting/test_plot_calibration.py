"""CalibrationCurveDisplay: what it draws against statsmodels, numpy and the metrics it shows."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import statsmodels.api as sm
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from tacelearn.metrics import loess_calibration_curve
from tacelearn.plotting import CalibrationCurveDisplay


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 2))
    p = expit(1.5 * x[:, 0])
    y = (rng.random(300) < expit(0.3 + 0.6 * logit(p))).astype(int)
    return x, y, p


def test_draws_the_loess_curve_its_band_the_diagonal_and_the_histogram(data):
    _, y, p = data
    display = CalibrationCurveDisplay.from_predictions(y, p, name="clinical", points=41,
                                                       n_resamples=60, random_state=0)
    curve = loess_calibration_curve(y, p, points=41, n_resamples=60, random_state=0)
    np.testing.assert_allclose(display.line_.get_xdata(), curve["predicted"])
    np.testing.assert_allclose(display.line_.get_ydata(), curve["observed"])
    # The band's polygon spans exactly the bounds of the bootstrap interval.
    band = display.band_.get_paths()[0].vertices
    finite = curve[["low", "high"]].dropna()
    assert band[:, 1].min() == pytest.approx(finite["low"].min())
    assert band[:, 1].max() == pytest.approx(finite["high"].max())
    np.testing.assert_array_equal(display.ideal_line_.get_xydata(), [[0, 0], [1, 1]])
    counts, _ = np.histogram(p, bins=50, range=(0, 1))
    heights = np.array([bar.get_height() for bar in display.histogram_])
    np.testing.assert_allclose(heights, 0.12 * counts / counts.max())
    assert display.ax_.get_xlim() == (0.0, 1.0)
    assert display.ax_.get_xlabel() == "Predicted probability"


def test_legend_reports_intercept_slope_and_ici_of_statsmodels_fits(data):
    _, y, p = data
    display = CalibrationCurveDisplay.from_predictions(y, p, name="clinical", n_resamples=0)
    lp = logit(p)
    slope = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit().params[1]
    intercept = sm.GLM(y, np.ones((y.size, 1)), family=sm.families.Binomial(),
                       offset=lp).fit().params[0]
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert legend[0].startswith(f"clinical: intercept {intercept:.2f}, slope {slope:.2f}, ICI ")
    assert legend[1:] == ["Ideal"]  # no band without resamples
    assert display.band_ is None


def test_from_estimator_scores_the_positive_class(data):
    x, y, _ = data
    model = LogisticRegression().fit(x, y)
    display = CalibrationCurveDisplay.from_estimator(model, x, y, points=[0.3, 0.5],
                                                     n_resamples=0)
    direct = loess_calibration_curve(y, model.predict_proba(x)[:, 1], points=[0.3, 0.5],
                                     n_resamples=0)
    np.testing.assert_allclose(display.line_.get_ydata(), direct["observed"])
    assert display.ax_.get_legend().get_texts()[0].get_text().startswith("LogisticRegression")


def test_second_model_on_the_same_axes(data):
    _, y, p = data
    _, ax = plt.subplots()
    first = CalibrationCurveDisplay.from_predictions(y, p, name="a", n_resamples=0, ax=ax)
    second = CalibrationCurveDisplay.from_predictions(y, p ** 1.5, name="b", n_resamples=0,
                                                      ax=ax, plot_ideal=False,
                                                      show_histogram=False, color="C3")
    assert first.ax_ is second.ax_ is ax
    assert second.ideal_line_ is None
    assert second.histogram_ is None
    assert second.line_.get_color() == "C3"
    assert len(ax.get_lines()) == 3


def test_estimators_without_probabilities_are_refused(data):
    x, y, _ = data
    with pytest.raises(TypeError, match="predict_proba"):
        CalibrationCurveDisplay.from_estimator(LinearSVC().fit(x, y), x, y)


def test_probabilities_outside_zero_one_are_refused(data):
    _, y, p = data
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        CalibrationCurveDisplay.from_predictions(y, p * 2)
