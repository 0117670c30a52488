"""make_tace_expression: the bundled GMT, the planted biology, subsets and errors."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tacelearn.genomics import SYNTHETIC_HALLMARK_GMT, deconvolve, make_tace_expression

SUPPRESSED = ["HALLMARK_ANGIOGENESIS_SYNTHETIC",
              "HALLMARK_EPITHELIAL_MESENCHYMAL_TRANSITION_SYNTHETIC",
              "HALLMARK_HYPOXIA_SYNTHETIC", "HALLMARK_TGF_BETA_SIGNALING_SYNTHETIC"]


def _cohort(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"patient_id": [f"P{i:04d}" for i in range(1, n + 1)],
                         "tumour_biology": rng.standard_normal(n)})


@pytest.fixture(scope="module")
def synthetic():
    cohort = _cohort()
    return cohort, make_tace_expression(cohort, n_genes=1000, random_state=0)


def test_gene_sets_are_the_bundled_gmt_file(synthetic):
    _, data = synthetic
    parsed = {}
    for line in SYNTHETIC_HALLMARK_GMT.read_text().splitlines():
        name, description, *genes = line.split("\t")
        assert "not MSigDB" in description
        parsed[name] = genes
    assert data.gene_sets == parsed
    assert all(name.endswith("_SYNTHETIC") for name in parsed)
    assert set(SUPPRESSED) <= set(parsed)
    for genes in parsed.values():
        assert set(genes) <= set(data.expression.columns)


def test_shapes_scales_and_true_fractions(synthetic):
    cohort, data = synthetic
    assert data.expression.shape == (300, 1000)
    assert list(data.expression.index) == list(cohort["patient_id"])
    assert (data.expression.to_numpy() >= 0).all()  # log2(x + 1) of x >= 0
    assert data.expression.to_numpy().max() < 20  # a log scale, not counts
    assert (data.signature.to_numpy() > 0).all()
    assert set(data.signature.index) <= set(data.expression.columns)
    np.testing.assert_allclose(data.fractions.sum(axis=1), 1.0)
    assert list(data.fractions.columns) == list(data.signature.columns)


def test_suppressed_pathways_fall_with_tumour_biology(synthetic):
    cohort, data = synthetic
    biology = cohort.set_index("patient_id")["tumour_biology"]
    for term, genes in data.gene_sets.items():
        score = data.expression[genes].mean(axis=1)
        correlation = stats.pearsonr(score, biology).statistic
        effect = data.pathway_effects.get(term, 0.0)
        if effect < 0:
            assert correlation < -0.3, term
        elif effect > 0:
            assert correlation > 0.3, term
        else:
            assert abs(correlation) < 0.2, term


def test_m2_macrophages_fall_and_memory_b_cells_rise_with_biology(synthetic):
    cohort, data = synthetic
    biology = cohort.set_index("patient_id")["tumour_biology"]
    assert stats.spearmanr(data.fractions["Macrophages M2"], biology).statistic < -0.3
    assert stats.spearmanr(data.fractions["B cells memory"], biology).statistic > 0.3
    assert abs(stats.spearmanr(data.fractions["T cells CD8"], biology).statistic) < 0.25


def test_deconvolution_recovers_the_true_fractions(synthetic):
    _, data = synthetic
    subset = data.expression.iloc[:60]
    estimated = deconvolve(np.exp2(subset) - 1.0, data.signature)
    truth = data.fractions.iloc[:60]
    assert stats.pearsonr(estimated.to_numpy().ravel(), truth.to_numpy().ravel()).statistic > 0.9


def test_subsets_and_reproducibility():
    cohort = _cohort(50)
    half = make_tace_expression(cohort, n_genes=600, fraction=0.5, random_state=3)
    assert len(half.expression) == 25
    assert half.expression.index.isin(cohort["patient_id"]).all()
    again = make_tace_expression(cohort, n_genes=600, fraction=0.5, random_state=3)
    pd.testing.assert_frame_equal(half.expression, again.expression)
    chosen = make_tace_expression(cohort, n_genes=600, patient_ids=["P0007", "P0003"])
    assert list(chosen.expression.index) == ["P0003", "P0007"]


def test_works_on_a_cohort_manifest(tiny_cohort):
    data = make_tace_expression(tiny_cohort, n_genes=500, fraction=0.5)
    assert len(data.expression) == 12
    assert data.expression.index.isin(tiny_cohort["patient_id"]).all()


def test_errors():
    cohort = _cohort(20)
    with pytest.raises(ValueError, match="lacks the columns"):
        make_tace_expression(cohort.drop(columns="tumour_biology"))
    with pytest.raises(ValueError, match="patient_ids not in the cohort: P9999"):
        make_tace_expression(cohort, patient_ids=["P0001", "P9999"])
    with pytest.raises(ValueError, match="not both"):
        make_tace_expression(cohort, fraction=0.5, patient_ids=["P0001"])
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        make_tace_expression(cohort, fraction=1.5)
    with pytest.raises(ValueError, match="n_genes must be an integer of at least 457"):
        make_tace_expression(cohort, n_genes=100)
    broken = cohort.copy()
    broken.loc[4, "tumour_biology"] = np.nan
    with pytest.raises(ValueError, match="not finite for patients P0005"):
        make_tace_expression(broken)
