"""Net benefit and decision curves against the formulas of Vickers & Elkin (2006), by hand,
as dcurves computes them (dcurves is not installed here; its formula is written out)."""

import numpy as np
import pandas as pd
import pytest

from tacelearn.metrics import decision_curve, net_benefit


def hand_net_benefit(y, p, pt, harm=0.0):
    """dcurves' net benefit, patient by patient.

    dcurves (R, ddsjoberg/dcurves, R/dca.r) first replaces a risk of exactly 0 by
    ``0 - .Machine$double.eps`` and 1 by ``1 + .Machine$double.eps``, then
    (R/test_consequences.R) counts ``risk >= threshold`` among events (tp_rate) and non-events
    (fp_rate) and returns ``tp_rate - threshold / (1 - threshold) * fp_rate - harm``.
    """
    n = len(y)
    eps = np.finfo(float).eps
    risk = [-eps if pi == 0 else 1 + eps if pi == 1 else pi for pi in p]
    tp = sum(1 for yi, ri in zip(y, risk) if yi and ri >= pt)
    fp = sum(1 for yi, ri in zip(y, risk) if not yi and ri >= pt)
    return tp / n - fp / n * pt / (1 - pt) - harm


def test_a_score_of_zero_is_never_treated():
    # The example: y = [1, 0, 1, 0], p = [0, 0, 0.6, 0.2] at pt = 0. Treating the
    # zeros gave 0.5; dcurves gives 0.25 (the two positive scores treated, one an event).
    y, p = [1, 0, 1, 0], [0.0, 0.0, 0.6, 0.2]
    assert net_benefit(y, p, 0.0) == pytest.approx(0.25, abs=1e-15)
    assert hand_net_benefit(y, p, 0.0) == pytest.approx(0.25, abs=1e-15)
    curve = decision_curve(y, {"m": p}, thresholds=[0.0, 0.2]).set_index(["model", "threshold"])
    assert curve.loc[("m", 0.0), "net_benefit"] == pytest.approx(0.25, abs=1e-15)
    assert curve.loc[("treat_all", 0.0), "net_benefit"] == pytest.approx(0.5, abs=1e-15)
    assert curve.loc[("treat_none", 0.0), "net_benefit"] == 0.0
    # A score of exactly 1 is always treated.
    assert net_benefit([1, 0], [1.0, 0.0], 0.99) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def outcome_and_models():
    rng = np.random.default_rng(0)
    y = rng.random(150) < 0.35
    good = np.clip(rng.normal(0.3 + 0.35 * y, 0.15), 0, 1).round(2)  # ties on the grid
    poor = rng.random(150)
    return y, {"good": good, "poor": poor}


def test_net_benefit_matches_the_hand_formula(outcome_and_models):
    y, models = outcome_and_models
    for pt in (0.0, 0.05, 0.2, 0.35, 0.5, 0.9):
        for p in models.values():
            assert net_benefit(y, p, pt) == pytest.approx(hand_net_benefit(y, p, pt), abs=1e-15)
    assert net_benefit(y, models["good"], 0.2, harm=0.01) == pytest.approx(
        hand_net_benefit(y, models["good"], 0.2, harm=0.01)
    )


def test_decision_curve_columns_and_formulas(outcome_and_models):
    y, models = outcome_and_models
    thresholds = [0.05, 0.1, 0.25, 0.5, 0.75]
    curve = decision_curve(y, models, thresholds=thresholds, harm={"poor": 0.02})
    assert list(curve.columns) == ["model", "threshold", "n", "prevalence", "tp_rate", "fp_rate",
                                   "net_benefit", "net_interventions_avoided"]
    assert list(curve["model"].unique()) == ["good", "poor", "treat_all", "treat_none"]
    prevalence = y.mean()
    for pt in thresholds:
        rows = curve[curve["threshold"] == pt].set_index("model")
        treat_all = prevalence - (1 - prevalence) * pt / (1 - pt)
        assert rows.loc["treat_all", "net_benefit"] == pytest.approx(treat_all)
        assert rows.loc["treat_none", "net_benefit"] == 0.0
        assert rows.loc["good", "net_benefit"] == pytest.approx(
            hand_net_benefit(y, models["good"], pt))
        assert rows.loc["poor", "net_benefit"] == pytest.approx(
            hand_net_benefit(y, models["poor"], pt, harm=0.02))
        tp = np.sum(y & (models["good"] >= pt))
        fp = np.sum(~y & (models["good"] >= pt))
        assert rows.loc["good", "tp_rate"] == pytest.approx(tp / y.size)
        assert rows.loc["good", "fp_rate"] == pytest.approx(fp / y.size)
        # Vickers' dca: net reduction in interventions per 100 patients.
        for model in ("good", "poor", "treat_none"):
            expected = (rows.loc[model, "net_benefit"] - treat_all) / (pt / (1 - pt)) * 100
            assert rows.loc[model, "net_interventions_avoided"] == pytest.approx(expected)
        assert rows.loc["treat_all", "net_interventions_avoided"] == pytest.approx(0.0)
    assert (curve["n"] == y.size).all()
    assert np.allclose(curve["prevalence"], prevalence)


def test_default_thresholds_are_the_percent_grid(outcome_and_models):
    y, models = outcome_and_models
    curve = decision_curve(y, models["good"])
    grid = curve.loc[curve["model"] == "model", "threshold"].to_numpy()
    assert grid.size == 99
    # Exactly the doubles 0.06, 0.07, ...: a score of 0.06 must count as treated at pt = 0.06.
    assert grid.tolist() == [float(f"0.{k:02d}") for k in range(1, 100)]
    at_006 = curve[(curve["model"] == "model") & (curve["threshold"] == 0.06)]
    assert at_006["net_benefit"].item() == pytest.approx(hand_net_benefit(y, models["good"], 0.06))


def test_boolean_outcome_true_is_the_event():
    y = np.array([True, True, False, False, False])
    p = np.array([0.9, 0.4, 0.6, 0.2, 0.1])
    as_int = decision_curve(y.astype(int), p, thresholds=[0.3])
    as_bool = decision_curve(y, p, thresholds=[0.3])
    pd.testing.assert_frame_equal(as_int, as_bool)
    assert as_bool["prevalence"].iloc[0] == 0.4
    # 2 events treated, 1 non-event treated, 5 patients.
    assert net_benefit(y, p, 0.3) == pytest.approx(2 / 5 - 1 / 5 * 0.3 / 0.7)


def test_dataframe_scores_and_string_labels():
    y = pd.Series(["OR", "NOR", "OR", "NOR", "NOR", "OR"])
    frame = pd.DataFrame({"a": [0.8, 0.3, 0.6, 0.5, 0.1, 0.2], "b": [0.5] * 6})
    curve = decision_curve(y, frame, thresholds=[0.4], pos_label="OR")
    rows = curve.set_index("model")
    assert rows.loc["a", "net_benefit"] == pytest.approx(
        hand_net_benefit(y == "OR", frame["a"], 0.4))
    assert rows.loc["b", "net_benefit"] == pytest.approx(rows.loc["treat_all", "net_benefit"])


def test_net_interventions_avoided_is_undefined_at_zero():
    curve = decision_curve([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.1], thresholds=[0.0, 0.5])
    at_zero = curve[curve["threshold"] == 0.0]
    assert at_zero["net_interventions_avoided"].isna().all()
    assert at_zero["net_benefit"].notna().all()


@pytest.mark.parametrize(
    ("scores", "kwargs", "message"),
    [
        ([0.1, 1.2, 0.3, 0.4], {}, r"probabilities in \[0, 1\]"),
        ([0.1, -0.2, 0.3, 0.4], {}, r"probabilities in \[0, 1\]"),
        ([0.1, 0.2, 0.3, 0.4], {"thresholds": [0.5, 1.0]}, r"\[0, 1\)"),
        ({"treat_all": [0.1, 0.2, 0.3, 0.4]}, {}, "reserved"),
        ({"a": [0.1, 0.2, 0.3, 0.4]}, {"harm": {"b": 0.1}}, "not in scores"),
        ({"a": [0.1, 0.2, 0.3]}, {}, "model 'a'"),
    ],
)
def test_bad_input_is_refused(scores, kwargs, message):
    with pytest.raises(ValueError, match=message):
        decision_curve([0, 1, 0, 1], scores, **kwargs)


def test_net_benefit_takes_one_threshold():
    with pytest.raises(ValueError, match="one threshold"):
        net_benefit([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2])
