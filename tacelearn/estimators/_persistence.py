"""Fitted models saved as plain files and loaded back without unpickling anything.

A saved model is a folder: ``config.json`` (format version, versions, one entry per CNN),
``encoder_<i>.safetensors`` (the weights of every fitted
:class:`~tacelearn.transformers.CNNEncoder` in the model) and ``model.skops`` (everything
else, stored by :mod:`skops.io`, which rebuilds objects from their attributes and only
builds types the loader trusts). ``joblib`` files are simpler but run code when loaded.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import zipfile
from pathlib import Path, PosixPath, WindowsPath

import numpy as np
import pandas as pd
import safetensors
import sklearn
import skops.io
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from sklearn.base import BaseEstimator

from .. import __version__
from ..transformers import TumourPatchExtractor
from ..transformers._encoder import CNNEncoder, resolve_device
from ..utils import atomic_directory

__all__ = ["TRUSTED_TYPES", "load_model", "save_model"]

#: Bumped when a folder written by ``save_model`` changes meaning; ``load_model`` refuses others.
FORMAT_VERSION = 1
_FORMAT = "tacelearn-model"
CONFIG_FILE = "config.json"
MODEL_FILE = "model.skops"

#: Types from outside tacelearn that skops does not trust by default, yet that fitted models of
#: tacelearn hold; ``load_model`` accepts them, and every type defined in tacelearn itself.
TRUSTED_TYPES = (
    # The dtype a SimpleImputer records when fitted.
    "numpy.dtype",
    # The optimizer state of an MLPClassifier head fitted with solver="adam" or "sgd".
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    # Folders given as paths, such as the cache folders of the ``memory`` parameters.
    *(f"{kind.__module__}.{kind.__qualname__}"
      for kind in (PosixPath, WindowsPath)),
)

# Fitted attributes that record the last call of ``transform``, not the model: not saved.
# lesion_index_ names the patients of whichever cohort was transformed last.
_TRANSIENT_ATTRIBUTES = ((TumourPatchExtractor, ("lesion_index_",)),)
_PANDAS_TYPES = (pd.DataFrame, pd.Series, pd.Index)


def _encoder_file(index):
    return f"encoder_{index}.safetensors"


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _estimators(model):
    """``(path, estimator)`` for every estimator reachable from ``model``, each once.

    Paths read as Python (``model.steps[0][1].transformers_[1][1]``). The search goes through
    the attributes of estimators and through lists, tuples and dicts, so it finds fitted
    steps of pipelines, column transformers and meta-estimators (``estimator_``,
    ``best_estimator_``), nested to any depth; it does not look inside a CNNEncoder.
    """
    found, seen = [], set()

    def visit(value, path):
        if id(value) in seen:
            return
        if isinstance(value, BaseEstimator):
            seen.add(id(value))
            found.append((path, value))
            if not isinstance(value, CNNEncoder):
                for name, attribute in vars(value).items():
                    visit(attribute, f"{path}.{name}")
        elif isinstance(value, (list, tuple)):
            seen.add(id(value))
            for index, item in enumerate(value):
                visit(item, f"{path}[{index}]")
        elif isinstance(value, dict):
            seen.add(id(value))
            for key, item in value.items():
                visit(item, f"{path}[{key!r}]")

    visit(model, "model")
    return found


def _unsaved_attributes(estimators):
    """``(estimator, names)`` of the attributes left out of ``model.skops``."""
    unsaved = []
    for path, estimator in estimators:
        names = [name for kind, transient in _TRANSIENT_ATTRIBUTES
                 if isinstance(estimator, kind) for name in transient
                 if name in vars(estimator)]
        if isinstance(estimator, CNNEncoder) and "net_" in vars(estimator):
            names.append("net_")
        frames = [f"{path}.{name}" for name, value in vars(estimator).items()
                  if isinstance(value, _PANDAS_TYPES) and name not in names]
        if frames:
            raise TypeError(f"cannot save {', '.join(frames)}: skops stores no pandas objects; "
                            "save the model with joblib (see save_model's Notes)")
        if names:
            unsaved.append((estimator, names))
    return unsaved


def _dump_structure(model, unsaved):
    """The skops bytes of ``model`` without the attributes in ``unsaved``.

    The attributes are taken out for the dump only; every estimator's ``__dict__`` is put back
    as it was, in its order, whatever happens.
    """
    originals = [(estimator, dict(vars(estimator))) for estimator, _ in unsaved]
    try:
        for estimator, names in unsaved:
            for name in names:
                del vars(estimator)[name]
        return skops.io.dumps(model)
    finally:
        for estimator, attributes in originals:
            vars(estimator).clear()
            vars(estimator).update(attributes)


def save_model(model, path, *, overwrite=False):
    """Save a fitted model as a folder of safetensors weights, a skops file and JSON.

    Every fitted :class:`~tacelearn.transformers.CNNEncoder` in ``model`` (a pipeline step, a
    column transformer's branch, an :class:`~tacelearn.transformers.OutOfFoldTransformer`'s
    ``estimator_``, at any depth) has its network weights written to
    ``encoder_<i>.safetensors``; the rest of the model goes to ``model.skops`` (see
    :mod:`skops.io`) and a description of both to ``config.json``. No file holds a pickle:
    :func:`load_model` reads the folder without running code from it, so a model can be
    shared with people who should not have to trust the sender.

    Parameters
    ----------
    model : estimator
        Usually a fitted pipeline of :mod:`tacelearn.estimators`. It is not changed.
    path : str or path-like
        The folder to create. It is written under a temporary name beside it and renamed at
        the end, so it is never seen half-written.
    overwrite : bool, default=False
        Replace an existing non-empty ``path``. An existing empty folder is always replaced.

    Returns
    -------
    path : pathlib.Path
        The folder written.

    Raises
    ------
    FileExistsError
        If ``path`` is a file, or a non-empty folder and ``overwrite`` is False.
    TypeError
        If the model holds something skops cannot store (a pandas object, say).

    See Also
    --------
    load_model : Load the folder back.

    Notes
    -----
    ``joblib.dump(model, file)`` and ``joblib.load(file)`` also work for every fitted model of
    tacelearn and give identical probabilities, on a CPU-only machine too. But loading a
    joblib (pickle) file runs whatever code the file names: load only files you trust. Use
    ``save_model`` / ``load_model`` to share a model.

    What is not saved: the optimizer state of the networks (a loaded model predicts; to
    train it again, fit it) and the ``lesion_index_`` of a
    :class:`~tacelearn.transformers.TumourPatchExtractor`, a record of the patients of the
    last ``transform`` (the next ``transform`` writes it again), so that a shared model does
    not carry their identifiers. The model must not be used from another thread while it is
    saved.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from tacelearn.datasets import make_tace_cohort
    >>> from tacelearn.estimators import load_model, make_dltr, save_model
    >>> folder = Path(tempfile.mkdtemp())
    >>> cohort = make_tace_cohort(folder / "cohort", n_per_center=(12, 6, 6),
    ...                           image_shape=(32, 32, 8))
    >>> model = make_dltr(backbone="resnet18", patch_size=32, random_state=0,
    ...                   encoder_params={"max_epochs": 1, "batch_size": 8})
    >>> model = model.fit(cohort, cohort["objective_response"].astype(int))
    >>> saved = save_model(model, folder / "dltr")
    >>> sorted(file.name for file in saved.iterdir())
    ['config.json', 'encoder_0.safetensors', 'model.skops']
    >>> loaded = load_model(saved, device="cpu")
    >>> np.array_equal(loaded.predict_proba(cohort), model.predict_proba(cohort))
    True
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"cannot save the model to {path}: it is a file")
    replace = overwrite or (path.is_dir() and not any(path.iterdir()))
    if path.is_dir() and not replace:
        raise FileExistsError(f"cannot save the model to {path}: the folder exists and is not "
                              "empty (pass overwrite=True to replace it)")
    estimators = _estimators(model)
    unsaved = _unsaved_attributes(estimators)
    try:
        structure = _dump_structure(model, unsaved)
    except (TypeError, ValueError, AttributeError) as error:
        raise TypeError(f"skops cannot store this {type(model).__name__}: {error}") from error

    # An encoder reachable twice is listed once; skops keeps the shared reference.
    encoders = [(path_in_model, estimator) for path_in_model, estimator in estimators
                if isinstance(estimator, CNNEncoder) and "net_" in vars(estimator)]
    entries = []
    with atomic_directory(path, overwrite=replace) as staging:
        for index, (path_in_model, encoder) in enumerate(encoders):
            tensors = {name: tensor.detach().to("cpu").clone().contiguous()
                       for name, tensor in encoder.net_.module_.state_dict().items()}
            weights = save_safetensors(tensors, metadata={"format": "pt"})
            (staging / _encoder_file(index)).write_bytes(weights)
            entries.append({
                "file": _encoder_file(index),
                "sha256": _sha256(weights),
                "path": path_in_model,
                "backbone": encoder.backbone,
                "n_channels": int(encoder.n_features_in_),
                "image_size": [int(size) for size in encoder.image_size_],
                "n_embedding_features": int(encoder.n_embedding_features_),
                "classes": np.asarray(encoder.classes_).tolist(),
                "trained_on": encoder.device_,
                "history": encoder.net_.history.to_list(),
            })
        (staging / MODEL_FILE).write_bytes(structure)
        config = {
            "format": _FORMAT,
            "format_version": FORMAT_VERSION,
            "tacelearn_version": __version__,
            "written_with": {"torch": torch.__version__, "skops": skops.__version__,
                             "safetensors": safetensors.__version__,
                             "scikit-learn": sklearn.__version__},
            "model": {"file": MODEL_FILE, "sha256": _sha256(structure),
                      "class": f"{type(model).__module__}.{type(model).__qualname__}"},
            "encoders": entries,
        }
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n",
                                           encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------- loading
def _read_config(folder):
    file = folder / CONFIG_FILE
    if not file.is_file():
        raise FileNotFoundError(f"{folder} holds no {CONFIG_FILE}: it is not a model saved by "
                                "tacelearn.estimators.save_model")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{file} is not valid JSON: {error}") from error
    if not isinstance(config, dict) or config.get("format") != _FORMAT:
        raise ValueError(f"{file} does not describe a model saved by tacelearn")
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{file} has format version {config.get('format_version')!r} (written by tacelearn "
            f"{config.get('tacelearn_version')}); tacelearn {__version__} reads version "
            f"{FORMAT_VERSION}"
        )
    try:
        model, entries = config["model"], config["encoders"]
        checks = [model["file"] == MODEL_FILE, isinstance(model["sha256"], str)]
        for index, entry in enumerate(entries):
            checks += [entry["file"] == _encoder_file(index), isinstance(entry["sha256"], str),
                       isinstance(entry["path"], str)]
    except (KeyError, TypeError) as error:
        raise ValueError(f"{file} is malformed: {type(error).__name__}: {error}") from error
    if not all(checks):
        raise ValueError(f"{file} is malformed: unexpected file names or fields")
    return config


def _read_checked(file, sha256, folder):
    if not file.is_file():
        raise FileNotFoundError(f"{file} is missing: the model saved at {folder} is incomplete")
    data = file.read_bytes()
    if _sha256(data) != sha256:
        raise ValueError(f"{file} is corrupt: its SHA-256 differs from the one in {CONFIG_FILE}")
    return data


def _check_trusted(trusted):
    if trusted is None:
        return frozenset()
    names = None if isinstance(trusted, str) else list(trusted) if np.iterable(trusted) else None
    if names is None or not all(isinstance(name, str) for name in names):
        raise TypeError("trusted must be a list of type names as skops.io.get_untrusted_types "
                        f"gives them (e.g. ['mypackage.module.function']), got {trusted!r}")
    return frozenset(names)


def _defined_in_tacelearn(name):
    """Whether ``name`` ("module.attribute") is a class or function defined in tacelearn.

    Only modules of tacelearn are imported to find out. A name that tacelearn merely imports
    from elsewhere (``tacelearn.estimators._columns.np``) is not defined in it.
    """
    module_name, _, attribute = name.rpartition(".")
    if module_name != "tacelearn" and not module_name.startswith("tacelearn."):
        return False
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    value = getattr(module, attribute, None)
    return (callable(value) and getattr(value, "__module__", None) == module_name
            and getattr(value, "__qualname__", None) == attribute)


def _load_structure(file, data, trusted):
    try:
        untrusted = skops.io.get_untrusted_types(data=data)
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ValueError(f"{file} is not a readable skops file: {error}") from error
    refused = [name for name in untrusted if name not in TRUSTED_TYPES
               and name not in trusted and not _defined_in_tacelearn(name)]
    if refused:
        raise ValueError(
            f"{file} holds types that are not trusted: {', '.join(refused)}. Loading them "
            "could run their code; if you trust them, pass "
            f"load_model(..., trusted={refused!r})"
        )
    return skops.io.loads(data, trusted=untrusted)


def _load_weights(file, data, encoder, device, history):
    try:
        state_dict = load_safetensors(data)
    except safetensors.SafetensorError as error:
        raise ValueError(f"{file} is not a readable safetensors file: {error}") from error
    try:
        return encoder._restore_net(state_dict, encoder.n_features_in_, encoder.image_size_,
                                    device, history=history)
    except torch.OutOfMemoryError:
        raise
    except RuntimeError as error:
        detail = " ".join(str(error).split())[:600]
        raise ValueError(f"{file} does not fit the {encoder.backbone} encoder it belongs to: "
                         f"{detail}") from error


def load_model(path, *, device="auto", trusted=None):
    """Load a model saved by :func:`save_model`, without unpickling anything.

    ``model.skops`` is read with :mod:`skops.io`, which builds only the types it trusts: its
    own defaults (scikit-learn's estimators, numpy arrays, Python built-ins), the classes and
    functions defined in tacelearn, the few types in :data:`TRUSTED_TYPES`, and those named
    in ``trusted``. Any other type is refused before anything is built. The networks are
    then rebuilt from ``config.json`` and their weights read from the safetensors files.

    Parameters
    ----------
    path : str or path-like
        The folder written by :func:`save_model`.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Where the networks run: ``"auto"`` is CUDA when this machine has it, else the CPU,
        whatever device the model was trained on. The encoders' ``device`` parameters are
        left as saved; they matter only when a model is fitted again.
    trusted : list of str, optional
        Further type names to accept in ``model.skops``, as
        :func:`skops.io.get_untrusted_types` lists them (a function of your own used in a
        :class:`~sklearn.preprocessing.FunctionTransformer`, say). Trust only types whose code
        you would run.

    Returns
    -------
    model : estimator
        The fitted model. On the CPU it predicts exactly as the saved one did.

    Raises
    ------
    FileNotFoundError
        If ``path``, or a file the model needs, is missing.
    ValueError
        If a file is corrupt or of another format version, or ``model.skops`` holds a type
        that is not trusted (the message names it).

    See Also
    --------
    save_model : Save a fitted model.

    Notes
    -----
    Loading a ``joblib`` file runs the code it names; this function does not, which is why a
    model shared by others should come as a folder of :func:`save_model`.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from tacelearn.datasets import make_tace_cohort
    >>> from tacelearn.estimators import load_model, make_clinical_model, save_model
    >>> folder = Path(tempfile.mkdtemp())
    >>> cohort = make_tace_cohort(folder / "cohort", n_per_center=(12, 6, 6),
    ...                           image_shape=(16, 16, 4))
    >>> y = cohort["objective_response"].astype(int)
    >>> model = make_clinical_model(screen=False).fit(cohort, y)
    >>> loaded = load_model(save_model(model, folder / "clinical"))
    >>> np.array_equal(loaded.predict_proba(cohort), model.predict_proba(cohort))
    True
    """
    folder = Path(path)
    trusted = _check_trusted(trusted)
    try:
        device = resolve_device(device)
    except ValueError as error:
        raise ValueError(f"cannot load the model at {folder}: {error}") from error
    if not folder.is_dir():
        raise FileNotFoundError(f"no saved model at {folder}: not a folder")
    config = _read_config(folder)

    file = folder / MODEL_FILE
    model = _load_structure(file, _read_checked(file, config["model"]["sha256"], folder),
                            trusted)
    found = {path_in_model: estimator for path_in_model, estimator in _estimators(model)
             if isinstance(estimator, CNNEncoder) and hasattr(estimator, "image_size_")}
    expected = sorted(entry["path"] for entry in config["encoders"])
    if sorted(found) != expected:
        raise ValueError(f"{file} and {folder / CONFIG_FILE} disagree on the fitted encoders: "
                         f"{sorted(found)} in the one, {expected} in the other")
    for entry in config["encoders"]:
        weights = folder / entry["file"]
        data = _read_checked(weights, entry["sha256"], folder)
        encoder = found[entry["path"]]
        encoder.net_ = _load_weights(weights, data, encoder, device, entry.get("history", []))
        encoder.device_ = str(device)
    return model
