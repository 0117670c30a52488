"""``tacelearn demo``: the synthetic multicentre cohort and the whole study on it."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..datasets import make_tace_cohort, read_cohort
from ..genomics import SYNTHETIC_HALLMARK_GMT, make_tace_expression
from ..utils import atomic_directory, atomic_write_text
from ._runner import run_study
from ._settings import StudySettings

__all__ = ["DEMO_SETTINGS", "QUICK_SETTINGS", "run_demo"]

#: The default demo: the paper's design on the paper-sized synthetic cohort.
DEMO_SETTINGS = {
    "cohort": {"image_shape": None},
    "study": StudySettings(backbone="densenet169", patch_size=128, max_epochs=20,
                           fusion_cv=5, n_resamples=2000, n_bootstraps=200),
}
#: ``--quick``: 200 patients, small volumes, ResNet18 on 48 px patches, few epochs, fewer
#: resamples: a first look in minutes.
QUICK_SETTINGS = {
    "cohort": {"image_shape": (48, 48, 12), "n_per_center": (100, 60, 40)},
    "study": StudySettings(backbone="resnet18", patch_size=48, max_epochs=8, fusion_cv=3,
                           n_resamples=500, n_bootstraps=50, gradcam_patients=2),
}
#: Share of the synthetic patients with expression data, as only part of a real cohort has.
EXPRESSION_FRACTION = 0.6
_GENERATOR_FILE = "generator.json"


def _is_generated_cohort(folder):
    """Only a cohort the demo generated (it holds generator.json) is ever regenerated."""
    return (folder / _GENERATOR_FILE).is_file()


def _synthetic_cohort(folder, settings, random_state, n_jobs, say):
    """The demo cohort in ``folder`` (reused when generated with the same settings) and the
    seconds spent generating it."""
    # As JSON gives it back: tuples become lists, so that a second run finds it equal.
    wanted = json.loads(json.dumps({"random_state": random_state, **settings}))
    record = folder / _GENERATOR_FILE
    if record.is_file() and json.loads(record.read_text()) == wanted:
        say(f"reusing the synthetic cohort in {folder}")
        return read_cohort(folder / "cohort.csv"), 0.0
    say(f"generating the synthetic multicentre cohort into {folder}")
    start = time.perf_counter()
    with atomic_directory(folder, overwrite=True, replaceable=_is_generated_cohort) as staging:
        make_tace_cohort(staging, random_state=random_state, n_jobs=n_jobs, **settings)
        atomic_write_text(staging / _GENERATOR_FILE, json.dumps(wanted))
    return read_cohort(folder / "cohort.csv"), time.perf_counter() - start


def run_demo(out, *, quick=False, device="auto", n_jobs=-1, scheduler=None, random_state=0,
             verbose=True):
    """Generate the synthetic cohort into ``out/cohort`` and run the study into ``out/report``.

    A second run reuses the cohort, and the cached patches and CNN weights in ``out/cache``;
    the report folder is replaced. A synthetic expression table for 60% of the patients adds
    the radiogenomics section.

    Parameters
    ----------
    out : path-like
        Demo folder.
    quick : bool, default=False
        Small volumes, ResNet18 on 48 px patches and few epochs instead of the paper's
        DenseNet169 on 128 px patches (:data:`QUICK_SETTINGS`, :data:`DEMO_SETTINGS`).
    device : str, default="auto"
        Device of the CNN.
    n_jobs : int, default=-1
        Parallel cohort generation, patch and radiomics extraction, bootstraps.
    scheduler : str, optional
        A Dask scheduler to run the parallel steps on.
    random_state : int, default=0
        Seed of the cohort and of the study.
    verbose : bool, default=True
        Progress messages and bars on stderr.

    Returns
    -------
    result : tacelearn.study.StudyResult
        The report folder, summary, tables, fitted models and scores.

    See Also
    --------
    run_study : The study it runs.

    Examples
    --------
    The quick demo's settings; running it takes a few minutes on a laptop's CPU:

    >>> from tacelearn.study import QUICK_SETTINGS, run_demo
    >>> QUICK_SETTINGS["study"].backbone, QUICK_SETTINGS["study"].patch_size
    ('resnet18', 48)
    >>> result = run_demo("tacelearn-demo", quick=True)  # doctest: +SKIP
    >>> result.out_dir / "index.html"  # doctest: +SKIP
    PosixPath('tacelearn-demo/report/index.html')
    """
    def say(message):
        if verbose:
            print(f"[tacelearn] {message}", file=sys.stderr, flush=True)

    chosen = QUICK_SETTINGS if quick else DEMO_SETTINGS
    settings = chosen["study"].replace(device=device, n_jobs=n_jobs, scheduler=scheduler,
                                       random_state=random_state)
    out = Path(out)
    cohort, seconds = _synthetic_cohort(out / "cohort", chosen["cohort"], random_state,
                                        n_jobs, say)
    expression = make_tace_expression(cohort, fraction=EXPRESSION_FRACTION,
                                      random_state=random_state)
    return run_study(
        cohort, out_dir=out / "report", settings=settings, overwrite=True,
        cache_dir=out / "cache", verbose=verbose, stage_seconds={"cohort": seconds},
        expression=expression.expression, gene_sets=str(SYNTHETIC_HALLMARK_GMT),
        signature=expression.signature)
