"""What :class:`CNNEncoder` takes: patch arrays (2D or 3D) or lesion bags, checked for torch.

A 2D backbone (timm) takes ``(n, C, H, W)`` patches and a 3D one (MONAI) ``(n, C, D, H, W)``;
with ``lesion_aggregation`` the encoder takes lesion bags instead (one record per patient, see
:func:`~tacelearn.transformers.make_lesion_bags`), which reach the skorch net as a dict of
``patches`` ``(n, n_slots, C, ...)`` and ``volumes`` ``(n, n_slots)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.utils.validation import check_consistent_length, column_or_1d, validate_data

from ._backbones import backbone_spatial_dims
from ._lesions import is_lesion_bags, unpack_lesion_bags

__all__ = ["EncoderInputs", "check_encoder_inputs", "encoder_inputs", "validate_encoder_data"]

_PATCH_VALIDATION = {"allow_nd": True, "dtype": np.float32, "ensure_all_finite": True}
_AXES = {2: "(n_patients, channels, height, width)",
         3: "(n_patients, channels, depth, height, width)"}


class EncoderInputs(NamedTuple):
    """Validated encoder input: what the net takes and the patch geometry."""

    data: object
    n_channels: int
    image_size: tuple


def _check_geometry(encoder, n_channels, image_size, *, reset, what):
    """Refuse patches whose spatial rank the backbone cannot take, or unlike the fitted ones."""
    dims = backbone_spatial_dims(encoder.backbone)
    if len(image_size) != dims:
        kind = "3D (a 'monai:...' backbone)" if dims == 3 else "2D (a timm backbone)"
        raise ValueError(f"CNNEncoder with backbone {encoder.backbone!r} is {kind} and takes "
                         f"{what} {_AXES[dims]}; got patches of spatial shape {image_size}")
    if reset:
        return
    if n_channels != encoder.n_features_in_:
        raise ValueError(f"X has {n_channels} channels, but CNNEncoder is expecting "
                         f"{encoder.n_features_in_} channels as input.")
    if image_size != encoder.image_size_:
        shown = " x ".join(map(str, image_size))
        fitted = " x ".join(map(str, encoder.image_size_))
        raise ValueError(f"X has {shown} pixel patches but CNNEncoder was fitted on {fitted}")


def _validate_patches(encoder, X, y, *, reset):
    if is_lesion_bags(X):
        raise ValueError("X holds lesion bags (several lesions per patient); set "
                         "lesion_aggregation ('max', 'volume_mean' or 'attention') to pool "
                         "them into patient scores")
    if y is None:
        return validate_data(encoder, X, reset=reset, **_PATCH_VALIDATION), None
    return validate_data(encoder, X, y, reset=reset, **_PATCH_VALIDATION)


def _patch_inputs(encoder, X, *, reset):
    if X.ndim not in (4, 5):
        dims = backbone_spatial_dims(encoder.backbone)
        raise ValueError(f"CNNEncoder takes patches of shape {_AXES[dims]}; got an array of "
                         f"shape {X.shape}")
    image_size = tuple(int(s) for s in X.shape[2:])
    _check_geometry(encoder, X.shape[1], image_size, reset=reset, what="patches")
    # torch shares the array's memory: it must be writeable and C-ordered.
    X = np.require(X, requirements=["C", "W"])
    return EncoderInputs(X, int(X.shape[1]), image_size)


def _validate_bags(encoder, X, y, *, reset):
    if not is_lesion_bags(X):
        shape = f" of shape {X.shape}" if hasattr(X, "shape") else ""
        raise ValueError(f"lesion_aggregation={encoder.lesion_aggregation!r} pools the lesions "
                         "of each patient: X must be lesion bags "
                         "(TumourPatchExtractor(lesion='bags') or make_lesion_bags), got "
                         f"{type(X).__name__}{shape}")
    bags = unpack_lesion_bags(X)
    if y is not None:
        y = column_or_1d(y, warn=True)
        check_consistent_length(bags[1], y)
    return bags, y


def _bag_inputs(encoder, bags, *, reset):
    patches, volumes = bags
    n_channels, image_size = int(patches.shape[2]), tuple(int(s) for s in patches.shape[3:])
    _check_geometry(encoder, n_channels, image_size, reset=reset, what="lesion bags of patches")
    if reset:
        encoder.n_features_in_ = n_channels
        # Bags are not tables: no column names to remember.
        encoder.__dict__.pop("feature_names_in_", None)
    return EncoderInputs({"patches": patches, "volumes": volumes}, n_channels, image_size)


def validate_encoder_data(encoder, X, y=None, *, reset):
    """``(X, y)`` checked as data: float32 finite patches, or unpacked bags; ``y`` 1D.

    The geometry (rank, channels, size) is left to :func:`check_encoder_inputs`, so that a
    bad ``y`` is reported first, as scikit-learn's checks expect of a classifier.
    """
    if encoder.lesion_aggregation is None:
        return _validate_patches(encoder, X, y, reset=reset)
    return _validate_bags(encoder, X, y, reset=reset)


def check_encoder_inputs(encoder, X, *, reset):
    """:class:`EncoderInputs` of data validated by :func:`validate_encoder_data`.

    ``reset`` (in ``fit``) records ``n_features_in_``; otherwise the channels and the patch
    size must be those of the fit. Patches are float32, finite, C-contiguous and writeable.
    """
    if encoder.lesion_aggregation is None:
        return _patch_inputs(encoder, X, reset=reset)
    return _bag_inputs(encoder, X, reset=reset)


def encoder_inputs(encoder, X, *, reset=False):
    """:class:`EncoderInputs` of ``X``, validated and checked (for prediction)."""
    return check_encoder_inputs(encoder, validate_encoder_data(encoder, X, reset=reset)[0],
                                reset=reset)
