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


def test_scores_a_billionth_apart_are_not_tied():
    # R: concordance(Surv(1:4, rep(1, 4)) ~ c(0.5, 0.5 + 1e-9, 0.7, 0.8))$concordance -> 1
    # (scikit-survival's own tolerance of 1e-8 made it 0.917).
    assert concordance_index([1, 2, 3, 4], [1, 1, 1, 1], [0.5, 0.5 + 1e-9, 0.7, 0.8]) == 1.0
    merged = concordance_index([1, 2, 3, 4], [1, 1, 1, 1], [0.5, 0.5 + 1e-9, 0.7, 0.8],
                               tied_tol=1e-8)
    assert merged == pytest.approx(11 / 12)
    with pytest.raises(ValueError, match="tied_tol"):
        concordance_index([1, 2], [1, 1], [0.1, 0.2], tied_tol=-1.0)


TIED_TIME = [3, 5, 5, 2, 8, 8, 8, 1, 4, 4, 6, 7, 7, 7, 2, 3, 9, 9, 1, 5, 6, 6, 2, 4, 8, 3, 3,
             5, 7, 1, 2, 2, 6, 9, 4, 4, 5, 8, 1, 7]
TIED_EVENT = [1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1,
              0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1]
SCORE = np.array([2.1, 0.5, 1.3, 3.3, 0.2, 1.1, 2.2, 0.7, 1.8, 2.9, 0.4, 1.5, 0.9, 2.4, 3.1,
                  0.3, 1.2, 0.8, 2.6, 1.9, 0.6, 1.4, 2.8, 0.1, 1.7, 2.0, 3.0, 0.9, 1.6, 2.3,
                  0.2, 2.7, 1.0, 0.5, 2.5, 1.3, 0.8, 1.1, 3.2, 0.4])


def test_tied_times_and_scores_match_r():
    # R: concordance(Surv(TIED_TIME, TIED_EVENT) ~ SCORE)$concordance -> 0.2533783783783784;
    # with round(SCORE) (tied scores): 0.2516891891891892, and with reverse = TRUE
    # 0.74831081081081074 (higher score = higher risk).
    assert concordance_index(TIED_TIME, TIED_EVENT, SCORE) == pytest.approx(
        0.2533783783783784, rel=1e-12)
    rounded = np.round(SCORE)
    assert concordance_index(TIED_TIME, TIED_EVENT, rounded) == pytest.approx(
        0.2516891891891892, rel=1e-12)
    assert concordance_index(TIED_TIME, TIED_EVENT, rounded, higher_is_riskier=True) == (
        pytest.approx(0.74831081081081074, rel=1e-12))
