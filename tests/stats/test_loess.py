"""loess_smooth against R's loess (R 4.2.2, stats), a brute-force local regression and itself."""

import numpy as np
import pandas as pd
import pytest

from tacelearn.stats import loess_smooth

# R's cars data (speed in mph, stopping distance in ft): 50 rows with many tied speeds.
SPEED = np.array([
    4, 4, 7, 7, 8, 9, 10, 10, 10, 11, 11, 12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15,
    15, 15, 16, 16, 17, 17, 17, 18, 18, 18, 18, 19, 19, 19, 20, 20, 20, 20, 20, 22, 23, 24, 24,
    24, 24, 25,
], dtype=float)
DIST = np.array([
    2, 10, 4, 22, 16, 10, 18, 26, 34, 17, 28, 14, 20, 24, 28, 26, 34, 34, 46, 26, 36, 60, 80,
    20, 26, 54, 32, 40, 32, 40, 50, 42, 56, 76, 84, 36, 46, 68, 32, 48, 52, 56, 64, 66, 54, 70,
    92, 93, 120, 85,
], dtype=float)
NEW_SPEEDS = [4, 5.5, 10, 12.3, 17, 21.7, 25]
# options(digits = 17); new <- c(4, 5.5, 10, 12.3, 17, 21.7, 25)
#   predict(loess(dist ~ speed, cars), new)
R_CARS_INTERPOLATE = (5.8936279902916553, 8.8627210630757993, 21.8653153728752478,
                      30.5000864337928590, 48.3558889750956240, 66.4645654491937705,
                      95.3240474368895008)
#   predict(loess(dist ~ speed, cars, control = loess.control(surface = "direct")), new)
R_CARS_DIRECT = (5.8870567519925441, 8.7923287799279688, 21.8653153728752123,
                 30.4943250514554762, 48.3558889750955956, 66.4992960850834294,
                 95.3005225128729876)
#   predict(loess(dist ~ speed, cars, span = 0.4), new)
R_CARS_SPAN_04 = (5.8460912289018401, 9.5075373332004798, 21.0637481903956640,
                  26.4991506343148124, 47.6211055918111086, 58.0221625811051993,
                  99.8997299046400400)
#   unique(fitted(loess(dist ~ speed, cars)))  (one value per distinct speed)
R_CARS_FITTED = (5.8936279902916553, 12.4997857340761112, 15.2810822239864379,
                 18.4465683641190346, 21.8653153728752478, 25.5170148442873916,
                 29.3503858818530503, 33.2306603491852073, 37.1679351832335314,
                 41.2052261977559908, 45.0557364502056856, 48.3558889750956240,
                 49.8248119259973166, 51.9867021665732381, 56.4613182692202074,
                 68.5693129091990414, 76.3160678611040169, 85.2121213551066177,
                 95.3240474368895008)

# A clinical score with 8 distinct values and a binary outcome: loess's k-d tree meets runs of
# ties at its medians.
TIED_X = np.array([
    0.67, 0.55, 0.23, 0.81, 0.67, 0.08, 0.08, 0.15, 0.31, 0.81, 0.67, 0.15, 0.55, 0.08,
    0.08, 0.31, 0.31, 0.55, 0.08, 0.42, 0.55, 0.42, 0.08, 0.55, 0.08, 0.67, 0.55, 0.08,
    0.31, 0.81, 0.08, 0.42, 0.08, 0.81, 0.15, 0.31, 0.42, 0.23, 0.23, 0.15, 0.81, 0.55,
    0.23, 0.08, 0.31, 0.67, 0.67, 0.15, 0.55, 0.08, 0.31, 0.55, 0.08, 0.42, 0.15, 0.15,
    0.67, 0.08, 0.67, 0.23,
])
TIED_Y = np.array([
    0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0,
    0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1, 0,
    1, 0,
], dtype=float)
# R 4.2.2, with p2 <- TIED_X, y2 <- TIED_Y:
#   fit <- loess(y2 ~ p2, control = loess.control(surface = surface))
#   e <- abs(predict(fit, newdata = p2) - p2)
#   c(mean(e), median(e), unname(quantile(e, 0.9)), max(e))
R_TIED_SUMMARIES = {
    "interpolate": (0.0730342174669048, 0.0712123675345992, 0.1041200331406755,
                    0.2136167022498410),
    "direct": (0.0730250505255950, 0.0712123675345992, 0.1041200331406757,
               0.2135066989541246),
}


def summary_of_errors(fitted, x):
    errors = np.abs(fitted - x)
    return errors.mean(), np.median(errors), np.quantile(errors, 0.9), errors.max()


@pytest.mark.parametrize(("surface", "span", "expected"), [
    ("interpolate", 0.75, R_CARS_INTERPOLATE),
    ("direct", 0.75, R_CARS_DIRECT),
    ("interpolate", 0.4, R_CARS_SPAN_04),
])
def test_matches_r_predict_on_the_cars_data(surface, span, expected):
    smoothed = loess_smooth(SPEED, DIST, NEW_SPEEDS, span=span, surface=surface)
    assert smoothed == pytest.approx(expected, rel=1e-10)


def test_matches_r_fitted_values_on_tied_predictors():
    fitted = loess_smooth(SPEED, DIST, SPEED)
    assert pd.unique(fitted) == pytest.approx(R_CARS_FITTED, rel=1e-10)


@pytest.mark.parametrize("surface", sorted(R_TIED_SUMMARIES))
def test_matches_r_on_a_score_with_eight_values_and_a_binary_outcome(surface):
    fitted = loess_smooth(TIED_X, TIED_Y, TIED_X, surface=surface)
    assert summary_of_errors(fitted, TIED_X) == pytest.approx(R_TIED_SUMMARIES[surface],
                                                               rel=1e-9)


def brute_force_local_quadratic(x, y, x0, span=0.75):
    """Cleveland's local regression at x0, literally: the q nearest points, tricube weights
    on distance / (distance of the q-th), weighted least squares on 1, x, x^2."""
    q = int(np.floor(span * x.size))
    distance = np.abs(x - x0)
    radius = np.sort(distance)[q - 1]
    weights = np.clip(1 - (distance / radius) ** 3, 0, None) ** 3
    return np.polyval(np.polyfit(x, y, 2, w=np.sqrt(weights)), x0)


@pytest.mark.parametrize("span", [0.4, 0.75, 1.0])
def test_direct_loess_is_local_quadratic_regression(span):
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, 120)
    y = (rng.random(120) < x).astype(float)
    points = np.linspace(x.min(), x.max(), 17)
    expected = [brute_force_local_quadratic(x, y, x0, span) for x0 in points]
    assert loess_smooth(x, y, points, span=span, surface="direct") == pytest.approx(expected,
                                                                                    abs=1e-9)


def test_interpolated_loess_stays_close_to_direct_loess():
    rng = np.random.default_rng(5)
    x = rng.uniform(0.03, 0.97, 400)
    y = (rng.random(400) < x).astype(float)
    interpolated = loess_smooth(x, y, x)
    direct = loess_smooth(x, y, x, surface="direct")
    assert np.max(np.abs(interpolated - direct)) < 1e-2


@pytest.mark.parametrize("surface", ["interpolate", "direct"])
def test_points_keep_their_shape_and_are_nan_outside_the_data(surface):
    points = np.array([[3.0, 4.0], [25.0, 30.0]])
    smoothed = loess_smooth(SPEED, DIST, points, surface=surface)
    assert smoothed.shape == (2, 2)
    assert np.isnan(smoothed[[0, 1], [0, 1]]).all()
    assert smoothed[[0, 1], [1, 0]] == pytest.approx(
        loess_smooth(SPEED, DIST, [4.0, 25.0], surface=surface), rel=1e-12)


def test_a_series_is_read_by_its_values():
    index = [f"P{i:02d}" for i in range(50)][::-1]
    smoothed = loess_smooth(pd.Series(SPEED, index=index), pd.Series(DIST, index=index), [10])
    assert smoothed == pytest.approx(R_CARS_INTERPOLATE[2], rel=1e-10)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"x": [1, 2, 3, 4, 5, 6], "y": [1, 2, 3, 4, 5]}, "x has 6 values but y has 5"),
    ({"x": [1, 2, np.nan, 4, 5, 6]}, r"x has NaN or infinite values at position\(s\) \[2\]"),
    ({"y": [1, 2, 3, np.inf, 5, 6]}, r"y has NaN or infinite values at position\(s\) \[3\]"),
    ({"x": [], "y": []}, "x is empty"),
    ({"x": [[1, 2], [3, 4]]}, "one-dimensional"),
    ({"span": 0}, r"span must lie in \(0, 1\]"),
    ({"span": 1.5}, r"span must lie in \(0, 1\]"),
    ({"span": 0.5}, "at least 4"),
    ({"surface": "exact"}, "surface must be one of"),
])
def test_bad_input_is_refused(kwargs, message):
    arguments = {"x": [1, 2, 3, 4, 5, 6], "y": [2, 1, 4, 3, 6, 5], "points": [2.5]} | kwargs
    with pytest.raises(ValueError, match=message):
        loess_smooth(**arguments)


def test_a_neighbourhood_of_zero_width_is_refused_as_r_does():
    # R: loess(y ~ x) with 40 of 50 x equal stops with "span too small".
    x = np.r_[np.full(40, 0.3), np.linspace(0.4, 0.9, 10)]
    with pytest.raises(ValueError, match="share one value"):
        loess_smooth(x, np.arange(50) % 2, x)
