from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from tacelearn.survival import split_by_score


def test_mean_cut_and_ties_go_high():
    scores = np.array([0.1, 0.3, 0.5, 0.5, 0.6])
    groups, cut = split_by_score(scores, cut="mean")
    assert cut == pytest.approx(sum(scores) / len(scores))
    assert cut == pytest.approx(0.4)
    assert groups.tolist() == ["low", "low", "high", "high", "high"]


# R: x >= mean(x) for each vector (numpy's mean lands one unit in the last place above the
# scores equal to it in the first two, and misplaces one score in the others).
R_MEAN_SPLITS = [
    ([0.4, 0.4, 0.4], [1, 1, 1]),
    ([0.55, 0.65, 0.6], [0, 1, 1]),
    ([0.63, 0.51, 0.26, 0.3, 0.04, 0.07, 0.01], [1, 1, 1, 1, 0, 0, 0]),
    ([0.33, 0.7, 0.32, 0.58, 0.97], [0, 1, 0, 1, 1]),
    ([0.04, 0.34, 0.19], [0, 1, 1]),
    ([0.58, 0.75, 0.23, 0.76], [1, 1, 0, 1]),
    ([0.63, 0.92, 0.03, 0.53, 0.99, 0.68], [1, 1, 0, 0, 1, 1]),
    ([0.14, 0.36, 0.74, 0.42, 0.44], [0, 0, 1, 1, 1]),
]


@pytest.mark.parametrize(("scores", "r_high"), R_MEAN_SPLITS)
def test_mean_split_matches_r(scores, r_high):
    groups, cut = split_by_score(scores, cut="mean")
    assert [int(g == "high") for g in groups] == r_high
    # The cut is the mean rounded once from its exact value: sum(cut) * n is within half a
    # unit in the last place of the exact sum of the scores.
    exact = sum(Fraction(s) for s in scores) / len(scores)
    assert abs(Fraction(cut) - exact) <= Fraction(np.spacing(cut)) / 2


def test_median_cut_puts_the_median_patient_high():
    scores = [0.9, 0.2, 0.4, 0.7, 0.3]
    groups, cut = split_by_score(scores, cut="median")
    assert cut == 0.4
    assert groups.tolist() == ["high", "low", "high", "high", "low"]


def test_fixed_cut_from_another_cohort():
    groups, cut = split_by_score([0.49, 0.5, 0.51], cut=0.5)
    assert cut == 0.5
    assert groups.tolist() == ["low", "high", "high"]


def test_series_keeps_its_index():
    scores = pd.Series([0.2, 0.8], index=["P1", "P2"])
    split = split_by_score(scores)
    assert isinstance(split.groups, pd.Series)
    assert split.groups.to_dict() == {"P1": "low", "P2": "high"}


@pytest.mark.parametrize("cut", ["mode", np.nan, None])
def test_unknown_cut_is_refused(cut):
    with pytest.raises(ValueError, match="cut must be"):
        split_by_score([0.1, 0.2], cut=cut)


def test_missing_score_names_the_patient():
    with pytest.raises(ValueError, match=r"scores is missing at index label\(s\) \['P2'\]"):
        split_by_score(pd.Series([0.1, np.nan], index=["P1", "P2"]))
