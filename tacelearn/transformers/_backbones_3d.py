"""MONAI's 3D classification networks behind the interface CNNEncoder expects of a timm model.

A backbone named ``"monai:<architecture>"`` is one of MONAI's DenseNets or ResNets built with
``spatial_dims=3``. The adapters below hold the MONAI network's own layers under their own
names (so MONAI and MedicalNet state dicts load as they are) and add what the encoder, the
lesion pooling and Grad-CAM call on a timm model: ``forward_features``, ``forward_head``
(with ``pre_logits``), ``get_classifier``, ``num_features`` and ``feature_info``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MONAI_ARCHITECTURES", "MONAI_PREFIX", "create_monai_backbone", "is_monai_backbone"]

#: Backbone names with this prefix are MONAI networks (3D input).
MONAI_PREFIX = "monai:"
#: MONAI architectures by the name after the prefix: (family, MONAI factory name).
MONAI_ARCHITECTURES = {
    "densenet121": ("densenet", "DenseNet121"),
    "densenet169": ("densenet", "DenseNet169"),
    "densenet201": ("densenet", "DenseNet201"),
    "resnet10": ("resnet", "resnet10"),
    "resnet18": ("resnet", "resnet18"),
    "resnet34": ("resnet", "resnet34"),
    "resnet50": ("resnet", "resnet50"),
}
#: Keyword arguments the encoder sets itself: a user's ``backbone_params`` may not.
_RESERVED = {
    "densenet": ("spatial_dims", "in_channels", "out_channels", "pretrained", "progress"),
    "resnet": ("spatial_dims", "n_input_channels", "num_classes", "pretrained", "progress",
               "feed_forward"),
}
#: The first convolution's weight, adapted to the number of input channels when loading.
_FIRST_CONVOLUTION = {"densenet": "features.conv0.weight", "resnet": "conv1.weight"}
_CLASSIFIER_PREFIX = {"densenet": "class_layers.out.", "resnet": "fc."}


def is_monai_backbone(name):
    """Whether the backbone name designates a MONAI 3D network (``"monai:..."``)."""
    return isinstance(name, str) and name.startswith(MONAI_PREFIX)


def check_monai_name(name):
    """The architecture behind ``"monai:<architecture>"``, or a ValueError listing them."""
    architecture = name[len(MONAI_PREFIX):]
    if architecture not in MONAI_ARCHITECTURES:
        raise ValueError(f"unknown backbone {name!r}: MONAI backbones are "
                         f"{', '.join(MONAI_PREFIX + a for a in MONAI_ARCHITECTURES)}")
    return architecture


class MonaiDenseNet(nn.Module):
    """A MONAI DenseNet with timm's interface; its layers keep MONAI's names."""

    def __init__(self, network):
        super().__init__()
        self.features = network.features
        self.class_layers = network.class_layers
        self.num_features = int(network.class_layers.out.in_features)
        # The last dense block's BatchNorm: the Grad-CAM layer, as norm5 is for timm.
        self.feature_info = [{"module": "features.norm5", "num_chs": self.num_features}]

    def forward_features(self, x):
        return self.features(x)

    def forward_head(self, x, pre_logits=False):
        # Out of place: the head may run twice on the same features.
        pooled = self.class_layers.pool(torch.relu(x)).flatten(1)
        return pooled if pre_logits else self.class_layers.out(pooled)

    def forward(self, x):
        return self.forward_head(self.forward_features(x))

    def get_classifier(self):
        return self.class_layers.out


class MonaiResNet(nn.Module):
    """A MONAI ResNet with timm's interface; its layers keep MONAI's names."""

    _LAYERS = ("conv1", "bn1", "act", "maxpool", "layer1", "layer2", "layer3", "layer4",
               "avgpool", "fc")

    def __init__(self, network):
        super().__init__()
        for name in self._LAYERS:
            setattr(self, name, getattr(network, name))
        self.no_max_pool = bool(network.no_max_pool)
        self.num_features = int(network.fc.in_features)
        self.feature_info = [{"module": "layer4", "num_chs": self.num_features}]

    def forward_features(self, x):
        x = self.act(self.bn1(self.conv1(x)))
        if not self.no_max_pool:
            x = self.maxpool(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_head(self, x, pre_logits=False):
        pooled = self.avgpool(x).flatten(1)
        return pooled if pre_logits else self.fc(pooled)

    def forward(self, x):
        return self.forward_head(self.forward_features(x))

    def get_classifier(self):
        return self.fc


_ADAPTERS = {"densenet": MonaiDenseNet, "resnet": MonaiResNet}


def _build(architecture, in_chans, num_classes, params):
    from monai.networks import nets

    family, factory = MONAI_ARCHITECTURES[architecture]
    reserved = sorted(set(params) & set(_RESERVED[family]))
    if reserved:
        raise ValueError(f"backbone_params may not set {reserved}: the encoder sets them for "
                         f"monai:{architecture}")
    if family == "densenet":
        kwargs = {"spatial_dims": 3, "in_channels": in_chans, "out_channels": num_classes}
    else:
        kwargs = {"spatial_dims": 3, "n_input_channels": in_chans, "num_classes": num_classes}
    try:
        network = getattr(nets, factory)(**kwargs, **params)
    except TypeError as error:
        raise ValueError(f"backbone_params {params} do not fit monai:{architecture} "
                         f"({nets.__name__}.{factory}): {error}") from error
    return family, _ADAPTERS[family](network)


def _check_input_size(model, name, in_chans, image_size):
    """Run one zero patch through the network: a patch too small for it fails here, named."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, in_chans, *image_size)))
    except RuntimeError as error:
        raise ValueError(f"3D patches of {' x '.join(map(str, image_size))} voxels (z, y, x) "
                         f"are too small for backbone {name!r}: {str(error).splitlines()[0]}; "
                         "use larger patches or a shallower network") from None
    finally:
        model.train(was_training)


def _adapted_first_convolution(weight, in_chans):
    """The first convolution of a weights file for ``in_chans`` inputs, as timm adapts 2D
    ones: channels repeated (or cut) and scaled by ``file channels / in_chans``."""
    file_chans = weight.shape[1]
    if file_chans == in_chans:
        return weight
    repeats = -(-in_chans // file_chans)
    tiled = weight.repeat(1, repeats, *([1] * (weight.ndim - 2)))[:, :in_chans]
    return tiled * (file_chans / in_chans)


def _load_pretrained(model, family, state_dict, name, path, in_chans):
    classifier = _CLASSIFIER_PREFIX[family]
    weights = {key: value for key, value in state_dict.items() if not key.startswith(classifier)}
    first = _FIRST_CONVOLUTION[family]
    if first in weights:
        weights[first] = _adapted_first_convolution(weights[first], in_chans)
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as error:
        detail = " ".join(str(error).split())[:600]
        raise ValueError(f"pretrained weights file {path} does not fit backbone {name!r}: "
                         f"{detail}") from error
    missing = [key for key in missing if not key.startswith(classifier)]
    if missing or unexpected:
        raise ValueError(f"pretrained weights file {path} does not fit backbone {name!r}: "
                         f"missing {missing[:5]}, unexpected {list(unexpected)[:5]}")


def create_monai_backbone(name, *, in_chans, image_size, num_classes=2, state_dict=None,
                          pretrained_path=None, params=None):
    """Build ``"monai:<architecture>"`` for ``in_chans`` x ``image_size`` 3D patches.

    Parameters
    ----------
    name : str
        ``"monai:densenet121"``, ``"monai:resnet18"``, ... (see :data:`MONAI_ARCHITECTURES`).
    in_chans : int
        Input channels (MRI sequences).
    image_size : tuple of 3 int
        Patch size ``(z, y, x)``; a size the network cannot take is refused, named.
    num_classes : int, default=2
        Outputs of the classifier, randomly initialised.
    state_dict : dict of str to torch.Tensor, optional
        Pretrained weights in MONAI's key layout (MedicalNet's for ResNets), read by the
        caller from ``pretrained_path``; every layer but the classifier must match, and the
        first convolution is adapted to ``in_chans``.
    pretrained_path : str, optional
        The file ``state_dict`` came from, for messages.
    params : dict, optional
        Further keyword arguments of the MONAI network (``init_features``, ``growth_rate``,
        ``widen_factor``, ``conv1_t_size``, ...).

    Returns
    -------
    model : torch.nn.Module
        :class:`MonaiDenseNet` or :class:`MonaiResNet`.
    """
    architecture = check_monai_name(name)
    image_size = tuple(int(s) for s in image_size)
    if len(image_size) != 3:
        raise ValueError(f"backbone {name!r} is a 3D network: it takes patches (n, channels, "
                         f"z, y, x), got patches of spatial shape {image_size}")
    family, model = _build(architecture, int(in_chans), int(num_classes), dict(params or {}))
    if state_dict is not None:
        _load_pretrained(model, family, state_dict, name, pretrained_path, int(in_chans))
    _check_input_size(model, name, int(in_chans), image_size)
    return model
