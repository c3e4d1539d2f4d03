"""No two modules of the project import each other, even through a function-level import: a
circle means neither can be read, tested or moved alone (two existed, payroll.run <-> payroll.close
and sinks.clickhouse.ddl <-> payroll_ddl, both hidden in function bodies)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = ("schemas", "streams", "sinks", "deploy", "ingest", "payroll", "wallboard", "simulator")


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project modules it imports anywhere in its body. ``from pkg import mod``
    imports ``pkg.mod``; the package itself only when a name of its ``__init__`` is taken."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = {f"{node.module}.{alias.name}" for alias in node.names} & modules.keys()
                targets = subs or {node.module}
            elif isinstance(node, ast.Import):
                targets = {alias.name for alias in node.names}
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while (top := stack.pop()) != node:
                group.append(top)
            if group:
                found.append(sorted([node, *group]))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_one_that_imports_it() -> None:
    assert circles(import_graph(project_modules())) == []


def test_a_circle_is_found() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_imports() -> None:
    """A module only a command imports lazily (``callfloor migrate-calls``) still fails the unit
    suite when one of its imports breaks, not an integration test or a user. Left out: the engine
    process's module (it confines the process that imports it) and ``__main__`` modules (they run)."""
    import importlib

    broken = {}
    for name in sorted(project_modules()):
        if name == "deploy.local.clickhouse.engine_process" or name.endswith("__main__"):
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - collect every broken module, not the first
            broken[name] = repr(exc)
    assert broken == {}
