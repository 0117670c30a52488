"""gsea_prerank: planted sets found, running sums against a brute-force GSEA walk, GMT files."""

import gseapy
import numpy as np
import pandas as pd
import pytest

from tacelearn.genomics import gsea_prerank, read_gmt, write_gmt

N_GENES = 1000
SET_SIZE = 25


@pytest.fixture(scope="module")
def planted():
    """A ranking with one set shifted up, one shifted down and 20 random sets."""
    rng = np.random.default_rng(42)
    genes = np.array([f"GENE{i:04d}" for i in range(N_GENES)])
    ranking = pd.Series(rng.normal(size=N_GENES), index=genes)
    chosen = rng.permutation(N_GENES)
    up, down = genes[chosen[:SET_SIZE]], genes[chosen[SET_SIZE:2 * SET_SIZE]]
    ranking[up] += 1.0
    ranking[down] -= 1.0
    gene_sets = {"PLANTED_UP": list(up), "PLANTED_DOWN": list(down)}
    for k in range(20):
        gene_sets[f"RANDOM_{k:02d}"] = list(rng.choice(genes, SET_SIZE, replace=False))
    result = gsea_prerank(ranking, gene_sets, permutations=500, random_state=0)
    return ranking, gene_sets, result


def _brute_force_walk(ranking, members):
    """GSEA running sum (Subramanian et al. 2005, weight p = 1), one gene at a time."""
    ordered = ranking.sort_values(ascending=False)
    hit_total = sum(abs(value) for gene, value in ordered.items() if gene in members)
    n_misses = sum(gene not in members for gene in ordered.index)
    running, walk = 0.0, []
    for gene, value in ordered.items():
        running += abs(value) / hit_total if gene in members else -1.0 / n_misses
        walk.append(running)
    walk = np.array(walk)
    peak = int(np.argmax(np.abs(walk)))
    if walk[peak] >= 0:
        leading = [g for g in ordered.index[:peak + 1] if g in members]
    else:
        leading = [g for g in ordered.index[peak:][::-1] if g in members]
    return ordered, walk, walk[peak], leading


def test_planted_sets_are_found_among_random_sets(planted):
    _, _, result = planted
    table = result.table.set_index("term")
    assert table.loc["PLANTED_UP", "nes"] > 1.5
    assert table.loc["PLANTED_DOWN", "nes"] < -1.5
    assert table.loc["PLANTED_UP", "fdr"] < 0.05
    assert table.loc["PLANTED_DOWN", "fdr"] < 0.05
    assert list(result.table["term"][:2]) in (["PLANTED_UP", "PLANTED_DOWN"],
                                             ["PLANTED_DOWN", "PLANTED_UP"])
    random_sets = table.drop(index=["PLANTED_UP", "PLANTED_DOWN"])
    assert (random_sets["fdr"] >= 0.05).sum() >= 19
    assert list(result.table.columns) == ["term", "nes", "pvalue", "fdr", "es", "size",
                                          "leading_edge"]


def test_running_score_es_and_leading_edge_match_a_brute_force_walk(planted):
    ranking, gene_sets, result = planted
    for term, members in gene_sets.items():
        ordered, walk, es, leading = _brute_force_walk(ranking, set(members))
        running = result.running_enrichment_score(term)
        assert list(running.index) == list(ordered.index)
        np.testing.assert_allclose(running.to_numpy(), walk, atol=1e-9)
        row = result.table.set_index("term").loc[term]
        assert row["es"] == pytest.approx(es, abs=1e-9)
        assert row["leading_edge"] == leading
        assert row["size"] == SET_SIZE
        expected_hits = [i for i, gene in enumerate(ordered.index) if gene in set(members)]
        assert list(result.hit_positions(term)) == expected_hits


def test_same_seed_same_table_and_gmt_file_same_as_dict(planted, tmp_path):
    ranking, gene_sets, result = planted
    lines = [f"{name}\tsynthetic\t" + "\t".join(genes) for name, genes in gene_sets.items()]
    path = tmp_path / "sets.gmt"
    path.write_text("\n".join(lines) + "\n")
    again = gsea_prerank(ranking, path, permutations=500, random_state=0)
    pd.testing.assert_frame_equal(again.table, result.table)


def test_size_filter_skips_small_sets_and_missing_genes_do_not_count():
    rng = np.random.default_rng(1)
    genes = [f"G{i:03d}" for i in range(200)]
    ranking = pd.Series(rng.normal(size=200), index=genes)
    gene_sets = {"BIG": genes[:30] + ["ABSENT1", "ABSENT2"], "SMALL": genes[50:60]}
    result = gsea_prerank(ranking, gene_sets, permutations=50, random_state=0, min_size=15)
    assert result.table["term"].tolist() == ["BIG"]
    assert result.table.loc[0, "size"] == 30
    with pytest.raises(ValueError, match=r"gene set 'SMALL' was not tested"):
        result.running_enrichment_score("SMALL")
    with pytest.raises(ValueError, match="no gene set has between"):
        gsea_prerank(ranking, gene_sets, permutations=50, min_size=40)


def test_a_name_that_is_not_a_file_is_refused_without_calling_gseapy(monkeypatch):
    def no_call(*args, **kwargs):
        raise AssertionError("gseapy must not be reached")

    monkeypatch.setattr(gseapy, "prerank", no_call)
    ranking = pd.Series(np.arange(30.0), index=[f"G{i}" for i in range(30)])
    with pytest.raises(ValueError, match="'KEGG_2016' is not an existing file"):
        gsea_prerank(ranking, "KEGG_2016")
    with pytest.raises(ValueError, match="'MSigDB_Hallmark_2020' is not an existing file"):
        gsea_prerank(ranking, "MSigDB_Hallmark_2020")


def test_bad_rankings_and_gene_sets():
    genes = [f"G{i}" for i in range(30)]
    ranking = pd.Series(np.arange(30.0), index=genes)
    sets = {"S": genes[:20]}
    broken = ranking.copy()
    broken[["G3", "G7"]] = [np.nan, np.inf]
    with pytest.raises(ValueError, match="non-finite values for genes G3, G7"):
        gsea_prerank(broken, sets)
    with pytest.raises(ValueError, match="duplicated genes: G1"):
        gsea_prerank(ranking.rename({"G2": "G1"}), sets)
    with pytest.raises(TypeError, match="pandas Series"):
        gsea_prerank(ranking.to_numpy(), sets)
    with pytest.raises(TypeError, match="dict of gene lists"):
        gsea_prerank(ranking, [genes])
    with pytest.raises(TypeError, match="got a string"):
        gsea_prerank(ranking, {"S": "G1 G2"})
    with pytest.raises(ValueError, match="permutations must be a positive integer"):
        gsea_prerank(ranking, sets, permutations=0)


def test_read_gmt_parses_a_hand_written_file(tmp_path):
    path = tmp_path / "hand.gmt"
    path.write_text("UP\thttp://example.org\tA\tB\tA\t\n"
                    "\n"
                    "DOWN\tna\tC\r\n")
    assert read_gmt(path) == {"UP": ["A", "B"], "DOWN": ["C"]}
    (tmp_path / "bad.gmt").write_text("UP\tna\tA\nONLY_NAME\n")
    with pytest.raises(ValueError, match="line 2"):
        read_gmt(tmp_path / "bad.gmt")
    with pytest.raises(ValueError, match="does not exist"):
        read_gmt(tmp_path / "absent.gmt")


def test_write_gmt_writes_tab_separated_lines(tmp_path):
    path = write_gmt({"UP": ("A", "B"), "DOWN": ["C"]}, tmp_path / "out" / "sets.gmt",
                     description="demo")
    assert path.read_text() == "UP\tdemo\tA\tB\nDOWN\tdemo\tC\n"
    with pytest.raises(ValueError, match="tab or a line break"):
        write_gmt({"A\tB": ["C"]}, tmp_path / "x.gmt")
    assert not (tmp_path / "x.gmt").exists()
