"""A folder of trained CNN weights keyed on what determines them, stored as safetensors.

Training a CNN is the expensive step of every image model. Several models of a study train the
same CNN on the same patients (DLTR and the fusion models' image branches), and a grid search
over a fusion head trains it again for every candidate. Keyed on the patches, the labels and
the training settings, a trained network is stored once and loaded back by any later fit that
would train it identically. Weights are safetensors files (no pickle is ever loaded) and the
training history is JSON; entries are written under a temporary name and renamed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import joblib
import torch
from safetensors.torch import load_file, save_file

__all__ = ["WeightsCache", "cache_location"]

#: Bumped when the meaning of a stored entry changes, so old entries are not reused.
FORMAT_VERSION = 1
_WEIGHTS, _META = "weights.safetensors", "meta.json"


def cache_location(memory):
    """The folder of a ``memory`` argument: a path, a joblib ``Memory`` or None."""
    if memory is None:
        return None
    location = getattr(memory, "location", memory)
    if location is None:
        return None
    if not isinstance(location, (str, os.PathLike)):
        raise TypeError(f"memory must be None, a folder path or a joblib.Memory, got {memory!r}")
    return Path(location)


class WeightsCache:
    """Trained state dicts and histories under ``location/<key>/``."""

    def __init__(self, location):
        self.location = Path(location)

    @staticmethod
    def key(*parts):
        """A hash of arrays and plain values (joblib's hashing, stable across processes)."""
        return joblib.hash((FORMAT_VERSION, *parts))

    def load(self, key):
        """``(state_dict, history)`` stored under ``key``, or None."""
        folder = self.location / key
        if not (folder / _WEIGHTS).is_file() or not (folder / _META).is_file():
            return None
        meta = json.loads((folder / _META).read_text())
        return load_file(folder / _WEIGHTS), meta["history"]

    def store(self, key, state_dict, history):
        """Store a state dict (any device) and a JSON-ready history under ``key``."""
        self.location.mkdir(parents=True, exist_ok=True)
        tensors = {name: tensor.detach().to("cpu").clone().contiguous()
                   for name, tensor in state_dict.items()}
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=self.location))
        try:
            save_file(tensors, staging / _WEIGHTS)
            (staging / _META).write_text(json.dumps({"history": history,
                                                     "torch": torch.__version__}))
            target = self.location / key
            try:
                os.replace(staging, target)
            except OSError:
                if not target.exists():
                    raise
                # Stored meanwhile by another process, with the same content.
                shutil.rmtree(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
