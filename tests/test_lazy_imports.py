"""Clinical-only use never imports torch or timm; the CNN names still resolve when asked for."""

import subprocess
import sys

CLINICAL_ONLY = """
import sys
import tacelearn.datasets, tacelearn.metrics, tacelearn.stats, tacelearn.survival
from tacelearn.estimators import make_clinical_model
from tacelearn.transformers import TumourPatchExtractor, UnivariateSelector
make_clinical_model()
heavy = sorted({"torch", "timm", "skorch"} & set(sys.modules))
assert not heavy, heavy
from tacelearn.estimators import compare_backbones, load_model, make_cached_grid_search, save_model
from tacelearn.transformers import CNNEncoder
assert "torch" in sys.modules
"""


def test_clinical_only_use_imports_no_deep_learning_library():
    # A fresh interpreter: the test session itself has imported torch long ago.
    result = subprocess.run([sys.executable, "-c", CLINICAL_ONLY], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr


#: Heavy libraries that only the image, radiomics and distributed code paths need.
HEAVY_LIBRARIES = ("torch", "timm", "skorch", "monai", "radiomics", "SimpleITK", "dask",
                   "distributed")
ANALYSIS_ONLY = f"""
import sys
import tacelearn.datasets, tacelearn.metrics, tacelearn.survival, tacelearn.stats
import tacelearn.genomics, tacelearn.validation, tacelearn.plotting
heavy = sorted(set({HEAVY_LIBRARIES!r}) & set(sys.modules))
assert not heavy, heavy
import torch
assert "torch" in sys.modules  # the check sees an import when there is one
"""


def test_analysis_subpackages_import_no_image_or_cluster_library():
    result = subprocess.run([sys.executable, "-c", ANALYSIS_ONLY], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
