"""The emulator is the independent oracle the client is tested against: it imports nothing of
the client side of sessionkit, and its own modules form layers with no circle.

Read from the source with ``ast`` (every import, top-level or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "sessionkit" / "emulator"
#: The one import from the rest of sessionkit: the public demo key (its home is config).
ALLOWED_OUTSIDE = {"sessionkit.config"}
#: The command (argparse, sessionkit.cli's runner) is not part of the oracle; another package
#: is taking it over. Everything else in the package is checked.
NOT_CHECKED = {"_cli.py", "__main__.py"}
#: What each layer may import from the emulator (the module docstrings say the same).
LAYERS: dict[str, set[str]] = {
    "catalog": set(),
    "chaos": set(),
    "incidents": {"catalog"},
    "texts": {"catalog", "incidents"},
    "draw": {"catalog", "incidents"},
    "records": {"catalog"},
    "dataset": {"catalog", "texts", "draw", "records"},
    "generate": {"catalog", "draw", "dataset", "incidents"},
    "synth": {"catalog", "dataset", "generate"},
    "httpd": {"catalog", "chaos", "dataset"},
    "runner": {"catalog", "chaos", "dataset", "generate", "httpd"},
    "__init__": {"chaos", "dataset", "generate", "runner"},
}


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = "sessionkit.emulator"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
                if not node.module:  # from . import x → the submodules x
                    found.update(f"{base}.{alias.name}" for alias in node.names)
                    continue
            else:
                name = node.module or ""
            found.add(name)
    return found


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.glob("*.py") if p.name not in NOT_CHECKED)


def test_every_module_is_checked_and_has_a_layer() -> None:
    assert {p.stem for p in modules()} == set(LAYERS)


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_imports_nothing_of_the_client_side(path: Path) -> None:
    outside = {
        name
        for name in imports_of(path)
        if (name == "sessionkit" or name.startswith("sessionkit."))
        and not name.startswith("sessionkit.emulator")
    }
    assert outside <= ALLOWED_OUTSIDE, f"{path.name} imports {sorted(outside - ALLOWED_OUTSIDE)}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_imports_only_the_layers_below(path: Path) -> None:
    inside = {
        name.removeprefix("sessionkit.emulator.")
        for name in imports_of(path)
        if name.startswith("sessionkit.emulator.")
    }
    assert inside <= LAYERS[path.stem], f"{path.name} imports {sorted(inside - LAYERS[path.stem])}"


def test_the_layers_have_no_circle() -> None:
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"import circle: {' -> '.join((*trail, name))}"
        if name in done:
            return
        for below in LAYERS[name]:
            visit(below, (*trail, name))
        done.add(name)

    for name in LAYERS:
        visit(name, ())


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_no_circle_dodges(path: Path) -> None:
    """No ``TYPE_CHECKING`` back-edge, no late import excused with ``noqa: E402``."""
    text = path.read_text()
    assert "TYPE_CHECKING" not in text
    assert "E402" not in text


def test_the_checker_sees_relative_and_function_local_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from ..loaders import load_sessions\n"
        "from .catalog import NS\n"
        "def f():\n    from sessionkit.client import Client\n"
    )
    assert {"sessionkit.loaders", "sessionkit.emulator.catalog", "sessionkit.client"} <= (
        imports_of(probe)
    )
