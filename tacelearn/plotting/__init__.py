"""Display objects in scikit-learn's style: ``from_predictions``, ``from_estimator``, ``plot``."""

from ._calibration import CalibrationCurveDisplay
from ._decision_curve import DecisionCurveDisplay
from ._delong_matrix import DelongMatrixDisplay
from ._genomics import (
    CellFractionDisplay,
    EnrichmentScoreDisplay,
    GeneHeatmapDisplay,
    VolcanoDisplay,
)
from ._grad_cam import GradCamDisplay
from ._kaplan_meier import KaplanMeierDisplay
from ._radiogenomics import radiogenomics_figures
from ._roc import MultiRocDisplay
from ._score_by_response import ScoreByResponseDisplay
from ._waterfall import ScoreWaterfallDisplay

__all__ = [
    "CalibrationCurveDisplay",
    "CellFractionDisplay",
    "DecisionCurveDisplay",
    "DelongMatrixDisplay",
    "EnrichmentScoreDisplay",
    "GeneHeatmapDisplay",
    "GradCamDisplay",
    "KaplanMeierDisplay",
    "MultiRocDisplay",
    "ScoreByResponseDisplay",
    "ScoreWaterfallDisplay",
    "VolcanoDisplay",
    "radiogenomics_figures",
]
