"""Fitted models saved as data and loaded back without running code from the files.

A saved model is a folder:

- ``structure.json``: every object of the model once, by class name, with its constructor
  parameters and fitted attributes (see :mod:`tacelearn.estimators._model_format`);
- ``arrays.safetensors``: the numeric arrays the structure refers to;
- ``encoder_<i>.safetensors``: the network weights of every fitted
  :class:`~tacelearn.transformers.CNNEncoder`;
- ``config.json``: the format and its version, the versions that wrote it, a description of
  the encoders, and the SHA-256 of every other file, sealed by a digest of the whole.

:func:`load_model` checks the digest and every file's SHA-256, then rebuilds the model
through the constructors of an explicit allow-list of classes; the networks are rebuilt from
the encoders' parameters and their weights read with safetensors. Nothing is unpickled, no
``__setstate__`` runs, and no name read from the files is imported. ``joblib`` files are
simpler but run code when loaded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import safetensors
import sklearn
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

from .. import __version__
from ..utils import atomic_directory
from ._model_format import ModelFormatError, decode_model, encode_model, trusted_names

__all__ = ["load_model", "save_model"]

#: Bumped when a folder written by ``save_model`` changes meaning; ``load_model`` refuses others.
#: Version 1 (tacelearn 0.1) stored the structure with skops; it is not read any more.
FORMAT_VERSION = 2
_FORMAT = "tacelearn-model"
CONFIG_FILE = "config.json"
STRUCTURE_FILE = "structure.json"
ARRAYS_FILE = "arrays.safetensors"
_ENCODER_CLASS = "tacelearn.transformers._encoder.CNNEncoder"
_DEVICES = ("auto", "cpu", "cuda")


def _encoder_file(index):
    return f"encoder_{index}.safetensors"


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _digest(config):
    """SHA-256 of the config's canonical JSON without its own digest."""
    sealed = {key: value for key, value in config.items() if key != "digest"}
    return _sha256(json.dumps(sealed, sort_keys=True, separators=(",", ":")).encode())


def _check_trusted(trusted):
    if trusted is None:
        return []
    names = None if isinstance(trusted, str) else list(trusted) if np.iterable(trusted) else None
    if names is None or not all(isinstance(name, str) for name in names):
        raise TypeError("trusted must be a list of names such as 'mypackage.module.function', "
                        f"got {trusted!r}")
    return sorted(set(names))


def _is_saved_model(folder):
    """Whether ``folder`` holds a model written by :func:`save_model` (so it may be replaced)."""
    try:
        config = json.loads((Path(folder) / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(config, dict) and config.get("format") == _FORMAT


def _is_encoder(value):
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}" == _ENCODER_CLASS


def _is_fitted_encoder(value):
    return _is_encoder(value) and "net_" in vars(value)


def _encoder_entries(objects):
    """``(index, encoder, weights bytes, description)`` of every fitted CNNEncoder."""
    encoders = [(index, value) for index, value in enumerate(objects) if _is_fitted_encoder(value)]
    if not encoders:
        return []
    from safetensors.torch import save as save_tensors

    entries = []
    for number, (index, encoder) in enumerate(encoders):
        tensors = {name: tensor.detach().to("cpu").clone().contiguous()
                   for name, tensor in encoder.net_.module_.state_dict().items()}
        weights = save_tensors(tensors, metadata={"format": "pt"})
        entries.append((weights, {
            "file": _encoder_file(number),
            "object": index,
            "backbone": encoder.backbone,
            "n_channels": int(encoder.n_features_in_),
            "image_size": [int(size) for size in encoder.image_size_],
            "classes": np.asarray(encoder.classes_).tolist(),
            "trained_on": encoder.device_,
            "history": encoder.net_.history.to_list(),
        }))
    return entries


def save_model(model, path, *, overwrite=False, trusted=None):
    """Save a fitted model as a folder of JSON and safetensors files: data only, no code.

    Every object of ``model`` is written by class name with its constructor parameters and
    fitted attributes (numbers, text, arrays, nested estimators); the weights of every fitted
    :class:`~tacelearn.transformers.CNNEncoder` (a pipeline step, a column transformer's
    branch, an :class:`~tacelearn.transformers.OutOfFoldTransformer`'s ``estimator_``, at any
    depth) go to ``encoder_<i>.safetensors``. :func:`load_model` reads the folder without
    running code from it, so a model can be shared with people who should not have to trust
    the sender.

    Parameters
    ----------
    model : estimator
        Usually a fitted pipeline of :mod:`tacelearn.estimators`. It is not changed.
    path : str or path-like
        The folder to create. It is written under a temporary name beside it and renamed at
        the end, so it is never seen half-written.
    overwrite : bool, default=False
        Replace an existing ``path`` if it holds a model saved by tacelearn. An empty folder
        is always replaced; any other folder never is.
    trusted : list of str, optional
        Names (``"mypackage.module.function"``) of functions or classes outside tacelearn's
        allow-list that ``model`` holds, such as the function of a
        :class:`~sklearn.preprocessing.FunctionTransformer` of your own. The same list must
        be given to :func:`load_model`.

    Returns
    -------
    path : pathlib.Path
        The folder written.

    Raises
    ------
    FileExistsError
        If ``path`` is a file, or a non-empty folder that is not a saved model or that
        ``overwrite`` does not allow to replace.
    TypeError
        If the model holds something that cannot be saved as data (a pandas object, a
        function or class outside the allow-list); the message names where it is.

    See Also
    --------
    load_model : Load the folder back.

    Notes
    -----
    What is not saved: the optimizer state of the networks and of an MLP head (a loaded
    model predicts; to train it again, fit it), and the parameters that name places on the
    training machine (``memory`` cache folders, a ``pretrained`` weights file): they are
    saved as ``None`` and listed in ``config.json`` under ``cleared``, so a loaded model
    never writes into the training machine's folders.

    ``joblib.dump(model, file)`` and ``joblib.load(file)`` also work for every fitted model
    of tacelearn, but loading a joblib (pickle) file runs whatever code the file names: load
    only files you wrote yourself.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from tacelearn.estimators import load_model, save_model
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 3)), np.tile([0, 1], 20)
    >>> model = LogisticRegression().fit(X, y)
    >>> folder = save_model(model, Path(tempfile.mkdtemp()) / "model")
    >>> sorted(file.name for file in folder.iterdir())
    ['arrays.safetensors', 'config.json', 'structure.json']
    >>> np.array_equal(load_model(folder).predict_proba(X), model.predict_proba(X))
    True
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"cannot save the model to {path}: it is a file")
    names = _check_trusted(trusted)
    try:
        structure, arrays, objects = encode_model(model, trusted=trusted_names(names))
    except RecursionError:
        raise TypeError(f"cannot save this {type(model).__name__}: it is nested too deeply"
                        ) from None
    encoders = _encoder_entries(objects)
    files = {STRUCTURE_FILE: json.dumps(structure, allow_nan=False).encode("utf-8"),
             ARRAYS_FILE: save_arrays(arrays)}
    files.update({entry["file"]: weights for weights, entry in encoders})
    config = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "tacelearn_version": __version__,
        "written_with": {"scikit-learn": sklearn.__version__, "numpy": np.__version__,
                         "safetensors": safetensors.__version__},
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "files": {name: _sha256(data) for name, data in files.items()},
        "encoders": [entry for _, entry in encoders],
        "cleared": structure["cleared"],
        "trusted": names,
    }
    config["digest"] = _digest(config)
    with atomic_directory(path, overwrite=overwrite, replaceable=_is_saved_model) as staging:
        for name, data in files.items():
            (staging / name).write_bytes(data)
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
            f"{FORMAT_VERSION}: fit the model again, or save it again with this version"
        )
    if config.get("digest") != _digest(config):
        raise ValueError(f"{file} is corrupt or was edited: its digest does not match")
    files, encoders = config.get("files"), config.get("encoders")
    expected = {STRUCTURE_FILE, ARRAYS_FILE} | {_encoder_file(i) for i in range(
        len(encoders) if isinstance(encoders, list) else 0)}
    if not isinstance(files, dict) or set(files) != expected or not all(
            isinstance(entry, dict) and entry.get("file") == _encoder_file(i)
            and isinstance(entry.get("object"), int) for i, entry in enumerate(encoders)):
        raise ValueError(f"{file} is malformed: unexpected file names or fields")
    return config


def _read_files(folder, config):
    """Every listed file's bytes, checked against its SHA-256; unlisted files refused."""
    listed = set(config["files"]) | {CONFIG_FILE}
    strangers = sorted(p.name for p in folder.iterdir() if p.name not in listed)
    if strangers:
        raise ValueError(f"{folder} holds file(s) that save_model did not write: "
                         f"{', '.join(strangers)}; a model folder must be as it was saved")
    contents = {}
    for name, sha256 in config["files"].items():
        file = folder / name
        if not file.is_file():
            raise FileNotFoundError(f"{file} is missing: the model saved at {folder} is "
                                    "incomplete")
        data = file.read_bytes()
        if _sha256(data) != sha256:
            raise ValueError(f"{file} is corrupt: its SHA-256 differs from the one in "
                             f"{CONFIG_FILE}")
        contents[name] = data
    return contents


def _check_device(device):
    if isinstance(device, str) and (device in _DEVICES or device.startswith("cuda:")):
        return device
    if type(device).__name__ == "device":  # a torch.device
        return str(device)
    raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>', got {device!r}")


def _restore_encoders(folder, config, contents, built, device):
    """Give every fitted CNNEncoder of the rebuilt model its network and weights."""
    fitted = {index for index, value in built.items()
              if _is_encoder(value) and hasattr(value, "image_size_")}
    listed = {entry["object"] for entry in config["encoders"]}
    if fitted != listed:
        raise ValueError(f"{folder / STRUCTURE_FILE} and {folder / CONFIG_FILE} disagree on the "
                         f"fitted encoders: objects {sorted(fitted)} in the one, "
                         f"{sorted(listed)} in the other")
    if not fitted:
        return
    import torch
    from safetensors.torch import load as load_tensors

    from ..transformers import resolve_device

    try:
        resolved = resolve_device(device)
    except ValueError as error:
        raise ValueError(f"cannot load the model at {folder}: {error}") from error
    for entry in config["encoders"]:
        file, encoder = folder / entry["file"], built[entry["object"]]
        try:
            state_dict = load_tensors(contents[entry["file"]])
        except safetensors.SafetensorError as error:
            raise ValueError(f"{file} is not a readable safetensors file: {error}") from error
        try:
            encoder.net_ = encoder._restore_net(state_dict, encoder.n_features_in_,
                                                encoder.image_size_, resolved,
                                                history=entry.get("history", []))
        except torch.OutOfMemoryError:
            raise
        except RuntimeError as error:
            detail = " ".join(str(error).split())[:600]
            raise ValueError(f"{file} does not fit the {encoder.backbone} encoder it belongs "
                             f"to: {detail}") from error
        encoder.device_ = str(resolved)


def load_model(path, *, device="auto", trusted=None):
    """Load a model saved by :func:`save_model`, without running code from its files.

    The folder's digest and every file's SHA-256 are checked first; a file that differs,
    is missing or was added is refused, named. The model is then rebuilt from
    ``structure.json`` through the constructors of the classes tacelearn allows (its own
    estimators and the scikit-learn estimators its models use) and of those named in
    ``trusted``; any other class, function or type is refused before anything is built.
    The networks are rebuilt from the encoders' parameters and their weights read from the
    safetensors files.

    Parameters
    ----------
    path : str or path-like
        The folder written by :func:`save_model`.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Where the networks run: ``"auto"`` is CUDA when this machine has it, else the CPU,
        whatever device the model was trained on. The encoders' ``device`` parameters are
        left as saved; they matter only when a model is fitted again.
    trusted : list of str, optional
        Further names (``"mypackage.module.function"``) to accept, as given to
        :func:`save_model`. They are imported: trust only code you would run.

    Returns
    -------
    model : estimator
        The fitted model. On the CPU it predicts exactly as the saved one did.

    Raises
    ------
    FileNotFoundError
        If ``path``, or a file the model needs, is missing.
    ValueError
        If a file is corrupt, added or of another format version, or the structure names
        something not allowed (the message names it and where it is in the model).

    See Also
    --------
    save_model : Save a fitted model.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.estimators import load_model, make_clinical_model, save_model
    >>> rng = np.random.default_rng(0)
    >>> cohort = pd.DataFrame({"ascites": rng.integers(0, 2, 60),
    ...                        "alt": rng.lognormal(3.5, 0.6, 60)})
    >>> y = (cohort["ascites"] == 0).astype(int)
    >>> model = make_clinical_model(screen=False).fit(cohort, y)
    >>> loaded = load_model(save_model(model, Path(tempfile.mkdtemp()) / "clinical"))
    >>> np.array_equal(loaded.predict_proba(cohort), model.predict_proba(cohort))
    True
    """
    folder = Path(path)
    names = _check_trusted(trusted)
    device = _check_device(device)
    if not folder.is_dir():
        raise FileNotFoundError(f"no saved model at {folder}: not a folder")
    config = _read_config(folder)
    contents = _read_files(folder, config)
    file = folder / STRUCTURE_FILE
    try:
        structure = json.loads(contents[STRUCTURE_FILE].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{file} is not valid JSON: {error}") from error
    try:
        arrays = load_arrays(contents[ARRAYS_FILE])
    except safetensors.SafetensorError as error:
        raise ValueError(f"{folder / ARRAYS_FILE} is not a readable safetensors file: "
                         f"{error}") from error
    try:
        model, built = decode_model(structure, arrays, trusted=trusted_names(names))
    except ModelFormatError as error:
        raise ValueError(f"{file}: {error}") from None
    _restore_encoders(folder, config, contents, built, device)
    return model
