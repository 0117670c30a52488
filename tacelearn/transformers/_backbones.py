"""timm backbones for :class:`CNNEncoder`: creation at the patch size, weights from local files.

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

__all__ = ["PAPER_BACKBONES", "WEIGHTS_SUFFIXES", "create_backbone", "read_weights_file"]

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


def check_backbone_name(name):
    """Return ``name`` if timm can build it offline, else raise a ValueError saying why."""
    if not isinstance(name, str):
        raise TypeError(f"backbone must be a timm model name (str), got {name!r}")
    if re.match(r"^(hf[-_]hub|local-dir):", name):
        raise ValueError(
            f"backbone {name!r} names a Hugging Face Hub or folder configuration; pass the "
            "architecture name (e.g. 'densenet169') and the weights file as pretrained=..."
        )
    if not timm.is_model(name):
        raise ValueError(
            f"unknown backbone {name!r}: not a timm model name (see timm.list_models()); "
            f"the paper compared {', '.join(PAPER_BACKBONES)}"
        )
    return name


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


def create_backbone(name, *, in_chans, image_size, num_classes=2, pretrained=None):
    """Build the timm model ``name`` for ``in_chans`` x ``image_size`` patches.

    Architectures with a fixed input size (Swin, ViT) are built for ``image_size`` through
    timm's ``img_size`` argument, so small patches need no resizing; convolutional networks
    take any size.

    Parameters
    ----------
    name : str
        A timm model name, e.g. ``"densenet169"`` or ``"swin_tiny_patch4_window7_224"``.
    in_chans : int
        Input channels (MRI sequences, or slices times sequences).
    image_size : tuple of 2 int
        Patch height and width.
    num_classes : int, default=2
        Outputs of the new, randomly initialised classifier.
    pretrained : str or path-like, optional
        Local weights file in timm's key layout, or torchvision's for the ResNet and DenseNet
        families. Its first convolution is adapted to ``in_chans``; its classifier is replaced.

    Returns
    -------
    model : torch.nn.Module
        The timm model.
    """
    check_backbone_name(name)
    config = get_pretrained_cfg(name)
    kwargs = {"in_chans": int(in_chans)}
    if config is not None and config.fixed_input_size:
        kwargs["img_size"] = tuple(int(s) for s in image_size)
    if pretrained is None:
        return timm.create_model(name, pretrained=False, num_classes=num_classes, **kwargs)

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
