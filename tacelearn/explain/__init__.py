"""tacelearn.explain: where in the image a prediction comes from (Grad-CAM, 2D and 3D)."""

from ._gradcam import DominantLesions, default_cam_layer, dominant_lesion_patches, grad_cam

__all__ = ["DominantLesions", "default_cam_layer", "dominant_lesion_patches", "grad_cam"]
