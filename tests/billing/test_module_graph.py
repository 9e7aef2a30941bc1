"""billing's modules import each other in one direction: the graph of their module-level
imports has no cycle, and no function imports a billing module to dodge one (an optional
or heavy library imported where it is used is fine)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BILLING = ROOT / "billing"

# Imports inside functions that are not billing modules and dodge no cycle: a library
# needed by one rarely used path.
OPTIONAL_LIBRARIES = {"openpyxl", "io", "zipfile", "xml.etree", "sqlalchemy.dialects"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(BILLING.rglob("*.py"))}


def imported(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """The billing modules an import statement names (``from billing import x`` names the
    module ``billing.x`` when there is one, else the package)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolved against the importing module's package
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    names = []
    for alias in node.names:
        candidate = f"{source}.{alias.name}"
        names.append(candidate if candidate in MODULES else source)
    return names


def module_level_imports(path: Path) -> set[str]:
    """Billing modules imported at the top of the file (not inside a function or class,
    not only for type checking)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        statements: list[ast.stmt] = [node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Try | ast.If):
            statements = [*node.body]
        for statement in statements:
            if isinstance(statement, ast.Import | ast.ImportFrom):
                found.update(m for m in imported(statement, package) if m in MODULES)
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    return {name: module_level_imports(path) for name, path in MODULES.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path of module names, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def function_level_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import statement inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                found += [(inner.lineno, alias.name) for alias in inner.names]
            elif isinstance(inner, ast.ImportFrom):
                found.append((inner.lineno, "." * inner.level + (inner.module or "")))
    return found


def test_the_graph_is_read_right():
    edges = graph()
    assert "billing.payments.refunds" in MODULES
    assert "billing.invoice_money" in edges["billing.payments.refunds"]
    assert "billing.invoices" in edges["billing.invoice_money"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_billing_modules_import_each_other_without_a_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_function_imports_a_billing_module(name: str):
    inside = function_level_imports(MODULES[name])
    dodges = [
        (line, module)
        for line, module in inside
        if module == "billing" or module.startswith(("billing.", "."))
    ]
    assert not dodges, f"{name} imports inside functions: {dodges}"
    unexpected = [
        (line, module)
        for line, module in inside
        if (line, module) not in dodges
        and not any(module == lib or module.startswith(lib + ".") for lib in OPTIONAL_LIBRARIES)
    ]
    assert not unexpected, f"{name}: only optional libraries are imported late: {unexpected}"
