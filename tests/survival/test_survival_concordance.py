"""Concordance index against a brute-force count of pairs and lifelines' convention."""

import numpy as np
import pytest
from lifelines.utils import concordance_index as lifelines_concordance

from tacelearn.survival import concordance_index


def harrell_by_pairs(time, event, risk):
    concordant = comparable = 0.0
    for i in range(len(time)):
        for j in range(len(time)):
            if event[i] and time[i] < time[j]:
                comparable += 1
                if risk[i] > risk[j]:
                    concordant += 1
                elif risk[i] == risk[j]:
                    concordant += 0.5
    return concordant / comparable


@pytest.fixture(scope="module")
def survival_and_scores():
    rng = np.random.default_rng(7)
    n = 80
    probability_of_response = rng.random(n)
    time = rng.exponential(12 * (0.5 + probability_of_response))  # responders live longer
    event = (rng.random(n) < 0.7).astype(int)
    probability_of_response[:10] = np.round(probability_of_response[:10], 1)  # tied scores
    return time, event, probability_of_response


def test_default_treats_high_score_as_low_risk(survival_and_scores):
    time, event, score = survival_and_scores
    cindex = concordance_index(time, event, score)
    assert cindex == pytest.approx(harrell_by_pairs(time, event, -score), abs=1e-12)
    # lifelines takes scores that grow with survival time: the same convention.
    assert cindex == pytest.approx(lifelines_concordance(time, score, event), abs=1e-12)
    assert cindex > 0.5


def test_higher_is_riskier_flips_the_index(survival_and_scores):
    time, event, score = survival_and_scores
    riskier = concordance_index(time, event, score, higher_is_riskier=True)
    assert riskier == pytest.approx(harrell_by_pairs(time, event, score), abs=1e-12)
    assert riskier == pytest.approx(1 - concordance_index(time, event, score), abs=1e-12)


def test_no_event_is_refused():
    with pytest.raises(ValueError, match="no event"):
        concordance_index([1.0, 2.0], [0, 0], [0.1, 0.2])
