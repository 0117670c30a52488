"""The package's layering, read from the source with ``ast``: every import statement of every
module of tacelearn, at module level or inside a function (lazy imports count too).

DESIGN.md's layers, lowest first::

    utils <- datasets, metrics, survival, stats, genomics <- transformers, validation
          <- estimators, explain, plotting <- study

(a) the import graph between subpackages has no cycle; (b) no subpackage imports one of a
higher layer; (c) no module imports another subpackage's private module or private name: a
subpackage's ``__init__`` is its interface. Subpackages of one layer may import each other, as
long as (a) holds.

``importlib.import_module`` with a name computed at run time is beyond a static scan; it may
only load a subpackage's own modules (relative names from its ``__init__``: lazy imports) or
appear in :data:`DYNAMIC_IMPORTERS`, each with its reason.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = "tacelearn"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

#: Layer of each subpackage, lowest first (DESIGN.md, "Layout").
LAYERS = {
    "utils": 0,
    "datasets": 1, "metrics": 1, "survival": 1, "stats": 1, "genomics": 1,
    "transformers": 2, "validation": 2,
    "estimators": 3, "explain": 3, "plotting": 3,
    "study": 4,
}

#: Imports that break a rule on purpose: (importing module, imported module) -> why. Keep empty
#: unless a rule truly cannot hold; every entry needs its reason.
ALLOWED_EXCEPTIONS: dict[tuple[str, str], str] = {}

#: Modules that call ``importlib.import_module`` with absolute names -> why.
DYNAMIC_IMPORTERS = {
    f"{PACKAGE}.estimators._model_format": "rebuilds saved models from its allow-list of "
    "scikit-learn and tacelearn classes; the names it imports are checked there",
}


def module_name(path):
    relative = path.relative_to(ROOT.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def package_of(path, name):
    """The package a relative import of this module starts from."""
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_modules(tree, path, name):
    """Every ``(line, module, imported names)`` the module imports, relative imports resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_of(path, name).split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            yield node.lineno, target, tuple(alias.name for alias in node.names)


def _imports():
    """One record per imported module of tacelearn: who imports what, and where."""
    records = []
    for path in sorted(ROOT.rglob("*.py")):
        name = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, target, names in imported_modules(tree, path, name):
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                records.append((name, f"{path.relative_to(ROOT.parent)}:{line}", target, names))
    return records


IMPORTS = _imports()


def subpackage(module):
    """``metrics`` for ``tacelearn.metrics._delong``; None for the top-level modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def cross_imports(records=None):
    """The imports from one subpackage into another, with the names they take."""
    for importer, where, target, names in IMPORTS if records is None else records:
        source, destination = subpackage(importer), subpackage(target)
        # `from .. import metrics` names the subpackage among the imported names.
        if destination is None and target == PACKAGE:
            for imported in names:
                if imported in LAYERS and imported != source and source is not None:
                    yield importer, where, f"{PACKAGE}.{imported}", imported, ()
            continue
        if source is not None and destination is not None and source != destination:
            yield importer, where, target, destination, names


def allowed(importer, target):
    return (importer, target) in ALLOWED_EXCEPTIONS


def test_every_subpackage_has_a_layer():
    found = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert found == set(LAYERS), "add the new subpackage to LAYERS and to DESIGN.md"


def test_the_scan_sees_the_known_imports():
    # The scan must not pass vacuously: relative, absolute and lazy imports are all resolved.
    edges = {(subpackage(importer), destination)
             for importer, _, _, destination, _ in cross_imports()}
    assert ("transformers", "stats") in edges  # from ..stats import ... (module level)
    assert ("estimators", "transformers") in edges
    assert len(IMPORTS) > 100


def find_cycle(edges):
    """One cycle of the directed graph as a list of nodes (first == last), or None."""
    graph = defaultdict(set)
    for source, destination in edges:
        graph[source].add(destination)
    state = {}  # node -> "open" while on the DFS stack, "done" after

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for following in sorted(graph[node]):
            if state.get(following) == "open":
                return stack[stack.index(following):] + [following]
            if following not in state:
                cycle = visit(following, stack)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_cycles():
    assert find_cycle([("a", "b"), ("b", "c"), ("c", "a")]) == ["a", "b", "c", "a"]
    assert find_cycle([("a", "b"), ("b", "c"), ("a", "c")]) is None


def test_subpackage_import_graph_has_no_cycle():
    edges = defaultdict(list)
    for importer, where, target, destination, _ in cross_imports():
        if not allowed(importer, target):
            edges[subpackage(importer), destination].append(where)
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle " + " -> ".join(cycle) + ": " + "; ".join(
        f"{a} -> {b} at {', '.join(edges[a, b])}" for a, b in zip(cycle, cycle[1:]))


def test_lower_layers_never_import_higher_ones():
    upward = [f"{where}: {subpackage(importer)} (layer {LAYERS[subpackage(importer)]}) imports "
              f"{target} (layer {LAYERS[destination]})"
              for importer, where, target, destination, _ in cross_imports()
              if LAYERS[destination] > LAYERS[subpackage(importer)]
              and not allowed(importer, target)]
    assert not upward, "\n".join(upward)


def is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(records=None):
    """Imports of another subpackage's private module (``from ..metrics._x import y``) or
    private name (``from ..metrics import _y``)."""
    private = []
    for importer, where, target, _, names in cross_imports(records):
        if allowed(importer, target):
            continue
        if any(is_private(part) for part in target.split(".")):
            private.append(f"{where}: {target}")
        hidden = [name for name in names if is_private(name)]
        if hidden:
            private.append(f"{where}: {', '.join(hidden)} from {target}")
    return private


def test_no_module_imports_another_subpackages_private_parts():
    private = private_imports()
    assert not private, "\n".join(private)


@pytest.mark.parametrize(("source", "private"), [
    ("from ..metrics._calibration import y", True),
    ("from ..metrics import _y", True),
    ("import tacelearn.metrics._delong", True),
    ("def lazy():\n    from ..metrics._delong import y", True),
    ("from ._performance import y", False),  # inside the subpackage
    ("from ..metrics import y, __version__", False),
])
def test_private_imports_are_detected(source, private):
    module = f"{PACKAGE}.validation._z"
    records = [(module, f"_z.py:{line}", target, names) for line, target, names
               in imported_modules(ast.parse(source), ROOT / "validation" / "_z.py", module)]
    assert bool(private_imports(records)) == private


def test_relative_imports_resolve_like_python():
    module = f"{PACKAGE}.validation._bootstrap"
    path = ROOT / "validation" / "_bootstrap.py"
    tree = ast.parse("from ..metrics import a\nfrom . import _b\nfrom .._c import d\n"
                     "def lazy():\n    from ..stats import e\n")
    targets = [target for _, target, _ in imported_modules(tree, path, module)]
    assert targets == [f"{PACKAGE}.metrics", f"{PACKAGE}.validation", f"{PACKAGE}._c",
                       f"{PACKAGE}.stats"]
    init = ROOT / "stats" / "__init__.py"
    (_, target, _), = imported_modules(ast.parse("from ._loess import f"), init,
                                       f"{PACKAGE}.stats")
    assert target == f"{PACKAGE}.stats._loess"


def test_allowed_exceptions_are_used_and_explained():
    present = {(importer, target) for importer, _, target, _, _ in cross_imports()}
    for key, reason in ALLOWED_EXCEPTIONS.items():
        assert key in present, f"{key} no longer happens: remove it from ALLOWED_EXCEPTIONS"
        assert len(reason) > 20, f"{key} needs a reason"


def dynamic_imports(tree):
    """``(line, first argument, package argument)`` of every ``import_module(...)`` call."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and node.args
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"):
            package = node.args[1] if len(node.args) > 1 else None
            yield node.lineno, node.args[0], package


def relative_names(tree):
    """String constants of the module that look like relative module names."""
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and node.value.startswith(".") and node.value[1:2].isidentifier()}


def test_dynamic_imports_load_only_the_subpackages_own_modules():
    problems = []
    for path in sorted(ROOT.rglob("*.py")):
        name = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        calls = list(dynamic_imports(tree))
        if not calls or name in DYNAMIC_IMPORTERS:
            continue
        where = path.relative_to(ROOT.parent)
        for line, _, package in calls:
            own = (path.name == "__init__.py" and isinstance(package, ast.Name)
                   and package.id == "__name__")
            if not own:
                problems.append(f"{where}:{line}: import_module outside a subpackage's lazy "
                                "imports; add the module to DYNAMIC_IMPORTERS with a reason")
        # Relative names one dot deep stay in the subpackage; '..x' would leave it.
        problems.extend(f"{where}: lazy import of {value!r} leaves the subpackage"
                        for value in relative_names(tree) if value.startswith(".."))
    assert not problems, "\n".join(problems)
    assert set(DYNAMIC_IMPORTERS) <= {module_name(p) for p in ROOT.rglob("*.py")}
