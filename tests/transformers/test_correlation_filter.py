"""CorrelationFilter against numpy's correlation matrix and scikit-learn's common checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from tacelearn.transformers import CorrelationFilter


def correlated_features(n_samples=60, seed=0):
    """Three latent signals, each copied with noise into a few columns, in mixed order."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_samples, 3))
    columns = []
    for source, noise in [(0, 0.0), (1, 0.05), (0, 0.1), (2, 0.0), (1, 0.8), (0, 1.0),
                          (2, 0.2), (1, 0.1)]:
        sign = -1.0 if noise == 0.1 else 1.0
        columns.append(sign * latent[:, source] + noise * rng.standard_normal(n_samples))
    return np.column_stack(columns)


@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.8, 0.9, 0.99, 1.0])
def test_kept_features_are_exactly_the_greedy_rule_by_numpy_corrcoef(threshold):
    X = correlated_features()
    selector = CorrelationFilter(threshold=threshold).fit(X)
    keep = selector.get_support()
    r = np.abs(np.corrcoef(X, rowvar=False))
    kept = np.flatnonzero(keep)
    # No two kept features are correlated above the threshold...
    off_diagonal = r[np.ix_(kept, kept)][~np.eye(kept.size, dtype=bool)]
    assert (off_diagonal <= threshold + 1e-12).all()
    # ...and each dropped one is, with an earlier kept feature: the first one is its partner.
    for j in np.flatnonzero(~keep):
        earlier = kept[kept < j]
        partners = earlier[r[j, earlier] > threshold]
        assert partners.size > 0
        assert selector.correlated_with_[j] == partners[0]
    assert (selector.correlated_with_[keep] == -1).all()
    # These two properties define the greedy selection uniquely. At 0.9 the planted noise
    # decides: correlations about 0.99 (noise <= 0.2) go, 0.78 (0.8) and 0.71 (1.0) stay.
    if threshold == 0.9:
        assert keep.tolist() == [True, True, False, True, True, True, False, False]


def test_extremes_and_negative_correlation():
    X = correlated_features()
    assert CorrelationFilter(threshold=1.0).fit(X).get_support().all()
    # Column 2 is minus column 0 plus noise: |r| counts, the sign does not.
    assert np.corrcoef(X[:, 0], X[:, 2])[0, 1] < -0.9
    assert not CorrelationFilter(threshold=0.9).fit(X).get_support()[2]
    # Threshold 0: only features uncorrelated with every kept one survive (none here).
    assert CorrelationFilter(threshold=0.0).fit(X).get_support().sum() == 1


def test_constant_features_correlate_with_nothing():
    rng = np.random.default_rng(1)
    a = rng.standard_normal(30)
    X = np.column_stack([np.full(30, 3.0), a, np.full(30, 3.0), 2 * a])
    selector = CorrelationFilter(threshold=0.5).fit(X)
    assert selector.get_support().tolist() == [True, True, True, False]
    assert selector.correlated_with_.tolist() == [-1, -1, -1, 1]


def test_dataframes_keep_names_and_index():
    X = pd.DataFrame(correlated_features(), columns=[f"f{i}" for i in range(8)],
                     index=[f"P{i:03d}" for i in range(60)])
    selector = CorrelationFilter(threshold=0.9).set_output(transform="pandas")
    out = selector.fit_transform(X)
    kept = X.columns[CorrelationFilter(threshold=0.9).fit(X.to_numpy()).get_support()]
    assert out.columns.tolist() == kept.tolist() == ["f0", "f1", "f3", "f4", "f5"]
    pd.testing.assert_frame_equal(out, X[kept])
    assert selector.get_feature_names_out().tolist() == kept.tolist()


def test_missing_values_are_refused():
    X = correlated_features()
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        CorrelationFilter().fit(X)


@pytest.mark.parametrize("threshold", [-0.1, 1.5, "high"])
def test_bad_threshold_is_refused(threshold):
    with pytest.raises(ValueError, match="threshold"):
        CorrelationFilter(threshold=threshold).fit(correlated_features())


@parametrize_with_checks([CorrelationFilter()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
