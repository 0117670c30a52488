"""The torch module and the skorch net inside :class:`CNNEncoder`.

:class:`EncoderModule` wraps a timm backbone: logits for the loss, the pre-logit embedding for
``transform``, frozen BatchNorm layers held in eval mode. :class:`EncoderNet` is skorch's
classifier plus what a patch classifier needs: batched augmentation on the device, mixed
precision and channels-last memory on CUDA, and a pickled state that never needs CUDA.
"""

from __future__ import annotations

import contextlib
import fnmatch

import torch
from skorch import NeuralNetClassifier
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["EncoderModule", "EncoderNet", "match_frozen_parameters"]

# Stands in the pickled state for a ``module`` parameter that is the module_ itself.
_MODULE_PLACEHOLDER = "<module_>"


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
        if self.accelerated:
            x = x.contiguous(memory_format=torch.channels_last)
        with self._mixed_precision():
            logits = self.module_(x, **fit_params)
        # The loss and the probabilities are computed in float32 whatever autocast did.
        return logits.float()

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        patches, labels = unpack_data(batch)
        patches = to_tensor(patches, device=self.device)
        if self.augmentation is not None:
            patches = self.augmentation(patches)
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
            self.module_ = self.module_.to(memory_format=torch.channels_last)
        return self

    def predict_outputs(self, patches, *, embedding=False):
        """Logits, or pre-logit embeddings, of float32 ``patches`` in batches of ``batch_size``.

        Faster than skorch's ``forward``: the array is sliced into batches directly instead of
        being collated sample by sample. Returns a float32 tensor on the CPU.
        """
        module = self.module_
        was_training = module.training
        module.eval()
        source = torch.from_numpy(patches)
        forward = module.embed if embedding else module
        outputs = []
        try:
            with torch.inference_mode(), self._mixed_precision():
                for start in range(0, len(source), self.batch_size):
                    batch = source[start:start + self.batch_size].to(self.device,
                                                                     non_blocking=True)
                    if self.accelerated:
                        batch = batch.contiguous(memory_format=torch.channels_last)
                    outputs.append(forward(batch).float().cpu())
        finally:
            module.train(was_training)
        return torch.cat(outputs)

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        self.grad_scaler_ = torch.amp.GradScaler("cuda") if self.accelerated else None
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        finally:
            self.grad_scaler_ = None

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
        memory_format = (torch.channels_last if device.type == "cuda"
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
