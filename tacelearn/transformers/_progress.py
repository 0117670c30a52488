"""A progress bar over a CNN's training epochs, for people watching a long fit."""

from __future__ import annotations

import sys

from skorch.callbacks import Callback

__all__ = ["EpochProgress"]

#: History columns shown beside the bar, when the epoch has them.
_SHOWN = (("train_loss", "loss"), ("valid_loss", "valid loss"), ("valid_auc", "valid AUC"))


class EpochProgress(Callback):
    """A tqdm bar over the epochs of a skorch fit: epoch, losses, validation AUC and ETA.

    skorch's own :class:`~skorch.callbacks.ProgressBar` counts batches within an epoch and
    its epoch table prints to stdout; a study that trains for minutes needs one line that
    says how far it is and how long is left.

    Parameters
    ----------
    description : str, default="CNN training"
        The bar's label.
    stream : file-like, optional
        Where the bar is drawn; default ``sys.stderr``.

    Examples
    --------
    >>> from tacelearn.transformers._progress import EpochProgress
    >>> EpochProgress(description="DenseNet169").description
    'DenseNet169'
    """

    def __init__(self, description="CNN training", stream=None):
        self.description = description
        self.stream = stream

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        from tqdm.auto import tqdm

        self.bar_ = tqdm(total=net.max_epochs, desc=self.description, unit="epoch",
                         file=self.stream or sys.stderr, leave=False)

    def on_epoch_end(self, net, **kwargs):
        epoch = net.history[-1]
        shown = {label: f"{epoch[key]:.3f}" for key, label in _SHOWN if key in epoch}
        self.bar_.set_postfix(shown, refresh=False)
        self.bar_.update()

    def on_train_end(self, net, X=None, y=None, **kwargs):
        bar = getattr(self, "bar_", None)
        if bar is not None:
            bar.close()
            self.bar_ = None
