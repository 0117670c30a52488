"""A fitted model as data: a JSON description of its objects plus numeric arrays.

:func:`encode_model` turns a fitted estimator into ``(structure, arrays)``: ``structure`` is
JSON-ready and lists every object of the model once, by class name, with the constructor
parameters and the fitted attributes of each; ``arrays`` holds the numeric arrays it refers
to. :func:`decode_model` rebuilds the model from them by calling each class's constructor
with its parameters and then setting its fitted attributes. It never unpickles, never calls
``__setstate__`` and never imports anything by a name found in the file: classes, functions
and types come from the allow-lists below (and from names the user explicitly trusts), so a
crafted file can at worst describe a model made of the allowed pieces.

Parameters that point at the training machine (cache folders, pretrained-weights files) are
not saved: a saved model is portable and never writes where it was trained.
"""

from __future__ import annotations

import functools
import importlib
import math
import re
import types

import numpy as np
from sklearn.base import BaseEstimator

from ..utils import reachable_objects

__all__ = ["ModelFormatError", "decode_model", "encode_model", "trusted_names"]

#: Estimators of scikit-learn that tacelearn's models are built from (public module, name).
_SKLEARN_CLASSES = (
    ("sklearn.pipeline", "Pipeline"),
    ("sklearn.compose", "ColumnTransformer"),
    ("sklearn.preprocessing", "FunctionTransformer"),
    ("sklearn.preprocessing", "OneHotEncoder"),
    ("sklearn.preprocessing", "StandardScaler"),
    ("sklearn.preprocessing", "LabelBinarizer"),
    ("sklearn.preprocessing", "LabelEncoder"),
    ("sklearn.impute", "SimpleImputer"),
    ("sklearn.feature_selection", "VarianceThreshold"),
    ("sklearn.linear_model", "LogisticRegression"),
    ("sklearn.neural_network", "MLPClassifier"),
    ("sklearn.discriminant_analysis", "LinearDiscriminantAnalysis"),
    ("sklearn.frozen", "FrozenEstimator"),
)
#: Classes of tacelearn that a saved model may hold, by defining module: compared by name
#: when saving, imported only when a file names them (so a clinical model stays torch-free).
TACELEARN_CLASSES = frozenset({
    "tacelearn.estimators._branch.ImageBranch",
    "tacelearn.estimators._columns.SchemaColumns",
    "tacelearn.estimators._columns.TextCategories",
    "tacelearn.estimators._heads.BinaryLogisticRegression",
    "tacelearn.estimators._heads.BinaryMLPClassifier",
    "tacelearn.transformers._cutoffs.ClinicalCutoffEncoder",
    "tacelearn.transformers._univariate.UnivariateSelector",
    "tacelearn.transformers._out_of_fold.OutOfFoldTransformer",
    "tacelearn.transformers._patches.TumourPatchExtractor",
    "tacelearn.transformers._encoder.CNNEncoder",
    "tacelearn.transformers._radiomics.RadiomicsExtractor",
    "tacelearn.transformers._correlation_filter.CorrelationFilter",
    "tacelearn.validation._recalibration.LogisticRecalibrator",
})
#: Functions a FunctionTransformer of a saved model may call, and types that appear as
#: parameter values (``OneHotEncoder(dtype=np.float64)``, a CNN's optimizer class).
CALLABLES = frozenset({
    "numpy.log1p", "numpy.log", "numpy.sqrt",
    "tacelearn.estimators._columns._as_float",
    "builtins.float", "builtins.int", "builtins.bool", "builtins.str", "builtins.object",
    "numpy.float64", "numpy.float32", "numpy.int64", "numpy.int32", "numpy.bool",
    "torch.optim.adam.Adam", "torch.optim.adamw.AdamW", "torch.optim.sgd.SGD",
})
#: Parameters that name places on the training machine: saved as None.
LOCAL_PARAMETERS = {"memory": None, "pretrained": None}
#: Fitted attributes not needed to predict and not storable as data, by class (and its
#: subclasses): the solver's state of an MLP; a CNN's skorch net, whose weights are saved apart.
_UNSAVED_ATTRIBUTES = (
    ("sklearn.neural_network", "MLPClassifier", ("_optimizer",)),
    ("tacelearn.transformers._encoder", "CNNEncoder", ("net_",)),
)
_FUNCTION_TYPES = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                   functools.partial, np.ufunc)
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ARRAY_KINDS = "biuf"


class ModelFormatError(ValueError):
    """The description of a saved model is malformed or names something not allowed."""


def _name(value):
    """The defining module and name of a class or function: ``numpy.log1p``."""
    qualname = getattr(value, "__qualname__", None) or getattr(value, "__name__", "?")
    return f"{getattr(value, '__module__', None) or '?'}.{qualname}"


def _import(name):
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


_SKLEARN = {}


def _sklearn_classes():
    """scikit-learn's allowed classes by defining-module name (and public name)."""
    if not _SKLEARN:
        for module, attribute in _SKLEARN_CLASSES:
            cls = getattr(importlib.import_module(module), attribute)
            _SKLEARN[_name(cls)] = cls
            _SKLEARN[f"{module}.{attribute}"] = cls
    return _SKLEARN


def allowed_class_names():
    """Every dotted class name a saved model may hold (besides trusted ones)."""
    return frozenset(_sklearn_classes()) | TACELEARN_CLASSES


def _lookup(name, allowed, trusted):
    """The object behind an allowed or trusted ``name``; None when it is neither."""
    if name in trusted:
        return trusted[name]
    if name in _sklearn_classes():
        return _SKLEARN[name]
    if name in allowed:
        try:
            return _import(name)
        except (ImportError, AttributeError):
            return None
    return None


def trusted_names(names):
    """``{name: object}`` for names the user trusts (``load_model(trusted=...)``).

    Each name is ``"package.module.attribute"``; it is imported, which is why only names
    the user gives are ever imported.
    """
    resolved = {}
    for name in names:
        try:
            resolved[name] = _import(name)
        except (ImportError, AttributeError, ValueError) as error:
            raise ValueError(f"trusted name {name!r} cannot be imported: {error}") from None
    return resolved


# ------------------------------------------------------------------------------ encoding
class _Encoder:
    def __init__(self, trusted):
        self.objects = []
        self.ids = {}
        self.arrays = {}
        self.cleared = []
        self.trusted = {id(value): name for name, value in trusted.items()}
        self.classes = allowed_class_names()

    def class_name(self, value, path):
        name = self.trusted.get(id(type(value)), _name(type(value)))
        if name not in self.classes and id(type(value)) not in self.trusted:
            raise TypeError(f"cannot save {path}: {name} is not among the classes a saved "
                            "model may hold; pass trusted=[...] to save_model and load_model "
                            "to allow it")
        return name

    def callable_name(self, value):
        if id(value) in self.trusted:
            return self.trusted[id(value)]
        name = _name(value)
        return name if name in CALLABLES else None

    def value(self, value, path):
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, np.generic):
            return self.scalar(value, path)
        if isinstance(value, np.ndarray):
            return self.array(value, path)
        if isinstance(value, np.dtype):
            return {"$dtype": value.str}
        if isinstance(value, tuple):
            return {"$tuple": [self.value(v, f"{path}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.value(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {"$dict": [[self.value(k, f"{path} key"), self.value(v, f"{path}[{k!r}]")]
                              for k, v in value.items()]}
        if isinstance(value, slice):
            return {"$slice": [self.value(p, path)
                               for p in (value.start, value.stop, value.step)]}
        if isinstance(value, np.random.RandomState):
            return self.random_state(value, path)
        if isinstance(value, _FUNCTION_TYPES):
            return self.function(value, path)
        return {"$object": self.object(value, path)}

    def function(self, value, path):
        name = self.callable_name(value)
        if name is None:
            raise TypeError(f"cannot save {path}: {_name(value)} is not among the functions "
                            "and types a saved model may hold; pass trusted=[...] to "
                            "save_model and load_model to allow it")
        return {"$callable": name}

    def scalar(self, value, path):
        if value.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"cannot save {path}: numpy scalar of dtype {value.dtype}")
        return {"$scalar": [value.dtype.str, self.value(value.item(), path)]}

    def array(self, value, path):
        if value.dtype.kind in _ARRAY_KINDS:
            name = f"array_{len(self.arrays)}"
            self.arrays[name] = np.ascontiguousarray(value)
            return {"$array": name}
        if value.dtype.kind in "UO":
            items = [self.value(v, f"{path}[...]") for v in value.ravel().tolist()]
            return {"$text_array": {"dtype": value.dtype.str, "shape": list(value.shape),
                                    "items": items}}
        raise TypeError(f"cannot save {path}: numpy array of dtype {value.dtype}")

    def random_state(self, value, path):
        kind, keys, position, has_gauss, gauss = value.get_state()
        return {"$random_state": [kind, self.array(keys, path), int(position), int(has_gauss),
                                  float(gauss)]}

    def object(self, value, path):
        if id(value) in self.ids:
            return self.ids[id(value)]
        name = self.class_name(value, path)
        index = len(self.objects)
        self.ids[id(value)] = index
        record = {"class": name, "path": path}
        self.objects.append(record)
        attributes = dict(vars(value))
        # Plain helpers (SchemaColumns) take their attributes as constructor arguments.
        params = dict(value.get_params(deep=False) if isinstance(value, BaseEstimator)
                      else attributes)
        for local, replacement in LOCAL_PARAMETERS.items():
            if local in params and params[local] is not replacement:
                params[local] = replacement
                self.cleared.append(f"{path}.{local}")
        unsaved = _unsaved_attributes(type(value))
        record["params"] = {k: self.value(v, f"{path}.{k}") for k, v in params.items()}
        record["state"] = {k: self.value(v, f"{path}.{k}") for k, v in attributes.items()
                           if k not in params and k not in unsaved}
        return index


def _unsaved_attributes(cls):
    names = []
    for module, name, attributes in _UNSAVED_ATTRIBUTES:
        # Compared by name along the class's ancestry: nothing is imported to find out.
        if any(base.__module__ == module or base.__module__.startswith(f"{module}.")
               for base in cls.__mro__ if base.__name__ == name):
            names.extend(attributes)
    return names


def encode_model(model, *, trusted=None):
    """``(structure, arrays, objects)`` of a fitted model.

    Parameters
    ----------
    model : estimator
    trusted : dict of str to object, optional
        Further classes, functions and types allowed (see :func:`trusted_names`).

    Returns
    -------
    structure : dict
        JSON-ready: ``{"root": {"$object": 0}, "objects": [...], "cleared": [...]}``.
    arrays : dict of str to numpy.ndarray
        The numeric arrays the structure refers to.
    objects : list
        The Python objects in the order of ``structure["objects"]`` (to find, say, every
        CNNEncoder and save its weights apart).
    """
    encoder = _Encoder(trusted or {})
    root = encoder.value(model, "model")
    objects = sorted(encoder.ids.items(), key=lambda item: item[1])
    by_id = _objects_by_id(model)
    return ({"root": root, "objects": encoder.objects, "cleared": encoder.cleared},
            encoder.arrays, [by_id[object_id] for object_id, _ in objects])


def _objects_by_id(model):
    return {id(value): value for value in reachable_objects(model)}


# ------------------------------------------------------------------------------ decoding
class _Decoder:
    def __init__(self, structure, arrays, trusted):
        try:
            self.records = list(structure["objects"])
            self.root = structure["root"]
        except (KeyError, TypeError) as error:
            raise ModelFormatError(f"the structure lacks {error}") from None
        self.arrays = arrays
        self.trusted = trusted
        self.classes = allowed_class_names()
        self.built = {}
        self.building = set()

    def value(self, value):
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if not isinstance(value, dict) or len(value) != 1:
            raise ModelFormatError(f"unexpected value {str(value)[:80]!r}")
        (tag, content), = value.items()
        handler = _TAGS.get(tag)
        if handler is None:
            raise ModelFormatError(f"unknown tag {tag!r}")
        return handler(self, content)

    def array(self, name):
        if not isinstance(name, str) or name not in self.arrays:
            raise ModelFormatError(f"the structure refers to a missing array {name!r}")
        return self.arrays[name]

    def text_array(self, content):
        dtype = np.dtype(content["dtype"])
        if dtype.kind not in "UO":
            raise ModelFormatError(f"text array of dtype {dtype}")
        items = [self.value(v) for v in content["items"]]
        array = np.empty(len(items), dtype=dtype)
        array[:] = items
        return array.reshape([int(n) for n in content["shape"]])

    def scalar(self, content):
        dtype, item = content
        dtype = np.dtype(dtype)
        if dtype.kind not in _ARRAY_KINDS:
            raise ModelFormatError(f"scalar of dtype {dtype}")
        return dtype.type(self.value(item))

    def random_state(self, content):
        kind, keys, position, has_gauss, gauss = content
        state = np.random.RandomState()
        state.set_state((str(kind), self.value(keys), int(position), int(has_gauss),
                         float(gauss)))
        return state

    def callable(self, name):
        value = _lookup(name, CALLABLES, self.trusted) if isinstance(name, str) else None
        if value is None:
            raise ModelFormatError(f"{name!r} is not among the functions and types a saved "
                                   "model may hold")
        return value

    def object(self, index):
        if not isinstance(index, int) or not 0 <= index < len(self.records):
            raise ModelFormatError(f"the structure refers to a missing object {index!r}")
        if index in self.built:
            return self.built[index]
        if index in self.building:
            raise ModelFormatError(f"object {index} refers to itself")
        self.building.add(index)
        record = self.records[index]
        try:
            name, params, state = record["class"], record["params"], record["state"]
        except (KeyError, TypeError) as error:
            raise ModelFormatError(f"object {index} lacks {error}") from None
        path = record.get("path", f"object {index}")
        cls = _lookup(name, self.classes, self.trusted) if isinstance(name, str) else None
        if not isinstance(cls, type):
            raise ModelFormatError(f"{path} is a {name}, which is not among the classes a "
                                   "saved model may hold; if you trust it, pass "
                                   f"load_model(..., trusted=[{name!r}])")
        kwargs = self.attributes(params, path)
        for local, replacement in LOCAL_PARAMETERS.items():
            if kwargs.get(local, replacement) is not replacement:
                raise ModelFormatError(f"{path}.{local} is set; a saved model never names "
                                       "a place on disk")
        try:
            instance = cls(**kwargs)
        except (TypeError, ValueError) as error:
            raise ModelFormatError(f"{path}: {name}(...) refused its parameters: {error}"
                                   ) from None
        vars(instance).update(self.attributes(state, path))
        self.built[index] = instance
        self.building.discard(index)
        return instance

    def attributes(self, mapping, path):
        if not isinstance(mapping, dict):
            raise ModelFormatError(f"{path}: attributes must be a mapping")
        bad = [k for k in mapping if not isinstance(k, str) or not _ATTRIBUTE_NAME.match(k)
               or k.startswith("__")]
        if bad:
            raise ModelFormatError(f"{path}: invalid attribute names {bad[:8]}")
        return {k: self.value(v) for k, v in mapping.items()}


def _dict_of_pairs(decoder, pairs):
    return {_hashable(decoder.value(k)): decoder.value(v) for k, v in pairs}


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def _special_float(decoder, text):
    if text not in ("nan", "inf", "-inf"):
        raise ModelFormatError(f"bad float {text!r}")
    return float(text)


_TAGS = {
    "$float": _special_float,
    "$scalar": _Decoder.scalar,
    "$array": _Decoder.array,
    "$text_array": _Decoder.text_array,
    "$dtype": lambda d, text: np.dtype(str(text)),
    "$tuple": lambda d, items: tuple(d.value(v) for v in items),
    "$dict": _dict_of_pairs,
    "$slice": lambda d, parts: slice(*(d.value(p) for p in parts)),
    "$random_state": _Decoder.random_state,
    "$callable": _Decoder.callable,
    "$object": _Decoder.object,
}


def decode_model(structure, arrays, *, trusted=None):
    """Rebuild a model from :func:`encode_model`'s structure and arrays.

    Returns
    -------
    model : estimator
    objects : dict of int to object
        The rebuilt objects by their index in the structure.

    Raises
    ------
    ModelFormatError
        If the structure is malformed or names a class, function or type that is neither
        allowed nor in ``trusted``.
    """
    decoder = _Decoder(structure, arrays, trusted or {})
    try:
        model = decoder.value(decoder.root)
    except RecursionError:
        raise ModelFormatError("the structure is nested too deeply") from None
    except (KeyError, IndexError, TypeError, ValueError) as error:
        if isinstance(error, ModelFormatError):
            raise
        raise ModelFormatError(f"malformed structure: {type(error).__name__}: {error}"
                               ) from None
    return model, decoder.built
