"""Every package's ``__all__`` is its public API: ordered, unique, public, resolving, and complete.

Complete means: every public name a package's ``__init__.py`` binds from sessionkit code (a
``def``, a ``class``, an assignment, an import from sessionkit) is in its ``__all__``, unless
:data:`NOT_EXPORTED` says why not. Standard-library names an ``__init__`` imports for its own
use (``Sequence``, ``ModuleType``) and submodules are not API. The exact lists of the store
and the emulator are pinned in ``tests/unit/store/test_store_exports.py`` and
``tests/unit/emulator/test_emulator_exports.py``; this covers every package (those two
included) and every other module that declares ``__all__``.
"""

from __future__ import annotations

import ast
import importlib
import re
import types
from pathlib import Path

import pytest

import sessionkit as sk

ROOT = Path(sk.__file__).resolve().parent

#: (package, name) → why a public name its ``__init__`` binds is not in its ``__all__``.
NOT_EXPORTED: dict[tuple[str, str], str] = {
    ("sessionkit.store", "DEFAULT_PATH"): "a helper kept importable; not the documented API",
    ("sessionkit.store", "ENTITIES"): "a helper kept importable; not the documented API",
    ("sessionkit.store", "Selection"): "a helper kept importable; not the documented API",
    ("sessionkit.cli", "Parser"): "imported for build_parser; the command is the API",
    ("sessionkit.cli", "add_command"): "imported for build_parser; the command is the API",
    ("sessionkit.cli", "run_command"): "imported for main; the command is the API",
}


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


PACKAGES = sorted(_name(p) for p in ROOT.rglob("__init__.py"))
#: Modules (not packages) that declare ``__all__``, found in the source.
MODULES = sorted(
    _name(p)
    for p in ROOT.rglob("*.py")
    if p.name not in ("__init__.py", "__main__.py")
    and re.search(r"^__all__\b", p.read_text(encoding="utf-8"), re.M)
)


def _ruff_order(names: list[str]) -> list[str]:
    """``names`` in the order ``ruff check`` (RUF022, isort-style) keeps ``__all__``: constants
    (SCREAMING_CASE), then classes (CamelCase), then the rest, each in natural order."""

    def key(name: str) -> tuple[int, list[tuple[int, int | str]]]:
        kind = 0 if len(name) > 1 and name.isupper() else 1 if name[:1].isupper() else 2
        natural = [(1, int(p)) if p.isdigit() else (0, p) for p in re.split(r"(\d+)", name) if p]
        return kind, natural

    return sorted(names, key=key)


def _is_public(name: str) -> bool:
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def _bound_from_sessionkit(module: types.ModuleType) -> set[str]:
    """The names ``module``'s source binds at module level from sessionkit code."""
    tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Assign):
            bound.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            bound.add(node.target.id)
        elif isinstance(node, ast.ImportFrom) and (
            node.level or (node.module or "").split(".")[0] == "sessionkit"
        ):
            bound.update(alias.asname or alias.name for alias in node.names)
    return bound


def _api(module: types.ModuleType) -> set[str]:
    """What ``module`` binds that is public, not a dunder and not a module."""
    return {
        name
        for name in _bound_from_sessionkit(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
    }


@pytest.mark.parametrize("name", PACKAGES)
def test_every_package_declares_all_in_ruff_order_without_repeats(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported, f"{name}.__all__ is empty"
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    assert exported == _ruff_order(exported), f"{name}.__all__ is not in ruff's order"


def test_the_top_level_all_is_plainly_sorted() -> None:
    assert sk.__all__ == sorted(sk.__all__)


@pytest.mark.parametrize("name", PACKAGES + MODULES)
def test_every_exported_name_is_public_and_resolves_to_sessionkit_code(name: str) -> None:
    module = importlib.import_module(name)
    assert len(module.__all__) == len(set(module.__all__)), f"{name}.__all__ repeats a name"
    for exported in module.__all__:
        assert _is_public(exported), f"{name}.{exported} is private"
        assert hasattr(module, exported), f"{name}.{exported} does not exist"
        value = getattr(module, exported)
        assert not isinstance(value, types.ModuleType), f"{name}.{exported} is a module"
        if isinstance(value, type | types.FunctionType):  # not re-exported from elsewhere
            assert value.__module__.split(".")[0] == "sessionkit", (exported, value.__module__)


@pytest.mark.parametrize("name", PACKAGES + MODULES)
def test_star_import_gives_exactly_all(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(importlib.import_module(name).__all__)


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_a_package_binds_is_exported_or_excused(name: str) -> None:
    module = importlib.import_module(name)
    excused = {n for (package, n) in NOT_EXPORTED if package == name}
    missing = _api(module) - set(module.__all__) - excused
    assert missing == set(), f"{name} binds {sorted(missing)}: add to __all__ or NOT_EXPORTED"


def test_every_excuse_is_still_needed() -> None:
    for (package, name), reason in NOT_EXPORTED.items():
        module = importlib.import_module(package)
        assert reason and name in _api(module), (package, name)
        assert name not in module.__all__, (package, name)


def test_the_lazy_subpackages_resolve_on_attribute_access() -> None:
    """``sk.plot``, ``sk.analysis``, ... (``_LAZY``) are the subpackages themselves, and tab
    completion offers them with the API."""
    lazy = sk._LAZY
    assert lazy and len(set(lazy)) == len(lazy)
    for name in lazy:
        assert getattr(sk, name) is importlib.import_module(f"sessionkit.{name}"), name
    assert dir(sk) == sorted([*sk.__all__, *lazy])
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = sk.nope


def test_the_completeness_check_can_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A package binding a public name it does not export, or exporting a missing one, fails."""
    package = tmp_path / "probe_pkg"
    package.mkdir()
    (package / "_impl.py").write_text("def shown(): pass\ndef hidden(): pass\n")
    (package / "__init__.py").write_text(
        "from collections.abc import Sequence\n"
        "from ._impl import hidden, shown\n"
        "LIMIT = 3\n"
        "__all__ = ['shown', 'ghost']\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = importlib.import_module("probe_pkg")
    assert _api(probe) - set(probe.__all__) == {"hidden", "LIMIT"}  # not Sequence, not _impl
    assert not hasattr(probe, "ghost")
    # what `ruff check --select RUF022 --fix` makes of this list
    mixed = ["b", "A", "C_2", "C_10", "__version__", "Ab", "AB", "_x"]
    assert _ruff_order(mixed) == ["AB", "C_2", "C_10", "A", "Ab", "__version__", "_x", "b"]
