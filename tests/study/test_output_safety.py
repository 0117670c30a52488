"""Issue 11 for the study and the command line: reports never destroy inputs, never replace
another run's output, clean up after SIGTERM and SIGKILL, refuse NaN scores, name unseen
categories and respect the umask."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tacelearn.datasets import make_tace_cohort, read_cohort
from tacelearn.estimators import (
    UnseenCategoryWarning,
    make_clinical_model,
    make_dltr_lr,
    make_dltr_mlp,
    save_model,
)
from tacelearn.study import predict_cohort, run_study
from tacelearn.study._cli import main
from tacelearn.utils import atomic_directory
from tacelearn.utils._io import remove_stale_partials

# TODO(issue 16): the report will collect third-party warnings into its notes; until then
# lifelines warns on the small survival groups of this small cohort.
pytestmark = [pytest.mark.filterwarnings("ignore::lifelines.exceptions.ConvergenceWarning"),
              pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")]

CLINICAL_ONLY = {"models": ("clinical",), "n_resamples": 50, "gradcam_patients": 0,
                 "verbose": False}


@pytest.fixture(scope="module")
def cohort_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs") / "cohort"
    make_tace_cohort(folder, n_per_center=(40, 12, 12), image_shape=(16, 16, 4),
                     random_state=3)
    return folder


@pytest.fixture(scope="module")
def cohort(cohort_folder):
    return read_cohort(cohort_folder / "cohort.csv")


def _snapshot(folder):
    return sorted((p.relative_to(folder), p.stat().st_size) for p in folder.rglob("*"))


# ------------------------------------------------------------------- finding 3: no input lost
@pytest.mark.parametrize("target", ["manifest_folder", "its_parent", "image_folder"])
def test_overwrite_never_replaces_the_inputs(cohort, cohort_folder, target):
    before = _snapshot(cohort_folder)
    out = {"manifest_folder": cohort_folder, "its_parent": cohort_folder.parent,
           "image_folder": Path(cohort["t1c_path"].iloc[0]).parent}[target]
    with pytest.raises(FileExistsError, match="refusing to replace"):
        run_study(cohort, out_dir=out, overwrite=True, **CLINICAL_ONLY)
    assert _snapshot(cohort_folder) == before


def test_the_command_line_refuses_too(cohort_folder, capsys):
    before = _snapshot(cohort_folder)
    status = main(["study", "--cohort", str(cohort_folder / "cohort.csv"), "--out",
                   str(cohort_folder), "--overwrite", "--models", "clinical", "--quiet"])
    assert status == 1
    assert "refusing to replace" in capsys.readouterr().err
    assert _snapshot(cohort_folder) == before


def test_overwrite_replaces_a_report_and_nothing_else(cohort, tmp_path):
    out = tmp_path / "report"
    run_study(cohort, out_dir=out, **CLINICAL_ONLY)
    assert (out / ".tacelearn-report").is_file()
    run_study(cohort, out_dir=out, overwrite=True, **CLINICAL_ONLY)  # a report: replaced
    other = tmp_path / "notes"
    other.mkdir()
    (other / "draft.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a report written by tacelearn"):
        run_study(cohort, out_dir=other, overwrite=True, **CLINICAL_ONLY)
    assert (other / "draft.txt").read_text() == "mine"


# ------------------------------------------------------- finding 4: two runs, one folder
def _race(target, meanwhile, **options):
    """Build ``target`` while ``meanwhile()`` plays the other run."""
    with atomic_directory(target, **options) as staging:
        (staging / "marker").write_text("second run")
        meanwhile()


def test_a_folder_created_meanwhile_is_not_replaced(tmp_path):
    target = tmp_path / "report"

    def first_run_finishes():
        target.mkdir()
        (target / "theirs.txt").write_text("first run")

    with pytest.raises(FileExistsError, match="another process"):
        _race(target, first_run_finishes)
    assert sorted(p.name for p in target.iterdir()) == ["theirs.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no staging folder left


def test_a_folder_replaced_meanwhile_is_not_replaced_again(tmp_path):
    target = tmp_path / "report"
    target.mkdir()
    (target / "marker").write_text("old")

    def replaceable(folder):
        return (folder / "marker").is_file()

    def first_run_replaces_it():
        os.rename(target, tmp_path / "moved")
        target.mkdir()
        (target / "marker").write_text("first run")

    with pytest.raises(FileExistsError, match="another process"):
        _race(target, first_run_replaces_it, overwrite=True, replaceable=replaceable)
    assert (target / "marker").read_text() == "first run"


# ------------------------------------------------------ finding 7: SIGTERM and SIGKILL
def _study_command(cohort_folder, out, epochs):
    return [sys.executable, "-m", "tacelearn.study._cli", "study", "--cohort",
            str(cohort_folder / "cohort.csv"), "--out", str(out), "--models", "dltr",
            "--backbone", "resnet18", "--patch-size", "16", "--epochs", str(epochs),
            "--batch-size", "8", "--n-jobs", "1", "--quiet", "--cache", str(out.parent / "c")]


def _wait_for_partial(parent, process, timeout=120):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if list(parent.glob(".report.*.partial")):
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.2)
    return False


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_terminated_run_leaves_nothing_behind(cohort_folder, tmp_path, sig, status):
    out = tmp_path / "report"
    process = subprocess.Popen(_study_command(cohort_folder, out, epochs=400),
                               stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for_partial(tmp_path, process), "the run never started writing"
        process.send_signal(sig)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == status, err
    assert "partial outputs removed" in err
    assert not out.exists()
    assert not list(tmp_path.glob(".report.*"))


def test_staging_folders_of_dead_runs_are_removed_by_the_next_run(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)  # a process that has exited
    from tacelearn.utils._io import _host

    stale = tmp_path / f".report.{pid}@{_host()}~abc123.partial"
    stale.mkdir()
    (stale / "index.html").write_text("half")
    alive = tmp_path / f".report.{os.getpid()}@{_host()}~def456.partial"
    alive.mkdir()
    foreign = tmp_path / f".report.{pid}@another-host~ghi789.partial"
    foreign.mkdir()
    assert remove_stale_partials(tmp_path / "report") == [stale.name]
    assert alive.exists()
    assert foreign.exists()


# ---------------------------------------------------------- finding 9: NaN scores refused
def test_predict_refuses_nan_scores_naming_the_patients(cohort, tmp_path):
    y = cohort["objective_response"].astype(int)
    model = make_clinical_model(screen=False).fit(cohort, y)
    model[-1].coef_[0, :] = np.nan
    folder = save_model(model, tmp_path / "broken")
    out = tmp_path / "scores.csv"
    with pytest.raises(ValueError, match=rf"no valid score \(NaN\) for row\(s\) \[0, 1,.*"
                                         rf"patient\(s\) {cohort['patient_id'].iloc[0]}"):
        predict_cohort(folder, cohort, out=out)
    assert not out.exists()


def test_predict_lists_missing_columns_sorted_and_says_what_empty_means(cohort, tmp_path):
    y = cohort["objective_response"].astype(int)
    folder = save_model(make_clinical_model(screen=False).fit(cohort, y), tmp_path / "m")
    out = tmp_path / "scores.csv"
    with pytest.raises(ValueError, match=r"lacks 3 column\(s\) the model reads: afp, ascites, "
                                         r"tace_type; add them \(a column may be present but "
                                         r"empty: .*training median"):
        predict_cohort(folder, cohort.drop(columns=["tace_type", "afp", "ascites"]), out=out)
    assert not out.exists()
    # An empty column is accepted and imputed, as the message says.
    empty = cohort.assign(afp=np.nan)
    assert np.isfinite(predict_cohort(folder, empty)["score"]).all()


# ------------------------------------------- finding 13: unseen categories, non-binary targets
def test_unseen_categories_are_named_or_refused(cohort, tmp_path):
    y = cohort["objective_response"].astype(int)
    folder = save_model(make_clinical_model(screen=False).fit(cohort, y), tmp_path / "m")
    odd = cohort.copy()
    odd["tace_type"] = odd["tace_type"].astype(object)
    odd.loc[odd.index[2], "tace_type"] = "radioembolisation"
    with pytest.warns(UnseenCategoryWarning, match=r"column 'tace_type': value\(s\) "
                                                   r"\['radioembolisation'\].*row\(s\) \[2\]"):
        predict_cohort(folder, odd)
    with pytest.raises(ValueError, match="'radioembolisation'"):
        predict_cohort(folder, odd, unknown_categories="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predict_cohort(folder, odd, unknown_categories="ignore")


@pytest.mark.parametrize("factory", [
    lambda: make_clinical_model(),
    lambda: make_clinical_model(screen=False, dichotomise=False),
    lambda: make_dltr_lr(cv=None, backbone="resnet18", patch_size=16,
                         encoder_params={"max_epochs": 1, "batch_size": 8}),
    lambda: make_dltr_mlp(cv=None, backbone="resnet18", patch_size=16,
                          encoder_params={"max_epochs": 1, "batch_size": 8}),
])
def test_every_model_refuses_a_three_class_target(tiny_cohort, factory):
    mrecist = tiny_cohort["mrecist"].map({"CR": 2, "PR": 1, "SD": 0, "PD": 0})
    assert mrecist.nunique() == 3
    with pytest.raises(ValueError, match="two classes"):
        factory().fit(tiny_cohort, mrecist)


# --------------------------------------------------------------------- finding 14: umask
def test_outputs_follow_the_umask(cohort, tmp_path):
    previous = os.umask(0o022)
    try:
        run_study(cohort, out_dir=tmp_path / "report", **CLINICAL_ONLY)
        make_tace_cohort(tmp_path / "cohort", n_per_center=(5, 2, 2), image_shape=(16, 16, 4))
        y = cohort["objective_response"].astype(int)
        folder = save_model(make_clinical_model(screen=False).fit(cohort, y),
                            tmp_path / "model")
        predict_cohort(folder, cohort, out=tmp_path / "scores.csv")
    finally:
        os.umask(previous)
    paths = [p for p in tmp_path.rglob("*")]
    assert len(paths) > 40
    modes = {p.relative_to(tmp_path): p.stat().st_mode & 0o777 for p in paths}
    wrong = {path: oct(mode) for path, mode in modes.items()
             if mode != (0o755 if (tmp_path / path).is_dir() else 0o644)}
    assert wrong == {}
    assert pd.read_csv(tmp_path / "scores.csv").shape[0] == len(cohort)
