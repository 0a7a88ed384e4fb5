"""The layout's promises, checked from the code's own imports (every import, inside functions too):
no import cycle between the project's modules, the in-graph and model code (preprocessing/, models/)
imports nothing from pipeline/, no package imports the runners' command or the tests, and no
module is over 300 lines."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.common import REPO

PACKAGES = ("preprocessing", "models", "data", "pipeline", "tastebud", "bench")
TOP_LEVEL = ("local_runner", "vertex_runner")
MAX_LINES = 300


def _modules() -> dict[str, Path]:
    found = {name: REPO / f"{name}.py" for name in TOP_LEVEL}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project's modules this file imports (the longest known prefix of each name)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    found = set()
    for name in names:
        parts = name.split(".")
        match = next((".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in known), None)
        if match and match.split(".")[0] in (*PACKAGES, *TOP_LEVEL, "tests"):
            found.add(match)
        elif parts[0] == "tests":
            found.add("tests")
    return found


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(path, known) - {name} for name, path in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_in_graph_and_model_code_imports_nothing_from_pipeline():
    wrong = {m: sorted(i for i in deps if i.startswith("pipeline")) for m, deps in _graph().items()}
    assert {m: d for m, d in wrong.items() if d and m.startswith(("preprocessing", "models"))} == {}


def test_no_package_imports_the_runners_command_or_the_tests():
    graph = _graph()
    offenders = {m: sorted(d & {"local_runner", "tests"}) for m, d in graph.items() if m not in TOP_LEVEL}
    assert {m: d for m, d in offenders.items() if d} == {}


def test_no_module_is_over_300_lines():
    long = {
        str(p.relative_to(REPO)): n for p in _modules().values() if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
