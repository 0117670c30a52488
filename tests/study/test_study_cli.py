"""The whole study from the command line: ``tacelearn demo --quick``, ``study``, ``predict``."""

import base64
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from lifelines.statistics import logrank_test as lifelines_logrank
from sklearn.metrics import roc_auc_score

from tacelearn.study._cli import main

MODELS = ("clinical", "dltr", "dltr_lr", "dltr_mlp")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``tacelearn demo --quick`` run once for the module."""
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--quick", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def report(demo):
    return demo / "report"


def test_report_folder_is_complete(report):
    assert sorted(p.name for p in report.iterdir()) == [
        "figures", "index.html", "models", "summary.json", "tables"]
    summary = json.loads((report / "summary.json").read_text())
    assert set(summary["auc"]) == {*MODELS, "ceiling"}
    for by_split in summary["auc"].values():
        assert set(by_split) == {"train", "internal_validation", "external_1", "external_2"}
    assert {"patches", "encoder", "heads", "analyses", "report"} <= set(
        summary["timings_seconds"])
    for name in MODELS:
        assert (report / "models" / name / "config.json").is_file()
    tables = {p.stem for p in (report / "tables").glob("*.csv")}
    assert {"table1_baseline", "table2_performance", "table2_formatted", "decision_curves",
            "survival", "scores", "delong_external_1", "radiogenomics_gsea"} <= tables
    assert not list(report.parent.glob(".*partial"))  # no temporary folder left behind


def test_table2_auc_matches_sklearn_on_the_written_scores(report):
    scores = pd.read_csv(report / "tables" / "scores.csv")
    table = pd.read_csv(report / "tables" / "table2_performance.csv")
    auc = table[table["metric"] == "auc"].set_index(["model", "cohort"])["estimate"]
    for (model, split), rows in scores.groupby(["model", "split"]):
        expected = roc_auc_score(rows["objective_response"], rows["score"])
        assert auc[(model, split)] == pytest.approx(expected, abs=1e-12)


def test_survival_table_matches_lifelines(report, demo):
    cohort = pd.read_csv(demo / "cohort" / "cohort.csv")
    scores = pd.read_csv(report / "tables" / "scores.csv")
    survival = pd.read_csv(report / "tables" / "survival.csv")
    row = survival[(survival["model"] == "dltr_mlp") & (survival["split"] == "external_1")
                   & (survival["endpoint"] == "PFS")].iloc[0]
    train = scores[(scores["model"] == "dltr_mlp") & (scores["split"] == "train")]
    assert row["cut"] == pytest.approx(train["score"].mean())  # the training mean
    rows = scores[(scores["model"] == "dltr_mlp") & (scores["split"] == "external_1")]
    data = cohort.set_index("patient_id").loc[rows["patient_id"]]
    high = rows["score"].to_numpy() >= row["cut"]
    reference = lifelines_logrank(data["pfs_months"][high], data["pfs_months"][~high],
                                  data["pfs_event"][high], data["pfs_event"][~high])
    assert row["logrank_pvalue"] == pytest.approx(reference.p_value, rel=1e-9)
    assert row["n_high"] == high.sum()


def test_index_html_embeds_every_figure(report):
    html = (report / "index.html").read_text()
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    figures = sorted((report / "figures").glob("*.png"))
    assert len(embedded) == len(figures) > 20
    written = {f.read_bytes() for f in figures}
    assert {base64.b64decode(data) for data in embedded} == written
    # readable offline: nothing is fetched from the network
    assert "src=\"http" not in html
    assert "href=\"http" not in html


def test_predict_reproduces_the_study_scores(report, demo, tmp_path):
    out = tmp_path / "scores.csv"
    manifest = demo / "cohort" / "cohort.csv"
    assert main(["predict", "--model", str(report / "models" / "dltr_mlp"),
                 "--cohort", str(manifest), "--out", str(out)]) == 0
    predicted = pd.read_csv(out).set_index("patient_id")["score"]
    study = pd.read_csv(report / "tables" / "scores.csv")
    study = study[study["model"] == "dltr_mlp"].set_index("patient_id")["score"]
    np.testing.assert_allclose(predicted.loc[study.index], study, rtol=1e-6, atol=1e-9)


def test_second_demo_run_reuses_cohort_and_caches(demo, capfd):
    cohort_csv = demo / "cohort" / "cohort.csv"
    stamp = cohort_csv.stat().st_mtime_ns
    assert main(["demo", "--quick", "--out", str(demo)]) == 0
    err = capfd.readouterr().err
    assert "reusing the synthetic cohort" in err
    assert cohort_csv.stat().st_mtime_ns == stamp
    summary = json.loads((demo / "report" / "summary.json").read_text())
    # patches and CNN weights come from the cache: far faster than the first run
    assert summary["timings_seconds"]["encoder"] < 30


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed")
def test_report_renders_in_headless_chromium(report, tmp_path):
    # A copy of the page that records, once loaded, how many images decoded.
    probe = tmp_path / "probe.html"
    script = ("<script>window.addEventListener('load', () => {const images = "
              "[...document.images]; document.body.setAttribute('data-images', "
              "images.length + '/' + images.filter(i => i.complete && i.naturalWidth > 0)"
              ".length);});</script>")
    probe.write_text((report / "index.html").read_text().replace("</body>", script + "</body>"))
    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--virtual-time-budget=5000", "--dump-dom",
                          probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    counts = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert counts is not None, dom[:500]
    assert int(counts.group(1)) == int(counts.group(2)) > 20
    screenshot = tmp_path / "report.png"
    subprocess.run([*flags, "--window-size=1200,1600", f"--screenshot={screenshot}",
                    (report / "index.html").as_uri()], capture_output=True, timeout=120)
    import matplotlib.image

    pixels = matplotlib.image.imread(screenshot)
    assert pixels.shape[:2] == (1600, 1200)
    assert pixels[..., :3].std() > 0.05  # not blank


def _manifest(tmp_path, demo, edit):
    cohort = pd.read_csv(demo / "cohort" / "cohort.csv")
    for column in ("t1c_path", "t2_path", "mask_path"):
        cohort[column] = [str(demo / "cohort" / p) for p in cohort[column]]
    cohort = edit(cohort)
    path = tmp_path / "bad.csv"
    cohort.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda c: c.assign(bclc=c["bclc"].where(c.index != 3, "Z")), r"bclc.*P0004"),
    (lambda c: c.assign(t2_path=c["t2_path"].where(c.index != 5, "/nowhere/x.nii.gz")),
     r"t2_path.*P0006"),
    (lambda c: c.drop(columns="split"), r"split"),
])
def test_bad_manifest_refused_in_one_line(tmp_path, demo, capsys, edit, expected):
    manifest = _manifest(tmp_path, demo, edit)
    out = tmp_path / "report"
    assert main(["study", "--cohort", str(manifest), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("tacelearn: error: ")
    assert re.search(expected, err)
    assert "Traceback" not in err
    assert not out.exists()
    assert not list(tmp_path.glob(".report*"))


def test_existing_output_refused_and_debug_shows_traceback(tmp_path, demo, capsys):
    out = tmp_path / "report"
    out.mkdir()
    manifest = demo / "cohort" / "cohort.csv"
    assert main(["--debug", "study", "--cohort", str(manifest), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "already exists" in err


@pytest.mark.parametrize("command", ["demo", "study", "predict"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: tacelearn" in capsys.readouterr().out
