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
