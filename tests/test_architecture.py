"""The layers import downwards only, and modules import each other without cycles.

Every import of every module of the package is read from its source (``ast``: imports
inside functions and under ``TYPE_CHECKING`` count too, since they run or are read all
the same); nothing is imported here. Layers, lowest first (docs/design.md, Layers)::

    core (tfselect/*.py) -> audio -> transforms -> reference -> metrics -> search -> report
    -> demix -> api -> cli

A module may import its own layer and the layers below it, never one above. Modules
named by string and imported with ``importlib`` (the transform registry's kinds, among them
the ``nsgcq`` adapter in ``reference``) are not imports here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "tfselect"
LAYERS = ("core", "audio", "transforms", "reference", "metrics", "search", "report", "demix",
          "api", "cli")  # fmt: skip
# The entry point runs the command line: the top, though it sits beside the core modules.
ENTRY = {"tfselect.__main__": "cli"}
# Upward imports and cycles that remain, each with why; the test fails when one disappears
# too, so these lists stay true.
KNOWN_UPWARD: set[tuple[str, str]] = set()
KNOWN_CYCLES: set[frozenset[str]] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    """The layer of a module: its subpackage under tfselect, else the core."""
    if module in ENTRY:
        return ENTRY[module]
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else "core"


def imports(module: str) -> set[str]:
    """The package's modules that ``module`` imports (``from X import Y`` counts X.Y when
    that is a module, else X)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1 packages
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in found if m in MODULES and m != module}


GRAPH = {m: imports(m) for m in MODULES}


def test_the_layers_are_known():
    assert {layer(m) for m in MODULES} == set(LAYERS)
    assert layer("tfselect.errors") == "core" and layer("tfselect.cli") == "cli"
    assert layer("tfselect.demix.model") == "demix" and layer("tfselect.__main__") == "cli"


def test_no_upward_import():
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = set()
    for module, targets in GRAPH.items():
        for target in targets:
            if rank[layer(target)] > rank[layer(module)]:
                upward.add((module, target))
    assert upward == KNOWN_UPWARD, sorted(upward - KNOWN_UPWARD)


def _cycles() -> set[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert _cycles() == KNOWN_CYCLES, sorted(map(sorted, _cycles() - KNOWN_CYCLES))


@pytest.mark.parametrize(("edges", "expected"), [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, {frozenset("abc")}),
    ({"a": {"b"}, "b": set(), "c": {"b"}}, set()),
])  # fmt: skip
def test_the_cycle_finder_finds_cycles(monkeypatch, edges, expected):
    monkeypatch.setitem(globals(), "GRAPH", edges)
    assert _cycles() == expected


def test_every_kind_of_spec_has_a_builder_that_exists():
    from tfselect.transforms import KINDS
    from tfselect.transforms.registry import CLASSES

    assert set(CLASSES) == set(KINDS)
    for module, name in CLASSES.values():  # read, not imported: essentia may be absent
        tree = ast.parse(MODULES[module].read_text())
        assert any(isinstance(n, ast.ClassDef) and n.name == name for n in tree.body), name


# Where text becomes a TransformSpec: the modules that read a spec from outside (a user, a
# file, a study) and why; everything else takes and returns spec objects. The test fails
# when a module parses specs off this list, and when one on it no longer does.
SPEC_EDGES = {
    "tfselect.transforms.spec": "the grammar itself (an ensemble's members)",
    "tfselect.transforms.registry": "build(), the Python entry that takes a spec's text",
    "tfselect.search.study": "the spec a trial stored (Optuna user attr)",
    "tfselect.search.survey": "a survey's design points, stored as text in the study",
    "tfselect.report.tables": "spec columns of study tables",
    "tfselect.report.plots": "spec columns of study tables",
    "tfselect.report.survey": "specs stored in survey studies",
    "tfselect.report.compare": "specs of best.csv",
    "tfselect.report.verify": "specs of best.csv",
    "tfselect.demix.specs": "best.csv, studies and --spec",
    "tfselect.demix.model": "a ModelConfig from a model folder or the command line",
    "tfselect.demix.deoverlap": "a DeOverlapConfig from its files or the command line",
    "tfselect.demix.compare": "configurations: --config-spec, best.csv, plan.json",
    "tfselect.api.scoring": "the transform a user gives",
}


def spec_parsers(tree: ast.AST) -> int:
    """How many times ``TransformSpec.parse`` (or ``cls.parse`` inside the class) is named:
    calls, and references that could alias it."""
    return sum(isinstance(n, ast.Attribute) and n.attr == "parse"
               and isinstance(n.value, ast.Name) and n.value.id in ("TransformSpec", "cls")
               for n in ast.walk(tree))  # fmt: skip


def test_specs_are_parsed_only_where_text_comes_in():
    parsing = {m for m, path in MODULES.items() if spec_parsers(ast.parse(path.read_text()))}
    assert parsing - set(SPEC_EDGES) == set(), "parse at the edges only; pass TransformSpec"
    assert set(SPEC_EDGES) - parsing == set(), "no longer an edge: drop it from SPEC_EDGES"


def test_the_parse_finder_sees_calls_and_aliases():
    tree = ast.parse("a = TransformSpec.parse(t)\nf = TransformSpec.parse\nb = ast.parse(t)")
    assert spec_parsers(tree) == 2
