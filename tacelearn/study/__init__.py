"""The end-to-end study: :func:`run_study`, its :class:`StudySettings`, the demo and the
``tacelearn`` command line.

Names are imported on first use (PEP 562): the command line's ``--help`` and the settings
need none of the scientific stack.
"""

import importlib

from ._settings import MODEL_LABELS, MODEL_NAMES, StudySettings

_LAZY = {
    "DEMO_SETTINGS": "._demo",
    "QUICK_SETTINGS": "._demo",
    "run_demo": "._demo",
    "predict_cohort": "._predict",
    "StudyResult": "._runner",
    "run_study": "._runner",
}

__all__ = [
    "DEMO_SETTINGS",
    "MODEL_LABELS",
    "MODEL_NAMES",
    "QUICK_SETTINGS",
    "StudyResult",
    "StudySettings",
    "predict_cohort",
    "run_demo",
    "run_study",
]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
