"""tacelearn.explain: where in the image a prediction comes from (Grad-CAM)."""

from ._gradcam import default_cam_layer, grad_cam

__all__ = ["default_cam_layer", "grad_cam"]
