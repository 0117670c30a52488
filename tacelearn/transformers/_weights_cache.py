"""Trained CNN weights in the content store, keyed on what determines them.

Training a CNN is the expensive step of every image model. Several models of a study train the
same CNN on the same patients (DLTR and the fusion models' image branches), and a grid search
over a fusion head trains it again for every candidate. Keyed on the patches, the labels and
the training settings, a trained network is stored once (weights as safetensors, history as
JSON, in :class:`tacelearn.utils.ContentStore`) and loaded back by any later fit that would
train it identically. A damaged entry is discarded with a warning and trained again.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CACHE_NAMESPACE", "WEIGHTS_CACHE_NAMESPACE", "WEIGHTS_FORMAT_VERSION", "load_weights",
           "store_weights"]

#: Bumped when the meaning of a stored entry changes, so old entries are not reused.
WEIGHTS_FORMAT_VERSION = 2
CACHE_NAMESPACE = "cnn-weights"
#: The same, under the name the package exports (the study counts trainings in it).
WEIGHTS_CACHE_NAMESPACE = CACHE_NAMESPACE


def store_weights(store, key, state_dict, history):
    """Store a state dict (tensors on any device) and a JSON-ready skorch history."""
    arrays = {name: tensor.detach().to("cpu").contiguous().numpy()
              for name, tensor in state_dict.items()}
    store.save(CACHE_NAMESPACE, key, arrays=arrays, meta={"history": history})


def load_weights(store, key, expected_names):
    """``(state_dict, history)`` stored under ``key``, or None (absent or unusable).

    ``expected_names`` are the state-dict keys of the network to fill: an entry holding
    other tensors is discarded like a corrupt one.
    """
    import torch

    def check(entry):
        if sorted(entry.arrays) != sorted(expected_names):
            raise ValueError("the stored tensors are not those of this network")
        if not isinstance(entry.meta.get("history"), list):
            raise ValueError("the stored training history is missing")

    entry = store.load(CACHE_NAMESPACE, key, check=check)
    if entry is None:
        return None
    state_dict = {name: torch.from_numpy(np.array(array)) for name, array in entry.arrays.items()}
    return state_dict, entry.meta["history"]
