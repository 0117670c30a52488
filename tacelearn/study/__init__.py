"""The end-to-end study: :func:`run_study`, the demo and the ``tacelearn`` command line."""

from ._demo import DEMO_SETTINGS, QUICK_SETTINGS, run_demo
from ._options import MODEL_NAMES, StudyOptions
from ._predict import predict_cohort
from ._runner import StudyResult, run_study

__all__ = [
    "DEMO_SETTINGS",
    "MODEL_NAMES",
    "QUICK_SETTINGS",
    "StudyOptions",
    "StudyResult",
    "predict_cohort",
    "run_demo",
    "run_study",
]
