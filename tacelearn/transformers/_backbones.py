"""Backbones for :class:`CNNEncoder`: creation at the patch size, weights from local files.

2D backbones are timm models, named as timm names them; 3D backbones are MONAI networks named
``"monai:<architecture>"`` (see :mod:`tacelearn.transformers._backbones_3d`). One string names
either, so that factories, backbone comparisons, caches and saved models treat them alike.

Pretrained weights never come from the network. A weights file the user names is read here
(``weights_only=True`` or safetensors) and handed to timm as the pretrained state dict, so that
timm's own pretrained path adapts the first convolution to the number of input channels and
applies the architecture's key filter (torchvision DenseNet names, resized Swin position
tables); the strict load then catches a file made for another architecture.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import timm
import torch
from timm.models import get_pretrained_cfg, load_state_dict

from ._backbones_3d import check_monai_name, create_monai_backbone, is_monai_backbone

__all__ = ["PAPER_BACKBONES", "WEIGHTS_SUFFIXES", "backbone_spatial_dims",
           "backbone_versions", "create_backbone", "read_weights_file"]

#: The backbones of the paper's pre-experiment (DenseNet169 won).
PAPER_BACKBONES = ("resnet18", "resnet50", "densenet169", "swin_tiny_patch4_window7_224")
#: File name endings read as weights: pickled state dicts (``weights_only``) or safetensors.
WEIGHTS_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")

# Resizing Swin's relative-position tables to another window size makes timm call torch
# functions that warn about their own inputs; the tables come out right regardless.
_TIMM_RESIZE_WARNINGS = (
    r"torch\.searchsorted\(\): input value tensor is non-contiguous",
    r"Using a non-tuple sequence for multidimensional indexing is deprecated",
)


#: Keyword arguments of timm.create_model that the encoder sets itself.
_TIMM_RESERVED = ("in_chans", "num_classes", "pretrained", "pretrained_cfg",
                  "pretrained_cfg_overlay", "pretrained_strict", "img_size", "checkpoint_path")


def backbone_spatial_dims(name):
    """Spatial dimensions of the patches a backbone takes: 3 for MONAI, 2 for timm."""
    return 3 if is_monai_backbone(name) else 2


def backbone_versions(name):
    """The library versions a trained network of this backbone depends on (for cache keys)."""
    if is_monai_backbone(name):
        import monai

        return ("monai", monai.__version__)
    return ("timm", timm.__version__)


def check_backbone_name(name):
    """Return ``name`` if timm or MONAI can build it offline, else raise a ValueError.

    Parameters
    ----------
    name : str
        A timm architecture name (``"densenet169"``) or ``"monai:<architecture>"`` for a 3D
        network of MONAI (``"monai:resnet18"``).

    Returns
    -------
    name : str
        ``name`` unchanged.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If neither library knows it, or it names a Hub or folder configuration instead of an
        architecture (weights come from a local file through ``pretrained``).

    Examples
    --------
    >>> from tacelearn.transformers import PAPER_BACKBONES, check_backbone_name
    >>> [check_backbone_name(name) for name in PAPER_BACKBONES[:2]]
    ['resnet18', 'resnet50']
    >>> check_backbone_name("resnet-18")
    Traceback (most recent call last):
    ...
    ValueError: unknown backbone 'resnet-18': not a timm model name ...
    """
    if not isinstance(name, str):
        raise TypeError(f"backbone must be a timm model name (str), got {name!r}")
    if is_monai_backbone(name):
        check_monai_name(name)
        return name
    if re.match(r"^(hf[-_]hub|local-dir):", name):
        raise ValueError(
            f"backbone {name!r} names a Hugging Face Hub or folder configuration; pass the "
            "architecture name (e.g. 'densenet169') and the weights file as pretrained=..."
        )
    if not timm.is_model(name):
        raise ValueError(
            f"unknown backbone {name!r}: not a timm model name (see timm.list_models()) "
            f"nor 'monai:<architecture>'; the paper compared {', '.join(PAPER_BACKBONES)}"
        )
    return name


def check_backbone_params(name, params):
    """``params`` as a dict of keyword arguments for the architecture, or a ValueError."""
    if params is None:
        return {}
    if not isinstance(params, dict) or not all(isinstance(key, str) for key in params):
        raise ValueError(f"backbone_params must be None or a dict of keyword arguments, got "
                         f"{params!r}")
    if not is_monai_backbone(name):
        reserved = sorted(set(params) & set(_TIMM_RESERVED))
        if reserved:
            raise ValueError(f"backbone_params may not set {reserved}: the encoder sets them "
                             f"for {name!r}")
    return dict(params)


def read_weights_file(path):
    """Read a state dict from a local ``.pth``/``.pt``/``.bin``/``.ckpt`` or ``.safetensors`` file.

    Pickled files load with ``torch.load(..., weights_only=True)``: a file that needs arbitrary
    code to unpickle is refused. Wrappers such as ``{"state_dict": ...}`` or ``{"model": ...}``
    and ``module.`` prefixes (DataParallel) are removed.

    Parameters
    ----------
    path : str or path-like
        The weights file.

    Returns
    -------
    state_dict : dict of str to torch.Tensor
        Tensors on the CPU.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"pretrained must be None or the path of a weights file, got {path!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights file not found: {path}")
    if not path.name.endswith(WEIGHTS_SUFFIXES):
        raise ValueError(f"pretrained weights file {path} must end with one of "
                         f"{', '.join(WEIGHTS_SUFFIXES)}")
    try:
        state_dict = load_state_dict(str(path), device="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(
            f"cannot read pretrained weights file {path}: {type(error).__name__}: {error}. "
            "It must hold a plain state dict (tensors only) or be a .safetensors file."
        ) from error
    if not isinstance(state_dict, dict) or not state_dict or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor)
        for key, value in state_dict.items()
    ):
        raise ValueError(f"pretrained weights file {path} does not hold a state dict "
                         "(a mapping of parameter names to tensors)")
    return state_dict


def _classifier_size(state_dict, classifier_names):
    """Outputs of the classifier stored in ``state_dict``, 0 when it holds no classifier."""
    for name in classifier_names:
        weight = state_dict.get(f"{name}.weight")
        if weight is not None and weight.ndim == 2:
            return int(weight.shape[0])
    return 0


def create_backbone(name, *, in_chans, image_size, num_classes=2, pretrained=None,
                    params=None):
    """Build the timm model or MONAI network ``name`` for ``in_chans`` x ``image_size`` patches.

    Architectures with a fixed input size (Swin, ViT) are built for ``image_size`` through
    timm's ``img_size`` argument, so small patches need no resizing; convolutional networks
    take any size. ``"monai:<architecture>"`` builds a MONAI 3D network
    (:func:`~tacelearn.transformers._backbones_3d.create_monai_backbone`).

    Parameters
    ----------
    name : str
        A timm model name, e.g. ``"densenet169"`` or ``"swin_tiny_patch4_window7_224"``, or
        ``"monai:densenet121"``, ``"monai:resnet18"``, ...
    in_chans : int
        Input channels (MRI sequences, or slices times sequences).
    image_size : tuple of 2 or 3 int
        Patch height and width (timm), or ``(z, y, x)`` (MONAI).
    num_classes : int, default=2
        Outputs of the new, randomly initialised classifier.
    pretrained : str or path-like, optional
        Local weights file in timm's key layout, or torchvision's for the ResNet and DenseNet
        families (MONAI's for MONAI networks). Its first convolution is adapted to
        ``in_chans``; its classifier is replaced.
    params : dict, optional
        Further keyword arguments of ``timm.create_model`` or of the MONAI network (see
        :func:`check_backbone_params`).

    Returns
    -------
    model : torch.nn.Module
        The timm model, or a MONAI network with the same interface.
    """
    check_backbone_name(name)
    params = check_backbone_params(name, params)
    if is_monai_backbone(name):
        state_dict = None if pretrained is None else read_weights_file(pretrained)
        return create_monai_backbone(name, in_chans=in_chans, image_size=image_size,
                                     num_classes=num_classes, state_dict=state_dict,
                                     pretrained_path=None if pretrained is None
                                     else str(pretrained), params=params)
    if len(image_size) != 2:
        raise ValueError(f"backbone {name!r} is a 2D timm model: it takes patches (n, channels, "
                         f"height, width), got patches of spatial shape {tuple(image_size)}; "
                         "3D patches need a 'monai:...' backbone")
    config = get_pretrained_cfg(name)
    kwargs = {"in_chans": int(in_chans), **params}
    if config is not None and config.fixed_input_size:
        kwargs["img_size"] = tuple(int(s) for s in image_size)
    if pretrained is None:
        try:
            return timm.create_model(name, pretrained=False, num_classes=num_classes, **kwargs)
        except TypeError as error:
            if not params:
                raise
            raise ValueError(f"backbone_params {params} do not fit backbone {name!r}: "
                             f"{error}") from error

    state_dict = read_weights_file(pretrained)
    classifiers = (config.classifier if config is not None else None) or ()
    if isinstance(classifiers, str):
        classifiers = (classifiers,)
    # Built with the file's own head size, timm keeps the strict load (a file for another
    # architecture fails instead of loading half its layers); the head is replaced after.
    # The overlay also clears every remote source of the model's pretrained config (timm
    # prefers a "hf-hub" source to a given state dict), so nothing can ever be downloaded.
    file_classes = _classifier_size(state_dict, classifiers)
    try:
        with warnings.catch_warnings():
            for message in _TIMM_RESIZE_WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=UserWarning)
            model = timm.create_model(
                name, pretrained=True, num_classes=file_classes, pretrained_strict=True,
                pretrained_cfg_overlay={"state_dict": state_dict, "num_classes": file_classes,
                                        "source": "", "hf_hub_id": None, "url": None,
                                        "file": None},
                **kwargs,
            )
    except RuntimeError as error:
        detail = str(error).strip().splitlines()
        raise ValueError(
            f"pretrained weights file {pretrained} does not fit backbone {name!r}: "
            f"{' '.join(line.strip() for line in detail[:3])[:600]}"
        ) from error
    model.reset_classifier(num_classes)
    return model
