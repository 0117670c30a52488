"""Shared fixtures: synthetic cohorts written once per test session (per xdist worker)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_configure(config):
    import matplotlib

    matplotlib.use("Agg")
    # Two xdist workers on two cores: one thread each keeps torch and BLAS from oversubscribing.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        try:
            import torch

            torch.set_num_threads(1)
        except ImportError:  # pragma: no cover - torch is a dependency
            pass


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_cuda = False
    if not has_cuda:
        skip = pytest.mark.skip(reason="needs a CUDA device; this machine has none")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data():
    """Folder of the real public reference data (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def synthetic_cohort(tmp_path_factory):
    """The paper-sized synthetic cohort (473 patients) with small 64 x 64 x 16 volumes."""
    from tacelearn.datasets import make_tace_cohort

    folder = tmp_path_factory.mktemp("synthetic_cohort")
    return make_tace_cohort(folder, image_shape=(64, 64, 16), random_state=0)


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory):
    """A 24-patient cohort with 32 x 32 x 8 volumes, for API checks that need real files."""
    from tacelearn.datasets import make_tace_cohort

    folder = tmp_path_factory.mktemp("tiny_cohort")
    return make_tace_cohort(folder, n_per_center=(10, 7, 7), image_shape=(32, 32, 8),
                            random_state=1)


@pytest.fixture
def trainings(monkeypatch):
    """The CNN trainings so far: one entry per call of the skorch net's ``fit``."""
    from tacelearn.transformers._encoder_net import EncoderNet

    calls = []
    original = EncoderNet.fit

    def counted_fit(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(EncoderNet, "fit", counted_fit)
    return calls
