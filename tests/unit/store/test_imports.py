"""The store's modules import in one direction: each only the store modules below it, with no
function-local or ``TYPE_CHECKING`` import of another store module."""

from __future__ import annotations

import ast
from pathlib import Path

import sessionkit.store

PACKAGE = Path(sessionkit.store.__file__).parent

#: module → the store modules it may import (the layers of the package docstring).
ALLOWED: dict[str, set[str]] = {
    "_files": set(),
    "_arrow": set(),
    "_scope": set(),
    "_layout": {"_files", "_arrow"},
    "_reader": {"_arrow", "_files", "_layout", "_scope"},
    "_writer": {"_arrow", "_files", "_layout"},
    "_sql": {"_arrow", "_files", "_layout"},
    "_check": {"_arrow", "_files", "_layout", "_writer"},
    "_sync": {"_arrow", "_layout", "_reader", "_writer"},
    "_store": {"_arrow", "_check", "_layout", "_reader", "_scope", "_sql", "_sync", "_writer"},
    "__init__": {"_arrow", "_check", "_files", "_layout", "_store", "_sync"},
}


def _store_imports(node: ast.AST) -> set[str]:
    """The sibling store modules ``node`` imports (``from . import x`` / ``from .x import``)."""
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.ImportFrom) and sub.level == 1:
            if sub.module is None:
                found.update(alias.name for alias in sub.names)
            else:
                found.add(sub.module.split(".")[0])
    return found


def test_every_module_is_in_the_map() -> None:
    assert {p.stem for p in PACKAGE.glob("*.py")} == set(ALLOWED)


def test_store_modules_import_only_the_layers_below_them() -> None:
    for name, allowed in ALLOWED.items():
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        assert _store_imports(tree) <= allowed, name


def test_no_store_module_is_imported_inside_a_function_or_under_type_checking() -> None:
    for name in ALLOWED:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert not _store_imports(node), f"{name}.{node.name}"
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                assert not _store_imports(node), name


def test_no_store_module_imports_the_cli() -> None:
    """``sessionkit sync`` (:mod:`sessionkit.cli.sync`) uses the store; never the other way."""
    for name in ALLOWED:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        for sub in ast.walk(tree):
            if isinstance(sub, ast.ImportFrom) and sub.module:
                assert (sub.level, sub.module.split(".")[0]) != (2, "cli"), name
