"""The domain packages never import the demo and development tools (devtools/).

The app factory (marketplace/__init__.py) is the one registration point: it calls
``devtools.demo.register`` to add the ``demo`` command and the demo's loaders."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ("marketplace", "catalog", "billing", "vouchers")
REGISTRATION_POINT = Path("marketplace/__init__.py")


def _imports_devtools(tree: ast.AST) -> list[int]:
    """Line numbers of imports of devtools: statements, and import_module / __import__ calls."""
    lines = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in {"import_module", "__import__"} and isinstance(first, ast.Constant):
                names = [str(first.value)]
        if any(name == "devtools" or name.startswith("devtools.") for name in names):
            lines.append(node.lineno)
    return sorted(lines)


def _violations() -> list[str]:
    found = []
    for package in DOMAIN:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative == REGISTRATION_POINT:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(relative))
            found += [f"{relative}:{line}" for line in _imports_devtools(tree)]
    return found


def test_domain_packages_never_import_devtools():
    assert _violations() == []


def test_the_check_sees_every_kind_of_import():
    source = (
        "import devtools\n"
        "from devtools.demo import platform\n"
        "def f():\n"
        "    import devtools.localstripe\n"
        "importlib.import_module('devtools.demo')\n"
        "import devtoolsx\n"
        "from marketplace import devtools_like\n"
    )
    assert _imports_devtools(ast.parse(source)) == [1, 2, 4, 5]


def test_the_app_factory_is_the_one_registration_point():
    tree = ast.parse((ROOT / REGISTRATION_POINT).read_text(encoding="utf-8"))
    assert _imports_devtools(tree), "the app factory registers the demo from devtools"
