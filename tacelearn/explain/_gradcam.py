"""Grad-CAM heatmaps (Selvaraju et al., ICCV 2017) for a fitted CNNEncoder or a torch classifier."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..transformers import CNNEncoder

__all__ = ["default_cam_layer", "grad_cam"]

#: Patches per forward/backward pass when ``grad_cam`` gets a bare torch module.
MODULE_BATCH_SIZE = 32


def default_cam_layer(model):
    """Name of the Grad-CAM layer of a timm model: the output of its last feature stage.

    That is timm's last ``feature_info`` entry: ``layer4`` for ResNets, ``features.norm5``
    (the final BatchNorm + ReLU) for DenseNets, ``layers.3`` (the last stage) for Swin.

    Parameters
    ----------
    model : torch.nn.Module
        A timm model.

    Returns
    -------
    name : str
        A name for ``model.get_submodule``.

    See Also
    --------
    grad_cam : Uses this layer unless told otherwise.

    Examples
    --------
    >>> import timm
    >>> from tacelearn.explain import default_cam_layer
    >>> default_cam_layer(timm.create_model("densenet121", pretrained=False))
    'features.norm5'
    """
    feature_info = getattr(model, "feature_info", None)
    if not feature_info:
        raise ValueError(f"{type(model).__name__} is not a timm model with feature_info; "
                         "pass layer= (a submodule name or the module itself)")
    return feature_info[-1]["module"]


def _resolve_model(encoder):
    """(classifier module, timm backbone or None, batch size, device) of ``encoder``."""
    if isinstance(encoder, nn.Module):
        device = next(encoder.parameters()).device
        return encoder, None, MODULE_BATCH_SIZE, device
    if isinstance(encoder, CNNEncoder):
        check_is_fitted(encoder, "net_")
        module = encoder.net_.module_
        return module, module.backbone, encoder.net_.batch_size, torch.device(encoder.net_.device)
    raise TypeError("grad_cam takes a fitted CNNEncoder or a torch.nn.Module classifier, got "
                    f"{type(encoder).__name__}")


def _resolve_layer(module, backbone, layer):
    """(target module, whether its output is channels-last) for ``layer``."""
    root = backbone if backbone is not None else module
    if layer is None:
        layer = default_cam_layer(root)
    if isinstance(layer, str):
        try:
            target = root.get_submodule(layer)
        except AttributeError as error:
            raise ValueError(f"layer {layer!r} is not a submodule of {type(root).__name__}: "
                             f"{error}") from error
    elif isinstance(layer, nn.Module):
        target = layer
        if not any(candidate is target for candidate in module.modules()):
            raise ValueError("layer is a module that is not part of the model")
    else:
        raise TypeError(f"layer must be None, a submodule name or a torch.nn.Module, got {layer!r}")
    # Swin and other NHWC timm models say so in output_fmt; their stages emit (n, h, w, c).
    channels_last = getattr(root, "output_fmt", "NCHW") == "NHWC"
    return target, channels_last


def _check_target(target, n_outputs):
    if isinstance(target, bool) or not isinstance(target, Integral) \
            or not 0 <= target < n_outputs:
        raise ValueError(f"target must be a class index in [0, {n_outputs - 1}], got {target!r}")
    return int(target)


def _weighted_maps(activations, gradients):
    """ReLU of the channel sum of activations weighted by their spatially averaged gradient."""
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    return F.relu((weights * activations).sum(dim=1))


def _scale_to_unit(maps):
    """Min-max scale each map to [0, 1]; a constant map becomes zeros."""
    flat = maps.reshape(len(maps), -1)
    low = flat.min(dim=1).values[:, None, None]
    span = (flat.max(dim=1).values - flat.min(dim=1).values)[:, None, None]
    return torch.where(span > 0, (maps - low) / torch.where(span > 0, span, 1.0),
                       torch.zeros_like(maps))


def grad_cam(encoder, X, *, target=1, layer=None):
    """Grad-CAM heatmaps: where in each patch the evidence for class ``target`` lies.

    For each patch, the gradient of the class logit with respect to the feature maps of
    ``layer`` is averaged over space to weigh each map; the weighted sum goes through a
    ReLU, is upsampled bilinearly to the patch size and min-max scaled to [0, 1]
    (Selvaraju et al., "Grad-CAM: visual explanations from deep networks via gradient-based
    localization", ICCV 2017).

    Parameters
    ----------
    encoder : CNNEncoder or torch.nn.Module
        A fitted :class:`~tacelearn.transformers.CNNEncoder`, or a torch classifier that maps
        ``(n, channels, height, width)`` to class logits (then ``layer`` is required unless
        it is a timm model).
    X : array-like of shape (n_patients, channels, height, width)
        Patches, as given to the encoder.
    target : int, default=1
        Index of the class logit to explain (column of ``predict_proba``); 1 is the positive
        class ``classes_[1]`` (objective response in the study).
    layer : str or torch.nn.Module, optional
        The layer whose output is weighed, by name within the timm backbone
        (``encoder.net_.module_.backbone``) or within the module. Default: the last feature
        stage (:func:`default_cam_layer`): ``layer4`` (ResNet), ``features.norm5``
        (DenseNet), ``layers.3`` (Swin; its tokens are read as an ``h x w`` map).

    Returns
    -------
    heatmaps : ndarray of shape (n_patients, height, width)
        Float32 values in [0, 1] at the input resolution; all zeros where no location adds
        evidence.

    See Also
    --------
    tacelearn.transformers.CNNEncoder : The encoder explained.

    Notes
    -----
    The layer's output is captured by a forward hook that hands a copy to the rest of the
    network, so in-place operations after it (the ReLU after DenseNet's ``norm5``, ResNet's
    in-place activations) cannot change what is differentiated. The model runs in eval mode,
    in float32, on the encoder's device; parameter gradients are not touched.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.explain import grad_cam
    >>> from tacelearn.transformers import CNNEncoder
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile([0, 1], 8)
    >>> X = rng.normal(size=(16, 2, 32, 32)).astype(np.float32)
    >>> X[y == 1, :, 4:12, 4:12] += 3.0
    >>> encoder = CNNEncoder(backbone="resnet18", max_epochs=2, batch_size=8,
    ...                      random_state=0).fit(X, y)
    >>> heatmaps = grad_cam(encoder, X[:4])
    >>> heatmaps.shape, float(heatmaps.min()) >= 0.0, float(heatmaps.max()) <= 1.0
    ((4, 32, 32), True, True)
    """
    module, backbone, batch_size, device = _resolve_model(encoder)
    # torch shares the array's memory, so it must be writeable and C-ordered.
    patches = np.require(np.asarray(X, dtype=np.float32), requirements=["C", "W"])
    if patches.ndim != 4 or len(patches) == 0:
        raise ValueError("X must hold patches of shape (n_patients, channels, height, width), "
                         f"got shape {patches.shape}")
    if not np.isfinite(patches).all():
        raise ValueError("X holds NaN or infinite values")
    if isinstance(encoder, CNNEncoder) and (
            patches.shape[1] != encoder.n_features_in_
            or patches.shape[2:] != encoder.image_size_):
        raise ValueError(
            f"X has {patches.shape[1]} channels of {patches.shape[2]} x {patches.shape[3]} "
            f"pixels but the encoder was fitted on {encoder.n_features_in_} channels of "
            f"{encoder.image_size_[0]} x {encoder.image_size_[1]}"
        )
    target_layer, channels_last = _resolve_layer(module, backbone, layer)

    captured = {}

    def keep_activation(_module, _inputs, output):
        if not output.requires_grad:
            # Everything up to here is frozen: differentiate from this layer on.
            output = output.detach().requires_grad_(True)
        captured["activation"] = output
        # Layers after this one get a copy, so their in-place operations leave it intact.
        return output.clone()

    was_training = module.training
    module.eval()
    handle = target_layer.register_forward_hook(keep_activation)
    heatmaps = []
    try:
        with torch.enable_grad():
            for start in range(0, len(patches), batch_size):
                batch = torch.from_numpy(patches[start:start + batch_size]).to(device)
                logits = module(batch).float()
                index = _check_target(target, logits.shape[1])
                activation = captured.pop("activation", None)
                if activation is None:
                    raise ValueError("the layer did not run in the forward pass; choose a layer "
                                     "that the model calls")
                gradient, = torch.autograd.grad(logits[:, index].sum(), activation)
                if channels_last:
                    activation, gradient = (t.permute(0, 3, 1, 2) for t in (activation, gradient))
                if activation.ndim != 4:
                    raise ValueError("the layer's output must be a (n, channels, h, w) feature "
                                     f"map, got shape {tuple(activation.shape)}")
                maps = _weighted_maps(activation.detach().float(), gradient.float())
                maps = F.interpolate(maps[:, None], size=patches.shape[2:], mode="bilinear",
                                     align_corners=False)[:, 0]
                heatmaps.append(_scale_to_unit(maps).cpu())
    finally:
        handle.remove()
        module.train(was_training)
    return torch.cat(heatmaps).numpy().astype(np.float32)
