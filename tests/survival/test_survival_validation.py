import numpy as np
import pandas as pd
import pytest

from tacelearn.survival import concordance_index, kaplan_meier, logrank_test

TIME = [1.0, 2.0, 3.0, 4.0]
EVENT = [1, 0, 1, 1]
GROUPS = ["a", "a", "b", "b"]


@pytest.mark.parametrize(
    ("time", "event", "groups", "message"),
    [
        ([1.0, 2.0, 3.0], EVENT, GROUPS, "differ in length"),
        ([1.0, -2.0, 3.0, 4.0], EVENT, GROUPS, r"time is negative at position\(s\) \[1\]"),
        ([1.0, np.nan, 3.0, 4.0], EVENT, GROUPS, r"time is missing at position\(s\) \[1\]"),
        ([1.0, np.inf, 3.0, 4.0], EVENT, GROUPS, "time is infinite"),
        (TIME, [1, 2, 0, 1], GROUPS, r"event must be 0/1.*found 2 at position\(s\) \[1\]"),
        (TIME, [1, None, 0, 1], GROUPS, "event is missing"),
        (TIME, EVENT, ["a", None, "b", "b"], r"groups is missing at position\(s\) \[1\]"),
        (np.ones((2, 2)), EVENT, GROUPS, "one-dimensional"),
    ],
)
def test_bad_survival_input_is_refused(time, event, groups, message):
    with pytest.raises(ValueError, match=message):
        logrank_test(time, event, groups)
    with pytest.raises(ValueError, match=message):
        kaplan_meier(time, event, groups)


def test_series_input_names_the_patient():
    time = pd.Series([1.0, -1.0], index=["HCC_001", "HCC_002"])
    with pytest.raises(ValueError, match=r"time is negative at index label\(s\) \['HCC_002'\]"):
        concordance_index(time, [1, 1], [0.2, 0.4])


def test_text_is_not_a_time():
    with pytest.raises(TypeError, match="time must hold numbers"):
        kaplan_meier(["1", "2"], [1, 1])


def test_boolean_events_are_accepted():
    as_bool = kaplan_meier(TIME, np.array(EVENT, dtype=bool), GROUPS).summary
    as_int = kaplan_meier(TIME, EVENT, GROUPS).summary
    pd.testing.assert_frame_equal(as_bool, as_int)


def test_text_events_and_nullable_integers():
    with pytest.raises(ValueError, match="found '0', '1' at position"):
        kaplan_meier(TIME, ["1", "0", "1", "1"])
    events = pd.Series([1, pd.NA, 0, 1], dtype="Int64", index=["P1", "P2", "P3", "P4"])
    with pytest.raises(ValueError, match=r"event is missing at index label\(s\) \['P2'\]"):
        kaplan_meier(TIME, events)
    complete = pd.Series([1, 0, 0, 1], dtype="Int64")
    assert kaplan_meier(TIME, complete).summary.loc["all", "events"] == 2


def test_numeric_groups_sort_as_numbers():
    result = logrank_test(np.tile(TIME, 3), np.tile(EVENT, 3), [2, 10, 1] * 4)
    assert result.groups == (1, 2, 10)
