"""numpydoc validation of every public docstring: the names each subpackage exports, and the
public methods their classes define."""

from __future__ import annotations

import importlib
import inspect

import pytest
from numpydoc.validate import validate

SUBPACKAGES = ("datasets", "transformers", "estimators", "metrics", "validation", "survival",
               "stats", "explain", "plotting", "genomics", "study", "utils")
#: Not required of every docstring: an extended summary (ES01), a See Also section (SA01),
#: Examples on methods (EX01 is required of functions and classes, below), a summary in the
#: imperative mood (SS05) or on one line (SS06), a description of each returned value beyond
#: its type (RT02), and a docstring on inherited or trivial dunder-free attributes (GL08 for
#: methods only).
IGNORED = {"ES01", "SA01", "EX01", "SS05", "SS06", "RT02"}
#: Classes whose methods come from scikit-learn or skorch unchanged are checked on the
#: methods tacelearn writes itself (defined in a tacelearn module).


def _public_objects():
    names = []
    for subpackage in SUBPACKAGES:
        module = importlib.import_module(f"tacelearn.{subpackage}")
        for name in module.__all__:
            value = getattr(module, name)
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            names.append((f"tacelearn.{subpackage}.{name}", value, True))
            if inspect.isclass(value):
                for attribute, member in vars(value).items():
                    if attribute.startswith("_") or not (
                            inspect.isfunction(member) or isinstance(member, classmethod)):
                        continue
                    names.append((f"tacelearn.{subpackage}.{name}.{attribute}", member, False))
    return names


OBJECTS = _public_objects()


@pytest.mark.parametrize(("name", "needs_examples"), [(n, e) for n, _, e in OBJECTS],
                         ids=[n for n, _, _ in OBJECTS])
def test_public_docstring_is_valid(name, needs_examples):
    result = validate(name)
    ignored = IGNORED - ({"EX01"} if needs_examples else set())
    errors = [f"{code}: {message}" for code, message in result["errors"] if code not in ignored]
    assert errors == [], f"{name}:\n  " + "\n  ".join(errors)
