"""``tacelearn demo``: the synthetic multicentre cohort and the whole study on it."""

from __future__ import annotations

import json
from pathlib import Path

from ..datasets import make_tace_cohort, read_cohort
from ..genomics import SYNTHETIC_HALLMARK_GMT, make_tace_expression
from ..utils import atomic_directory, atomic_write_text
from ._runner import run_study

__all__ = ["DEMO_SETTINGS", "QUICK_SETTINGS", "run_demo"]

#: The default demo: the paper's design on the paper-sized synthetic cohort.
DEMO_SETTINGS = {
    "cohort": {"image_shape": None},
    "study": {"backbone": "densenet169", "patch_size": 128, "max_epochs": 20,
              "fusion_cv": None, "mlp_hidden_layer_sizes": (512, 512), "n_resamples": 2000},
}
#: ``--quick``: small volumes, ResNet18 on 48 px patches, few epochs.
QUICK_SETTINGS = {
    "cohort": {"image_shape": (48, 48, 12)},
    "study": {"backbone": "resnet18", "patch_size": 48, "max_epochs": 8, "fusion_cv": None,
              "n_resamples": 500, "gradcam_patients": 2},
}
#: Share of the synthetic patients with expression data, as only part of a real cohort has.
EXPRESSION_FRACTION = 0.6
_GENERATOR_FILE = "generator.json"


def _synthetic_cohort(folder, settings, random_state, n_jobs, say):
    """The demo cohort in ``folder``: reused when it was generated with the same settings."""
    wanted = {"random_state": random_state, **settings}
    wanted["image_shape"] = list(wanted["image_shape"] or [])
    record = folder / _GENERATOR_FILE
    if record.is_file() and json.loads(record.read_text()) == wanted:
        say(f"reusing the synthetic cohort in {folder}")
        return read_cohort(folder / "cohort.csv")
    say(f"generating the synthetic multicentre cohort into {folder}")
    with atomic_directory(folder, overwrite=True, replaceable=_is_generated_cohort) as staging:
        make_tace_cohort(staging, random_state=random_state, n_jobs=n_jobs, **settings)
        atomic_write_text(staging / _GENERATOR_FILE, json.dumps(wanted))
    return read_cohort(folder / "cohort.csv")


def _is_generated_cohort(folder):
    """Only a cohort the demo generated (it holds generator.json) is ever regenerated."""
    return (folder / _GENERATOR_FILE).is_file()


def run_demo(out, *, quick=False, device="auto", n_jobs=-1, random_state=0, verbose=True):
    """Generate the synthetic cohort into ``out/cohort`` and run the study into ``out/report``.

    A second run reuses the cohort, and the cached patches and CNN weights in ``out/cache``;
    the report folder is replaced. A synthetic expression table for 60% of the patients adds
    the radiogenomics section.

    Parameters
    ----------
    out : path-like
        Demo folder.
    quick : bool, default=False
        Small volumes, ResNet18 on 48 px patches and few epochs (a few minutes on a CPU)
        instead of the paper's DenseNet169 on 128 px patches.
    device : str, default="auto"
        Device of the CNN.
    n_jobs : int, default=-1
        Parallel cohort generation and patch extraction.
    random_state : int, default=0
        Seed of the cohort and of the study.
    verbose : bool, default=True
        Progress lines on stderr.

    Returns
    -------
    result : tacelearn.study.StudyResult
    """
    import sys

    def say(message):
        if verbose:
            print(f"[tacelearn] {message}", file=sys.stderr, flush=True)

    settings = QUICK_SETTINGS if quick else DEMO_SETTINGS
    out = Path(out)
    cohort = _synthetic_cohort(out / "cohort", settings["cohort"], random_state, n_jobs, say)
    expression = make_tace_expression(cohort, fraction=EXPRESSION_FRACTION,
                                      random_state=random_state)
    return run_study(
        cohort, out_dir=out / "report", overwrite=True, cache_dir=out / "cache",
        device=device, n_jobs=n_jobs, random_state=random_state, verbose=verbose,
        expression=expression.expression, gene_sets=str(SYNTHETIC_HALLMARK_GMT),
        signature=expression.signature, **settings["study"],
    )
