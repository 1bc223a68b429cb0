"""The tests mirror the modules: ``tests/unit/<module>/`` for pure code, ``tests/integration/``
for the suites that talk HTTP to an emulator or another server, ``tests/browser/`` for Voilà.

There is no ``__init__.py`` under ``tests/unit`` or ``tests/integration``, so pytest imports each
test file by its basename: two files with one basename cannot both be collected. The checker is
a function of a tests directory, so it is also run on small trees built here that break each
rule (it must be able to fail)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
HOMES = ("unit", "integration", "browser")
# the conftest fixtures that start an emulator (or a client of one): integration tests only
SERVER_FIXTURES = frozenset({"demo_emu", "small_emu", "faulty", "demo_client", "small_client"})


def _test_files(tests: Path) -> list[Path]:
    return sorted(p for p in tests.rglob("test_*.py") if "__pycache__" not in p.parts)


def _starts_a_server(path: Path) -> list[str]:
    """What in ``path`` starts an emulator: a server fixture taken by a function, or a call of
    ``Emulator(...)``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            taken = {a.arg for a in (*node.args.posonlyargs, *node.args.args)}
            found += [f"{node.name} takes {name}" for name in sorted(taken & SERVER_FIXTURES)]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name == "Emulator":
                found.append(f"line {node.lineno} calls Emulator()")
    return found


def layout_problems(tests: Path) -> list[str]:
    """Every way ``tests`` breaks the layout, one line each (empty when it keeps it)."""
    problems = []
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in _test_files(tests):
        rel = path.relative_to(tests)
        by_name[path.name].append(rel.as_posix())
        if len(rel.parts) == 1:
            problems.append(f"{rel.as_posix()}: directly under tests/")
        elif rel.parts[0] not in HOMES:
            problems.append(f"{rel.as_posix()}: not under tests/unit, integration or browser")
        elif rel.parts[0] == "unit":
            problems += [f"{rel.as_posix()}: unit test {what}" for what in _starts_a_server(path)]
    for name, paths in sorted(by_name.items()):
        if len(paths) > 1:
            problems.append(f"{name}: basename used {len(paths)} times: {', '.join(paths)}")
    return problems


def test_the_tests_keep_the_layout() -> None:
    assert len(_test_files(TESTS)) > 40  # the real tree, not an empty glob
    assert layout_problems(TESTS) == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


GOOD = {
    "conftest.py": "",
    "browser/test_voila_panel.py": "",
    "unit/test_params.py": "def test_a() -> None:\n    pass\n",
    "unit/store/test_layout.py": "",
    "integration/test_loaders.py": "def test_b(demo_emu):\n    pass\n",
    "integration/store/test_sync.py": "from x import Emulator\nE = Emulator(sessions=3)\n",
}


def test_a_tree_that_keeps_the_layout_has_no_problem(tmp_path: Path) -> None:
    assert layout_problems(_tree(tmp_path, GOOD)) == []


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"test_store.py": ""}, "test_store.py: directly under tests/"),
        (
            {"emulator/test_wire.py": ""},
            "emulator/test_wire.py: not under tests/unit, integration or browser",
        ),
        (
            {"integration/store/test_params.py": ""},
            "test_params.py: basename used 2 times: integration/store/test_params.py, "
            "unit/test_params.py",
        ),
        (
            {"unit/test_pure.py": "def test_c(small_client):\n    pass\n"},
            "unit/test_pure.py: unit test test_c takes small_client",
        ),
        (
            {"unit/emulator/test_pure.py": "import m\nE = m.Emulator()\n"},
            "unit/emulator/test_pure.py: unit test line 2 calls Emulator()",
        ),
    ],
    ids=["root", "elsewhere", "duplicate", "server-fixture", "emulator-call"],
)
def test_each_broken_rule_is_reported(tmp_path: Path, extra: dict[str, str], problem: str) -> None:
    assert layout_problems(_tree(tmp_path, {**GOOD, **extra})) == [problem]
