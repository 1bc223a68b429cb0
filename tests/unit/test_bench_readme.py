"""The README's generated benchmark block: marker replacement and the atomic write."""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run_all", ROOT / "benchmarks/run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


run_all = _run_all()
START, END = run_all.START, run_all.END
replace = run_all.replace_between_markers

DOC = f"# Title\n\n## Performance\n\nprose before\n\n{START}\nold figures\n{END}\n\nprose after\n"


def test_replaces_only_between_the_markers() -> None:
    new = replace(DOC, "| a | b |\n|---|---|\n| 1 | 2 |")
    assert new == (
        f"# Title\n\n## Performance\n\nprose before\n\n{START}\n"
        f"| a | b |\n|---|---|\n| 1 | 2 |\n{END}\n\nprose after\n"
    )


def test_everything_outside_the_markers_is_kept_byte_for_byte() -> None:
    before, after = "a\r\n  b\t\n\n\n", "\r\nc  \n\u00e9 \u2014 d"  # CRLF, spaces, non-ASCII
    text = f"{before}{START} anything {END}{after}"
    new = replace(text, "\n\nblock\n\n")
    assert new == f"{before}{START}\nblock\n{END}{after}"
    assert new.startswith(before + START) and new.endswith(END + after)


def test_replacing_twice_is_stable_and_an_empty_block_is_allowed() -> None:
    once = replace(DOC, "block")
    assert replace(once, "block") == once
    assert replace(DOC, "") == DOC.replace("old figures\n", "\n")


def test_markers_on_one_line() -> None:
    assert replace(f"x {START}{END} y", "b") == f"x {START}\nb\n{END} y"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no markers at all\n", "'<!-- bench:start -->' is missing"),
        (f"only the start {START}\n", "'<!-- bench:end -->' is missing"),
        (f"only the end {END}\n", "'<!-- bench:start -->' is missing"),
        (f"{START}\n{START}\n{END}\n", "'<!-- bench:start -->' occurs 2 times"),
        (f"{START}\n{END}\n{END}\n", "'<!-- bench:end -->' occurs 2 times"),
        (f"{END}\nreversed\n{START}\n", "comes before"),
    ],
)
def test_missing_duplicated_or_reversed_markers_raise(text: str, message: str) -> None:
    with pytest.raises(run_all.MarkerError, match=message):
        replace(text, "block")
    assert issubclass(run_all.MarkerError, ValueError)


def test_write_readme_is_atomic_and_keeps_the_file_mode(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_bytes(DOC.replace("\n", "\r\n").encode())
    readme.chmod(0o640)
    inode = readme.stat().st_ino
    assert run_all.write_readme(readme, "new block")
    data = readme.read_bytes().decode()
    assert data == replace(DOC.replace("\n", "\r\n"), "new block")
    assert stat.S_IMODE(readme.stat().st_mode) == 0o640
    assert readme.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert os.listdir(tmp_path) == ["README.md"]  # no temporary file left behind
    assert not run_all.write_readme(readme, "new block")  # already current: not rewritten


def test_write_readme_without_markers_leaves_the_file_alone(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(run_all.MarkerError):
        run_all.write_readme(readme, "block")
    assert readme.read_text() == "no markers\n"
    assert os.listdir(tmp_path) == ["README.md"]


def test_the_readme_has_one_generated_block_in_its_performance_section() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Performance\n", 1)[1].split("\n## ", 1)[0]
    assert section.count(START) == section.count(END) == 1
    replace(text, "block")  # the whole file has exactly one pair, in order


def test_script_output_is_cleaned_of_terminal_noise() -> None:
    raw = (
        "\x1b[2K\n<IPython.core.display.Image object>\n\x1b[2K\n"
        "Filter panel\n| a |\n|---|\n| \x1b[1m1\x1b[0m |  \nTarget: 1 s.\n"
    )
    assert run_all.clean_output(raw) == "Filter panel\n\n| a |\n|---|\n| 1 |\n\nTarget: 1 s."
