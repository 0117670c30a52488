"""Grad-CAM heatmaps (Selvaraju et al., ICCV 2017) for a fitted CNNEncoder or a torch classifier.

2D patches give 2D maps and 3D patches 3D maps. A lesion-level encoder is explained lesion by
lesion: each map shows where the evidence for one lesion's own score lies, and for lesion bags
the lesion explained is the one that weighs most in its patient's score.
"""

from __future__ import annotations

from numbers import Integral
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..transformers import CNNEncoder, is_lesion_bags, unpack_lesion_bags

__all__ = ["DominantLesions", "default_cam_layer", "dominant_lesion_patches", "grad_cam"]

#: Patches per forward/backward pass when ``grad_cam`` gets a bare torch module.
MODULE_BATCH_SIZE = 32
_INTERPOLATION = {2: "bilinear", 3: "trilinear"}


class DominantLesions(NamedTuple):
    """The patch of each patient's most weighty lesion, and that lesion's number.

    What :func:`dominant_lesion_patches` returns: a named tuple, so it also unpacks as
    ``patches, lesion = result``.

    Parameters
    ----------
    patches : numpy.ndarray of shape (n_patients, C, ...)
        For each patient, the patch of the lesion that weighs most in its score (2D
        ``(C, rows, cols)`` or 3D ``(C, z, y, x)`` after the patient axis).
    lesion : numpy.ndarray of int of shape (n_patients,)
        The number of that lesion within its patient's bag (0 = the largest lesion).

    See Also
    --------
    dominant_lesion_patches : Picks the lesions.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.explain import DominantLesions
    >>> result = DominantLesions(np.zeros((2, 1, 4, 4), dtype=np.float32), np.array([0, 1]))
    >>> result.patches.shape, result.lesion.tolist()
    ((2, 1, 4, 4), [0, 1])
    >>> patches, lesion = result
    """

    patches: np.ndarray
    lesion: np.ndarray


def dominant_lesion_patches(encoder, bags):
    """Per patient, the patch of the lesion that weighs most in its score.

    Parameters
    ----------
    encoder : CNNEncoder
        A fitted lesion-level encoder (``lesion_aggregation`` set).
    bags : numpy.ndarray
        Lesion bags (:func:`~tacelearn.transformers.make_lesion_bags`).

    Returns
    -------
    result : DominantLesions
        ``patches``: ``(n_patients, C, ...)``, the lesion of largest weight (for ``"max"``
        the lesion of highest log-odds; for ``"volume_mean"`` the largest; ties go to the
        larger lesion); ``lesion``: its number within the patient (0 = largest).

    See Also
    --------
    grad_cam : Explains these patches when given bags.
    tacelearn.transformers.CNNEncoder.score_lesions : The weights.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.explain import dominant_lesion_patches
    >>> from tacelearn.transformers import CNNEncoder, make_lesion_bags
    >>> rng = np.random.default_rng(0)
    >>> patches = rng.normal(size=(8, 1, 16, 16)).astype(np.float32)
    >>> lesions = pd.DataFrame({"lesion": [0, 1] * 4, "volume_ml": [3.0, 1.0] * 4})
    >>> bags = make_lesion_bags(patches, lesions)
    >>> encoder = CNNEncoder(backbone="test_resnet", lesion_aggregation="volume_mean",
    ...                      max_epochs=1, batch_size=4, random_state=0).fit(bags, [0, 1] * 2)
    >>> dominant_lesion_patches(encoder, bags).lesion.tolist()
    [0, 0, 0, 0]
    """
    if not isinstance(encoder, CNNEncoder) or getattr(encoder, "lesion_aggregation",
                                                      None) is None:
        raise TypeError("lesion bags are explained through a fitted CNNEncoder with "
                        "lesion_aggregation set")
    weights = encoder.score_lesions(bags).weights
    lesion = np.argmax(weights, axis=1)
    patches = unpack_lesion_bags(bags)[0]
    return DominantLesions(patches[np.arange(len(patches)), lesion], lesion)


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
    """(classifier module, timm backbone or None, batch size, device) of ``encoder``.

    For a CNNEncoder the classifier is its backbone: the logits of one patch, which for a
    lesion-level encoder are one lesion's own (its module pools bags).
    """
    if isinstance(encoder, nn.Module):
        device = next(encoder.parameters()).device
        return encoder, None, MODULE_BATCH_SIZE, device
    if isinstance(encoder, CNNEncoder):
        check_is_fitted(encoder, "net_")
        backbone = encoder.net_.module_.backbone
        return (backbone, backbone, encoder.net_.batch_size,
                torch.device(encoder.net_.device))
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
    weights = gradients.mean(dim=tuple(range(2, gradients.dim())), keepdim=True)
    return F.relu((weights * activations).sum(dim=1))


def _scale_to_unit(maps):
    """Min-max scale each map to [0, 1]; a constant map becomes zeros."""
    flat = maps.reshape(len(maps), -1)
    shape = (len(maps),) + (1,) * (maps.dim() - 1)
    low = flat.min(dim=1).values.reshape(shape)
    span = (flat.max(dim=1).values - flat.min(dim=1).values).reshape(shape)
    return torch.where(span > 0, (maps - low) / torch.where(span > 0, span, 1.0),
                       torch.zeros_like(maps))


def _patches_to_explain(encoder, X):
    """The patches ``grad_cam`` explains, float32, checked against a fitted encoder."""
    if is_lesion_bags(X):
        X = dominant_lesion_patches(encoder, X).patches
    # torch shares the array's memory, so it must be writeable and C-ordered.
    patches = np.require(np.asarray(X, dtype=np.float32), requirements=["C", "W"])
    if patches.ndim not in (4, 5) or len(patches) == 0:
        raise ValueError("X must hold patches of shape (n_patients, channels, height, width), "
                         "or (n_patients, channels, depth, height, width) for a 3D network, "
                         f"got shape {patches.shape}")
    if not np.isfinite(patches).all():
        raise ValueError("X holds NaN or infinite values")
    if isinstance(encoder, CNNEncoder) and (
            patches.shape[1] != encoder.n_features_in_
            or patches.shape[2:] != tuple(encoder.image_size_)):
        raise ValueError(
            f"X has {patches.shape[1]} channels of {' x '.join(map(str, patches.shape[2:]))} "
            f"pixels but the encoder was fitted on {encoder.n_features_in_} channels of "
            f"{' x '.join(map(str, encoder.image_size_))}"
        )
    return patches


def grad_cam(encoder, X, *, target=1, layer=None):
    """Grad-CAM heatmaps: where in each patch the evidence for class ``target`` lies.

    For each patch, the gradient of the class logit with respect to the feature maps of
    ``layer`` is averaged over space to weigh each map; the weighted sum goes through a
    ReLU, is upsampled (bi- or trilinearly) to the patch size and min-max scaled to [0, 1]
    (Selvaraju et al., "Grad-CAM: visual explanations from deep networks via gradient-based
    localization", ICCV 2017).

    Parameters
    ----------
    encoder : CNNEncoder or torch.nn.Module
        A fitted :class:`~tacelearn.transformers.CNNEncoder`, or a torch classifier that maps
        ``(n, channels, height, width)`` (or ``(n, channels, depth, height, width)``) to class
        logits (then ``layer`` is required unless it is a timm model). A lesion-level encoder
        is explained through the score of each lesion on its own.
    X : array-like of shape (n_patients, channels, height, width) or lesion bags
        Patches, as given to the encoder; 3D patches ``(n, channels, depth, height, width)``
        for a 3D network. Lesion bags (a lesion-level encoder's input): the patch of each
        patient's lesion of largest weight is explained (:func:`dominant_lesion_patches`).
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
        evidence. ``(n_patients, depth, height, width)`` for 3D patches; the Grad-CAM
        display shows their middle slice, the lesion's largest axial slice.

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
    >>> encoder = CNNEncoder(backbone="test_resnet", max_epochs=1, batch_size=16,
    ...                      random_state=0).fit(X, y)
    >>> heatmaps = grad_cam(encoder, X[:4])
    >>> heatmaps.shape, float(heatmaps.min()) >= 0.0, float(heatmaps.max()) <= 1.0
    ((4, 32, 32), True, True)
    """
    module, backbone, batch_size, device = _resolve_model(encoder)
    patches = _patches_to_explain(encoder, X)
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
                if activation.ndim != patches.ndim:
                    axes = "h, w" if patches.ndim == 4 else "d, h, w"
                    raise ValueError(f"the layer's output must be a (n, channels, {axes}) "
                                     f"feature map, got shape {tuple(activation.shape)}")
                maps = _weighted_maps(activation.detach().float(), gradient.float())
                maps = F.interpolate(maps[:, None], size=patches.shape[2:],
                                     mode=_INTERPOLATION[patches.ndim - 2],
                                     align_corners=False)[:, 0]
                heatmaps.append(_scale_to_unit(maps).cpu())
    finally:
        handle.remove()
        module.train(was_training)
    return torch.cat(heatmaps).numpy().astype(np.float32)
