"""Survival by response on the real HCC-TACE-Seg table, against R and lifelines.

R values: ``d`` holds the table read by read_hcc_tace_seg, responders with a known response
(``pfs_months, pfs_event, os_months, os_event, objective_response``), R 4.2.2, survival 3.5.3.
"""

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
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


# R: quantile(survfit(Surv(time, event) ~ objective_response, data = d, conf.type = ...), 0.5)
# for NOR (0) and OR (1): median, lower, upper (NaN for NA).
R_MEDIANS = {
    ("pfs_months", "log"): [(8.9034907587679673, 6.3408624226694039, np.nan),
                            (10.776180698809036, 9.7248459968788499, 45.305954825462017)],
    ("pfs_months", "log-log"): [(8.9034907587679673, 5.2238193008624227, 22.275154004763859),
                                (10.776180698809036, 9.6591375770020544, 15.408624229979466)],
    ("os_months", "log"): [(21.486652977741276, 13.174537988665298, 30.751540037782341),
                           (27.039014380287476, 19.975359343572894, 29.601642707186862)],
    ("os_months", "log-log"): [(21.486652977741276, 12.944558522546203, 28.123203288706364),
                               (27.039014380287476, 19.646817248788501, 29.503080085420944)],
}
# R: survdiff(Surv(time, event) ~ objective_response, data = d)$chisq
R_LOGRANK = {"pfs_months": 1.3366094088155496, "os_months": 1.2995459907187936}


@pytest.mark.parametrize(("time", "event"), [("pfs_months", "pfs_event"),
                                             ("os_months", "os_event")])
def test_kaplan_meier_and_logrank_by_response(responders, time, event):
    t, e = responders[time].to_numpy(float), responders[event].to_numpy(int)
    response = responders["objective_response"].map({1: "OR", 0: "NOR"})
    for conf_type in ("log", "log-log"):
        result = kaplan_meier(t, e, response, conf_type=conf_type)
        for label, expected in zip(("NOR", "OR"), R_MEDIANS[(time, conf_type)]):
            row = result.summary.loc[label, ["median", "median_ci_lower", "median_ci_upper"]]
            np.testing.assert_allclose(row.to_numpy(dtype=float), expected, rtol=1e-12)
    log_log = kaplan_meier(t, e, response, conf_type="log-log")
    for label in ("NOR", "OR"):
        member = (response == label).to_numpy()
        # lifelines' bands are the exponential Greenwood ("log-log") ones.
        direct = KaplanMeierFitter().fit(t[member], e[member])
        curve = log_log.survival.query("group == @label")
        np.testing.assert_allclose(curve["survival"], direct.survival_function_.iloc[:, 0])
        inside = curve["survival"].between(0, 1, inclusive="neither").to_numpy()
        np.testing.assert_allclose(curve["ci_lower"].to_numpy()[inside],
                                   direct.confidence_interval_.iloc[:, 0].to_numpy()[inside])
        assert log_log.summary.loc[label, "n"] == member.sum()
        assert log_log.summary.loc[label, "events"] == e[member].sum()

    is_or = (response == "OR").to_numpy()
    direct = lifelines_logrank(t[~is_or], t[is_or], e[~is_or], e[is_or])
    ours = logrank_test(t, e, response)
    assert ours.statistic == pytest.approx(direct.test_statistic, rel=1e-12)
    assert ours.statistic == pytest.approx(R_LOGRANK[time], rel=1e-10)
    assert ours.pvalue == pytest.approx(direct.p_value, rel=1e-12)


def test_logrank_across_bclc_stages(responders):
    t, e = responders["os_months"], responders["os_event"].astype(int)
    ours = logrank_test(t, e, responders["bclc"])
    direct = multivariate_logrank_test(t, responders["bclc"], e)
    assert ours.groups == ("A", "B", "C", "D")
    assert ours.degrees_of_freedom == 3
    assert ours.statistic == pytest.approx(direct.test_statistic, rel=1e-12)


@pytest.mark.parametrize(("time", "event", "r_values"), [
    # R: summary(coxph(Surv(time, event) ~ objective_response, data = d)): coef, HR, lower,
    # upper, LR p; concordance(Surv(time, event) ~ objective_response, data = d)$concordance
    ("pfs_months", "pfs_event", (-0.37109354446195825, 0.68997939478859183, 0.36657359822783492,
                                 1.2987066377239225, 0.25751437979708025, 0.57683419988445983)),
    ("os_months", "os_event", (-0.25884245474237566, 0.77194462967973221, 0.49399158436889207,
                               1.2062928400949984, 0.26142002107470935, 0.53464658169177293)),
])
def test_cox_and_concordance_of_response(responders, time, event, r_values):
    t, e = responders[time], responders[event].astype(int)
    response = responders["objective_response"].astype(float)
    row = cox_hazard_ratio(t, e, response).loc["objective_response"]
    coef, hazard_ratio, lower, upper, lr_pvalue, concordance = r_values
    assert row["coef"] == pytest.approx(coef, rel=1e-9)
    assert row["hazard_ratio"] == pytest.approx(hazard_ratio, rel=1e-9)
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((lower, upper), rel=1e-9)
    assert row["lr_pvalue"] == pytest.approx(lr_pvalue, rel=1e-9)
    # Response predicts longer survival: a "score" where high = low risk.
    assert concordance_index(t, e, response) == pytest.approx(concordance, rel=1e-12)
    assert concordance_index(t, e, response) == pytest.approx(
        lifelines_concordance(t, response, e), abs=1e-12)
