"""``sessionkit store check [--repair]`` (#15 item 23): what it prints and its exit statuses —
0 healthy, 1 problems found (or left after a repair), 2 bad usage, 3 a sync holds the store —
run through ``sessionkit``'s own entry point on stores built locally."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import sessionkit as sk
from sessionkit.cli import main
from sessionkit.store import Store
from sessionkit.store._layout import Layout
from tests.servers import session


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "store")
    store.upsert("sessions", sk.sessions_frame([session(i) for i in range(1, 6)]))
    return store


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], list[str]]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err.splitlines()


def test_a_healthy_store_prints_so_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _store(tmp_path)
    status, out, err = _run(["store", "check", "--store", str(store.path)], capsys)
    assert (status, err) == (0, [])
    assert out == [
        f"store {store.path}: healthy (5 sessions in 5 day partition(s); every file readable)"
    ]


def test_problems_are_listed_with_the_fix_and_exit_1_then_repair_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _store(tmp_path)
    damaged = store.files()[1]
    damaged.write_bytes(b"not parquet at all")
    status, out, err = _run(["store", "check", "--store", str(store.path)], capsys)
    assert (status, err) == (1, [])
    assert out[0] == f"store {store.path}: 1 problem"
    assert out[1].startswith(f"  unreadable: {damaged.relative_to(store.path)}: ")
    assert out[2].startswith(f"Repair with `sessionkit store check --repair --store {store.path}`")
    assert damaged.read_bytes() == b"not parquet at all"  # a check changes nothing

    status, out, err = _run(["store", "check", "--repair", "--store", str(store.path)], capsys)
    assert (status, err) == (0, [])
    quarantine = next((store.path / "quarantine").iterdir())
    assert out[0] == f"store {store.path}: repaired"
    assert out[1] == (
        f"  moved 1 file(s) that cannot be read into {quarantine} (nothing deleted): "
        f"{damaged.relative_to(store.path)}"
    )
    assert out[-1] == (
        f"store {store.path}: healthy (4 sessions in 4 day partition(s); every file readable)"
    )
    assert (quarantine / damaged.relative_to(store.path)).read_bytes() == b"not parquet at all"
    status, out, _ = _run(["store", "check", "--store", str(store.path)], capsys)
    assert status == 0


def test_a_problem_the_repair_leaves_exits_1_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _store(tmp_path)
    stray = store.files()[0].parent / "part-1.parquet"
    stray.write_bytes(b"someone else's")
    status, out, _ = _run(["store", "check", "--repair", "--store", str(store.path)], capsys)
    assert status == 1
    assert f"store {store.path}: 1 problem left" in out
    assert any(line.startswith("  foreign file: ") for line in out)
    assert stray.read_bytes() == b"someone else's"  # not the store's: never touched


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["store"], "sessionkit store: which action? sessionkit store check [--repair] [--store PATH]"),
        (["store", "check", "--nope"], "sessionkit store check: unrecognized arguments: --nope; see sessionkit store check --help"),
        (["store", "check", "--store", "s3://bucket/store"], None),
    ],
)  # fmt: skip
def test_bad_usage_is_one_line_and_exit_2(
    argv: list[str], line: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own refusals exit from the parser
        status = int(exc.code or 0)
    err = capsys.readouterr().err.splitlines()
    assert status == 2 and len(err) == 1
    if line is not None:
        assert err == [line]
    else:
        assert "is a URL" in err[0]


def test_no_store_at_the_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path in (tmp_path / "missing", tmp_path):
        status, out, err = _run(["store", "check", "--store", str(path)], capsys)
        assert (status, out) == (2, [])
        assert err == [
            f"sessionkit store: no store at {path} (no manifest.json and no dataset directory); "
            "give the directory a sync wrote with --store"
        ]


def test_a_repair_while_a_sync_holds_the_store_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _store(tmp_path)
    with Layout(store.path).locked():
        status, out, err = _run(["store", "check", "--repair", "--store", str(store.path)], capsys)
    assert (status, out) == (3, [])
    assert len(err) == 1 and err[0].startswith(
        f"sessionkit store: The store is locked: {store.path}"
    )


def test_the_console_command_runs_it(tmp_path: Path) -> None:
    """The same through a real process (``python -m sessionkit``)."""
    store = _store(tmp_path)
    store.files()[0].write_bytes(b"x")
    done = subprocess.run(
        [sys.executable, "-m", "sessionkit", "store", "check", "--store", str(store.path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and done.stderr == ""
    assert done.stdout.splitlines()[0] == f"store {store.path}: 1 problem"
