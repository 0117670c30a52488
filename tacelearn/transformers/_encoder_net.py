"""The torch module and the skorch net inside :class:`CNNEncoder`.

:class:`EncoderModule` wraps a timm backbone: logits for the loss, the pre-logit embedding for
``transform``, frozen BatchNorm layers held in eval mode. :class:`EncoderNet` is skorch's
classifier plus what a patch classifier needs: batched augmentation on the device, mixed
precision and channels-last memory on CUDA, and a pickled state that never needs CUDA. Its
input is a patch array, or for lesion bags a dict of arrays (``patches``, ``volumes``) that
skorch slices by patient and passes to the module as keyword arguments.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Mapping

import torch
from skorch import NeuralNetClassifier
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["EncoderModule", "EncoderNet", "match_frozen_parameters", "to_device_format"]

# Stands in the pickled state for a ``module`` parameter that is the module_ itself.
_MODULE_PLACEHOLDER = "<module_>"
# Channels-last memory by tensor rank: 2D images, 3D volumes.
_CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}


def to_device_format(patches):
    """CUDA patches in channels-last memory (2D or 3D), the layout its convolutions prefer;
    anything else unchanged."""
    if isinstance(patches, torch.Tensor) and patches.is_cuda and patches.dim() in _CHANNELS_LAST:
        return patches.contiguous(memory_format=_CHANNELS_LAST[patches.dim()])
    return patches


def _module_memory_format(module):
    """channels_last_3d for a network of 3D convolutions, channels_last otherwise."""
    if any(parameter.dim() == 5 for parameter in module.parameters()):
        return torch.channels_last_3d
    return torch.channels_last


def match_frozen_parameters(backbone, patterns):
    """Names of the backbone parameters that any of the fnmatch ``patterns`` matches.

    The classifier (timm's ``get_classifier()``) is never frozen, so ``"*"`` trains the new
    head alone (linear probing). A pattern that matches nothing is an error.
    """
    head = {id(parameter) for parameter in backbone.get_classifier().parameters()}
    names = [name for name, parameter in backbone.named_parameters() if id(parameter) not in head]
    frozen = set()
    for pattern in patterns:
        matched = [name for name in names if fnmatch.fnmatchcase(name, pattern)]
        if not matched:
            raise ValueError(
                f"freeze pattern {pattern!r} matches no parameter of the backbone; "
                f"names look like {', '.join(names[:3])}, ..., {names[-1]}"
            )
        frozen.update(matched)
    return tuple(name for name in names if name in frozen)


def _is_frozen_norm(module):
    parameters = list(module.parameters(recurse=False))
    return bool(parameters) and not any(parameter.requires_grad for parameter in parameters)


class EncoderModule(nn.Module):
    """A timm backbone with its classifier, some of its parameters frozen.

    Parameters
    ----------
    backbone : torch.nn.Module
        A timm model (``forward_features``, ``forward_head``, ``get_classifier``).
    frozen_parameters : sequence of str, default=()
        Names of backbone parameters that do not train. BatchNorm layers whose parameters are
        all frozen also keep their running statistics: they stay in eval mode in training.
    """

    def __init__(self, backbone, frozen_parameters=()):
        super().__init__()
        self.backbone = backbone
        self.frozen_parameters = tuple(frozen_parameters)
        frozen = set(self.frozen_parameters)
        for name, parameter in backbone.named_parameters():
            if name in frozen:
                parameter.requires_grad_(False)

    def forward(self, patches):
        """Class logits ``(n, n_classes)``."""
        return self.backbone(patches)

    def embed(self, patches):
        """The pre-logit embedding ``(n, num_features)``: pooled features before the head."""
        features = self.backbone.forward_features(patches)
        return self.backbone.forward_head(features, pre_logits=True)

    def train(self, mode=True):
        super().train(mode)
        if mode:
            for module in self.backbone.modules():
                if isinstance(module, _BatchNorm) and _is_frozen_norm(module):
                    module.eval()
        return self


def _move_optimizer_state(optimizer, device):
    for group in optimizer.param_groups:
        # Fused and capturable optimizers keep their step counters with the parameters; the
        # others expect them on the CPU.
        steps_follow = bool(group.get("fused") or group.get("capturable"))
        for parameter in group["params"]:
            state = optimizer.state.get(parameter, {})
            for key, value in state.items():
                if torch.is_tensor(value) and (value.dim() > 0 or steps_follow):
                    state[key] = value.to(device)


class _TrainingInterrupted(BaseException):
    """Carries a KeyboardInterrupt (Ctrl-C, or the CLI's SIGTERM) past skorch's
    ``partial_fit``, which would swallow it, end training early and return a half-trained net
    that the weights cache would then store as a full training."""


def _raised_by_a_callback(error):
    """Whether a skorch callback raised ``error``: EarlyStopping stops training by raising a
    KeyboardInterrupt, which is not an interruption by the user."""
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_globals.get("__name__", "").startswith("skorch.callbacks"):
            return True
        frame = frame.tb_next
    return False


class EncoderNet(NeuralNetClassifier):
    """skorch classifier for :class:`EncoderModule` (see :class:`CNNEncoder`).

    Parameters
    ----------
    module : EncoderModule
        The initialised module.
    augmentation : callable, optional
        Applied to each training batch on the device, e.g. :class:`PatchAugmentation`.
    **kwargs
        Passed to :class:`skorch.NeuralNetClassifier`. On a CUDA ``device`` the net trains
        and predicts under float16 autocast with gradient scaling and channels-last memory.
    """

    def __init__(self, module, *args, augmentation=None, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.augmentation = augmentation

    @property
    def accelerated(self):
        """Whether the net runs on CUDA, with mixed precision and channels-last memory."""
        return torch.device(self.device).type == "cuda"

    def _mixed_precision(self):
        # On the CPU no CUDA autocast object is even built.
        if self.accelerated:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def infer(self, x, **fit_params):
        x = to_tensor(x, device=self.device)
        with self._mixed_precision():
            if isinstance(x, Mapping):
                logits = self.module_(**x, **fit_params)
            else:
                logits = self.module_(to_device_format(x), **fit_params)
        # The loss and the probabilities are computed in float32 whatever autocast did.
        return logits.float()

    def _augmented(self, inputs):
        """The training batch with every patch (every lesion of a bag) augmented."""
        if self.augmentation is None:
            return inputs
        if not isinstance(inputs, Mapping):
            return self.augmentation(inputs)
        patches = inputs["patches"]
        # Each lesion of a bag draws its own transform; empty slots are ignored by the module.
        flat = self.augmentation(patches.reshape(-1, *patches.shape[2:]))
        return {**inputs, "patches": flat.reshape(patches.shape)}

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        patches, labels = unpack_data(batch)
        patches = self._augmented(to_tensor(patches, device=self.device))
        logits = self.infer(patches, **fit_params)
        loss = self.get_loss(logits, labels, X=patches, training=True)
        scaler = getattr(self, "grad_scaler_", None)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        return {"loss": loss, "y_pred": logits}

    def train_step(self, batch, **fit_params):
        scaler = getattr(self, "grad_scaler_", None)
        if scaler is None:
            return super().train_step(batch, **fit_params)
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        # Callbacks such as gradient clipping must see the true, unscaled gradients.
        scaler.unscale_(self.optimizer_)
        self.notify("on_grad_computed", named_parameters=list(self.get_all_learnable_params()),
                    batch=batch, training=True)
        scaler.step(self.optimizer_)
        scaler.update()
        return step

    def get_all_learnable_params(self):
        for name, parameter in super().get_all_learnable_params():
            if parameter.requires_grad:
                yield name, parameter

    def initialize_module(self):
        super().initialize_module()
        if self.accelerated:
            self.module_ = self.module_.to(memory_format=_module_memory_format(self.module_))
        return self

    def _batch(self, source, start):
        """Rows ``start:start + batch_size`` of a tensor or dict of tensors, on the device.

        A bag's patches keep their layout: the module lays out the lesions it takes from them.
        """
        if isinstance(source, Mapping):
            return {name: values[start:start + self.batch_size].to(self.device,
                                                                   non_blocking=True)
                    for name, values in source.items()}
        batch = source[start:start + self.batch_size].to(self.device, non_blocking=True)
        return to_device_format(batch)

    def predict_outputs(self, patches, *, embedding=False, output=None):
        """Logits, pre-logit embeddings or lesion scores of ``patches``, batch by batch.

        Faster than skorch's ``forward``: the array is sliced into batches directly instead of
        being collated sample by sample. ``patches`` is a float32 array, or a dict of arrays
        (lesion bags) passed to the module as keyword arguments. ``output`` names the module's
        method (``"embed"``, ``"lesion_scores"``); ``embedding=True`` means ``"embed"``.
        Returns a float32 tensor on the CPU.
        """
        module = self.module_
        was_training = module.training
        module.eval()
        output = output or ("embed" if embedding else None)
        forward = module if output is None else getattr(module, output)
        if isinstance(patches, Mapping):
            source = {name: torch.from_numpy(values) for name, values in patches.items()}
            n_rows = len(next(iter(source.values())))
        else:
            source, n_rows = torch.from_numpy(patches), len(patches)
        outputs = []
        try:
            with torch.inference_mode(), self._mixed_precision():
                for start in range(0, n_rows, self.batch_size):
                    batch = self._batch(source, start)
                    result = forward(**batch) if isinstance(batch, Mapping) else forward(batch)
                    outputs.append(result.float().cpu())
        finally:
            module.train(was_training)
        return torch.cat(outputs)

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        self.grad_scaler_ = torch.amp.GradScaler("cuda") if self.accelerated else None
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt as interrupt:
            if _raised_by_a_callback(interrupt):
                raise  # skorch's own way to stop early (EarlyStopping): partial_fit ends it
            raise _TrainingInterrupted(interrupt) from None
        finally:
            self.grad_scaler_ = None

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        try:
            return super().partial_fit(X, y, classes=classes, **fit_params)
        except _TrainingInterrupted as carried:
            raise carried.args[0] from None

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        # An LR scheduler holds the optimizer, hence every parameter; pickled outside the
        # device-mapped part of the state it would tie the pickle to the training device.
        for _, callback in self.callbacks_:
            if hasattr(callback, "lr_scheduler_"):
                callback.lr_scheduler_ = None

    def place(self, device):
        """Move the module, criterion and optimizer state to ``device`` and run there."""
        device = torch.device(device)
        memory_format = (_module_memory_format(self.module_) if device.type == "cuda"
                         else torch.contiguous_format)
        self.module_.to(device=device, memory_format=memory_format)
        self.criterion_.to(device)
        if getattr(self, "optimizer_", None) is not None:
            _move_optimizer_state(self.optimizer_, device)
        self.device = str(device)
        return self

    def __getstate__(self):
        device = torch.device(self.device)
        if device.type == "cpu" or not getattr(self, "initialized_", False):
            state = super().__getstate__()
        else:
            # Pickled from the CPU, the tensors carry no CUDA location: a CPU-only machine
            # loads them without CUDA and without skorch's device warning.
            self.place("cpu")
            try:
                state = super().__getstate__()
            finally:
                self.place(device)
        state["device"] = "cpu"
        if state.get("module") is self.__dict__.get("module_"):
            # The module was passed initialised, so the ``module`` parameter is ``module_``:
            # pickled twice otherwise, and outside the device-mapped part of the state.
            state["module"] = _MODULE_PLACEHOLDER
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if isinstance(self.module, str) and self.module == _MODULE_PLACEHOLDER:
            self.module = self.module_
