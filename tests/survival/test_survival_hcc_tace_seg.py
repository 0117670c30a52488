"""Survival by response on the real HCC-TACE-Seg table, against lifelines called directly."""

import numpy as np
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test as lifelines_logrank
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import concordance_index as lifelines_concordance

from tacelearn.datasets import read_hcc_tace_seg
from tacelearn.survival import concordance_index, cox_hazard_ratio, kaplan_meier, logrank_test


@pytest.fixture(scope="module")
def responders(shared_data):
    with pytest.warns(UserWarning, match="9 of 105 patients have no mRECIST response"):
        cohort = read_hcc_tace_seg(shared_data / "hcc-tace-seg/clinical.csv")
    return cohort[cohort["objective_response"].notna()].reset_index(drop=True)


@pytest.mark.parametrize(("time", "event"), [("pfs_months", "pfs_event"),
                                             ("os_months", "os_event")])
def test_kaplan_meier_and_logrank_by_response(responders, time, event):
    t, e = responders[time].to_numpy(float), responders[event].to_numpy(int)
    response = responders["objective_response"].map({1: "OR", 0: "NOR"})
    result = kaplan_meier(t, e, response)
    for label in ("NOR", "OR"):
        member = (response == label).to_numpy()
        direct = KaplanMeierFitter().fit(t[member], e[member])
        curve = result.survival.query("group == @label")
        np.testing.assert_allclose(curve["survival"], direct.survival_function_.iloc[:, 0])
        np.testing.assert_allclose(curve["ci_lower"], direct.confidence_interval_.iloc[:, 0])
        assert result.summary.loc[label, "n"] == member.sum()
        assert result.summary.loc[label, "events"] == e[member].sum()
        assert result.summary.loc[label, "median"] == pytest.approx(
            direct.median_survival_time_)

    is_or = (response == "OR").to_numpy()
    direct = lifelines_logrank(t[~is_or], t[is_or], e[~is_or], e[is_or])
    ours = logrank_test(t, e, response)
    assert ours.statistic == pytest.approx(direct.test_statistic, rel=1e-12)
    assert ours.pvalue == pytest.approx(direct.p_value, rel=1e-12)


def test_logrank_across_bclc_stages(responders):
    t, e = responders["os_months"], responders["os_event"].astype(int)
    ours = logrank_test(t, e, responders["bclc"])
    direct = multivariate_logrank_test(t, responders["bclc"], e)
    assert ours.groups == ("A", "B", "C", "D")
    assert ours.degrees_of_freedom == 3
    assert ours.statistic == pytest.approx(direct.test_statistic, rel=1e-12)


def test_cox_and_concordance_of_response(responders):
    t, e = responders["pfs_months"], responders["pfs_event"].astype(int)
    response = responders["objective_response"].astype(float)
    table = cox_hazard_ratio(t, e, response)
    frame = responders[["pfs_months", "pfs_event"]].assign(
        objective_response=response, pfs_event=e)
    direct = CoxPHFitter().fit(frame, "pfs_months", "pfs_event")
    assert table.loc["objective_response", "hazard_ratio"] == pytest.approx(
        direct.hazard_ratios_["objective_response"], rel=1e-10)
    # Response predicts longer progression-free survival: a "score" where high = low risk.
    assert concordance_index(t, e, response) == pytest.approx(
        lifelines_concordance(t, response, e), abs=1e-12)
