"""The library's modules depend on one another one way, down the layers (training and transfer
on fitting and inputs, evaluation on transfer), lazy imports inside functions included: a
cycle hidden by a function-level import is still a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "workflow" / "genreflow"


def imports_of(module: Path) -> set[str]:
    """The package's modules that ``module`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
    return found


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> modules it imports), or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return path[path.index(name) :] + [name]
        if name in done:
            return None
        for dep in sorted(graph.get(name, ())):
            if cycle := visit(dep, path + [name]):
                return cycle
        done.add(name)
        return None

    for name in sorted(graph):
        if cycle := visit(name, []):
            return cycle
    return None


def test_cycle_in_finds_a_cycle():
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_library_has_no_import_cycle():
    graph = {module.stem: imports_of(module) for module in PACKAGE.glob("*.py")}
    assert graph["evaluation"] >= {"transfer", "inputs"}, "the graph is read"
    assert cycle_in(graph) is None
