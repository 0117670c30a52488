"""ROC and DeLong displays on pROC's aSAH data: curves from sklearn, numbers published by pROC."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve

from tacelearn.plotting import DelongMatrixDisplay, MultiRocDisplay


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def asah(shared_data):
    return pd.read_csv(shared_data / "asah" / "aSAH.csv")


def test_roc_lines_are_sklearn_curves_and_legend_has_published_ci(asah):
    poor = asah["outcome"] == "Poor"
    display = MultiRocDisplay.from_predictions(poor, asah[["wfns", "s100b"]])
    for line, marker in zip(display.lines_, ("wfns", "s100b")):
        fpr, tpr, _ = roc_curve(poor, asah[marker])
        np.testing.assert_array_equal(line.get_xdata(), fpr)
        np.testing.assert_array_equal(line.get_ydata(), tpr)
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    # pROC (Robin et al. 2011) on aSAH: wfns AUC 0.8237, 95% CI 0.7485-0.8988 (DeLong);
    # s100b AUC 0.7314, 95% CI 0.6301-0.8326.
    assert legend == ["wfns: AUC 0.824 (95% CI 0.749-0.899)",
                      "s100b: AUC 0.731 (95% CI 0.630-0.833)"]
    assert display.roc_auc[0] == pytest.approx(roc_auc_score(poor, asah["wfns"]))
    assert display.auc_ci[1] == pytest.approx((0.6301, 0.8326), abs=5e-5)
    np.testing.assert_array_equal(display.chance_level_.get_xdata(), [0, 1])


def test_roc_from_estimator_uses_positive_class_probability(asah):
    X = asah[["age", "s100b", "ndka"]]
    model = LogisticRegression().fit(X, asah["outcome"])
    _, ax = plt.subplots()
    display = MultiRocDisplay.from_estimator({"logistic": model}, X, asah["outcome"],
                                             pos_label="Poor", ax=ax, confidence_level=0.9,
                                             plot_chance_level=False)
    fpr, tpr, _ = roc_curve(asah["outcome"], model.predict_proba(X)[:, 1], pos_label="Poor")
    np.testing.assert_array_equal(display.lines_[0].get_xdata(), fpr)
    assert display.ax_ is ax
    assert display.figure_ is ax.figure
    assert display.chance_level_ is None
    assert "90% CI" in display.ax_.get_legend().get_texts()[0].get_text()


def test_delong_matrix_annotations_match_published_test(asah):
    display = DelongMatrixDisplay.from_predictions(
        asah["outcome"], asah[["wfns", "ndka", "s100b"]], pos_label="Poor")
    # pROC: roc.test(wfns, s100b) -> Z = 2.209, p-value = 0.02718 (DeLong, paired).
    assert display.text_[0, 2].get_text() == "0.027"
    assert display.text_[2, 0].get_text() == "0.027"
    assert display.pvalues.loc["wfns", "s100b"] == pytest.approx(0.02718, abs=5e-6)
    assert display.text_[1, 1] is None
    image = display.im_.get_array()
    assert np.ma.is_masked(image[0, 0]) or np.isnan(image[0, 0])
    assert image[0, 2] == pytest.approx(display.pvalues.loc["wfns", "s100b"])
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == ["wfns", "ndka", "s100b"]


def test_delong_matrix_small_pvalues_print_as_bound():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 100)
    strong, weak = y + rng.normal(0, 0.3, 200), y + rng.normal(0, 3, 200)
    display = DelongMatrixDisplay.from_predictions(y, {"strong": strong, "weak": weak},
                                                   colorbar=False)
    assert display.text_[0, 1].get_text() == "<0.001"
    assert display.colorbar_ is None


def test_roc_direction_is_explicit():
    # pROC 1.18: roc(y, s, direction = "auto") picks ">" (controls' median 0.8 > cases' 0.7):
    # AUC 0.48, DeLong 95% CI 0.02963456423405475-0.93036543576594521.
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    s = np.array([0.9, 0.8, 0.1, 0.2, 0.85, 0.7, 0.75, 0.3, 0.95, 0.6])
    never_flipped = MultiRocDisplay.from_predictions(y, {"s": s})
    assert never_flipped.roc_auc[0] == pytest.approx(0.52)
    assert never_flipped.directions == ["<"]
    auto = MultiRocDisplay.from_predictions(y, {"s": s}, direction="auto")
    assert auto.directions == [">"]
    assert auto.roc_auc[0] == pytest.approx(0.48)
    assert auto.auc_ci[0] == pytest.approx((0.02963456423405475, 0.93036543576594521),
                                           rel=1e-12)
    fpr, tpr, _ = roc_curve(y, -s)
    np.testing.assert_array_equal(auto.lines_[0].get_xdata(), fpr)
    label = auto.ax_.get_legend().get_texts()[0].get_text()
    assert label == "s (lower score = case): AUC 0.480 (95% CI 0.030-0.930)"
