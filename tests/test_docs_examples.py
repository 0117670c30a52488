"""The runnable examples of the user guide run, and print what they claim."""

import re
import runpy
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def test_quickstart_example_runs_and_prints_correct_aucs(capsys):
    namespace = runpy.run_path(str(EXAMPLES / "quickstart.py"))
    y_test, scores = namespace["main"]()
    printed = capsys.readouterr().out

    factors = re.search(r"screened clinical factors: \[(.*)\]", printed).group(1)
    assert factors  # the screening kept at least one planted factor
    for name, score in scores.items():
        auc = float(re.search(rf"{name}: AUC (\d\.\d+)", printed).group(1))
        # The printed DeLong AUC agrees with scikit-learn's trapezoidal AUC.
        assert auc == pytest.approx(roc_auc_score(y_test, score), abs=5e-4)
    # The fusion model beats chance on the two unseen centres (120 patients: the SE of an AUC
    # near 0.65 is about 0.05).
    assert roc_auc_score(y_test, scores["dltr_lr"]) > 0.55
    assert re.search(r"DeLong test DLTR_LR vs clinical: z = -?\d+\.\d+, P = \d\.\d+", printed)
