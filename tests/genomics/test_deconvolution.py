"""deconvolve: known mixtures recovered; agreement with non-negative least squares; errors."""

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from tacelearn.genomics import deconvolve

CELL_TYPES = ["B cells memory", "T cells CD8", "NK cells", "Macrophages M1", "Macrophages M2"]


def _mixtures(n_samples=40, n_genes=80, noise=0.0, seed=0):
    """Bulk = fractions @ signature.T (linear scale), times log-normal noise."""
    rng = np.random.default_rng(seed)
    genes = [f"M{i:03d}" for i in range(n_genes)]
    signature = pd.DataFrame(rng.lognormal(4.0, 1.5, size=(n_genes, len(CELL_TYPES))),
                             index=genes, columns=CELL_TYPES)
    truth = pd.DataFrame(rng.dirichlet(np.full(len(CELL_TYPES), 1.5), size=n_samples),
                         index=[f"P{i:03d}" for i in range(n_samples)], columns=CELL_TYPES)
    bulk = truth @ signature.T
    bulk = bulk * rng.lognormal(0.0, noise, size=bulk.shape) if noise else bulk
    return bulk, signature, truth


def test_noiseless_mixtures_are_recovered_exactly():
    bulk, signature, truth = _mixtures()
    fractions = deconvolve(bulk, signature)
    np.testing.assert_allclose(fractions.to_numpy(), truth.to_numpy(), atol=0.02)
    assert list(fractions.index) == list(truth.index)
    assert list(fractions.columns) == CELL_TYPES


def test_noisy_mixtures_are_recovered_with_high_correlation():
    bulk, signature, truth = _mixtures(noise=0.3, seed=1)
    fractions = deconvolve(bulk, signature)
    assert (fractions.to_numpy() >= 0).all()
    np.testing.assert_allclose(fractions.sum(axis=1), 1.0, atol=1e-12)
    overall = stats.pearsonr(fractions.to_numpy().ravel(), truth.to_numpy().ravel())
    assert overall.statistic > 0.9
    for cell_type in CELL_TYPES:
        assert stats.pearsonr(fractions[cell_type], truth[cell_type]).statistic > 0.8


def test_agrees_with_non_negative_least_squares():
    """Another deconvolution method (scipy's NNLS, renormalised) lands on the same answer."""
    bulk, signature, _ = _mixtures(noise=0.1, seed=2)
    fractions = deconvolve(bulk, signature)
    nnls = np.array([optimize.nnls(signature.to_numpy(), row)[0] for row in bulk.to_numpy()])
    nnls /= nnls.sum(axis=1, keepdims=True)
    assert np.abs(fractions.to_numpy() - nnls).mean() < 0.03
    assert stats.pearsonr(fractions.to_numpy().ravel(), nnls.ravel()).statistic > 0.95


def test_genes_are_matched_by_name_whatever_the_order_and_extra_genes():
    bulk, signature, _ = _mixtures(n_samples=10, seed=3)
    reference = deconvolve(bulk, signature)
    rng = np.random.default_rng(0)
    extra = pd.DataFrame(rng.lognormal(2.0, 1.0, size=(10, 30)), index=bulk.index,
                         columns=[f"OTHER{i}" for i in range(30)])
    scrambled = pd.concat([bulk, extra], axis=1).sample(frac=1.0, axis=1, random_state=0)
    pd.testing.assert_frame_equal(deconvolve(scrambled, signature.sample(frac=1.0,
                                                                         random_state=1)),
                                  reference)


def test_parallel_fits_give_the_same_fractions():
    bulk, signature, _ = _mixtures(n_samples=6, noise=0.2, seed=4)
    # Threads: starting worker processes would cost seconds on the test machine.
    with joblib.parallel_config(backend="threading"):
        parallel = deconvolve(bulk, signature, n_jobs=2)
    pd.testing.assert_frame_equal(parallel, deconvolve(bulk, signature))


def test_too_few_shared_genes_is_a_clear_error():
    bulk, signature, _ = _mixtures(n_samples=4, seed=5)
    renamed = bulk.rename(columns=lambda gene: f"ENSG{gene}")
    with pytest.raises(ValueError, match=r"only 0 of the signature's 80 genes .* at least 10"):
        deconvolve(renamed, signature)


def test_bad_values_are_named():
    bulk, signature, _ = _mixtures(n_samples=4, seed=6)
    negative = bulk.copy()
    negative.loc["P002", "M005"] = -1.0
    with pytest.raises(ValueError, match=r"linear \(non-negative\) scale.*\(P002, M005\)"):
        deconvolve(negative, signature)
    missing = signature.copy()
    missing.loc["M010", "NK cells"] = np.nan
    with pytest.raises(ValueError, match=r"signature has 1 missing.*\(M010, NK cells\)"):
        deconvolve(bulk, missing)
    flat = bulk.copy()
    flat.loc["P001"] = 5.0
    with pytest.raises(ValueError, match="samples P001 have the same expression"):
        deconvolve(flat, signature)
    with pytest.raises(TypeError, match="signature must be a pandas DataFrame"):
        deconvolve(bulk, signature.to_numpy())
