"""sessionkit.cli._common: the one convention every subcommand shares."""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from sessionkit.cli._common import (
    Command,
    CommandError,
    duration,
    matching,
    nonempty,
    nonnegative_int,
    one_line,
    os_failure,
    rate,
    require_writable_dir,
    require_writable_file,
    run_command,
    unwritable_dir,
    unwritable_file,
)
from sessionkit.errors import SessionKitError, SessionKitWarning


def _command(run: Callable[[argparse.Namespace], int]) -> Command:
    return Command("try", "help", "description", "nothing was kept", lambda p: None, run)


def _run(run: Callable[[argparse.Namespace], int], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:  # fmt: skip
    status = run_command(_command(run), argparse.Namespace())
    return status, capsys.readouterr().err.splitlines()


def _raise(exc: BaseException) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        raise exc

    return run


def test_one_line_makes_lines_sentences() -> None:
    assert one_line("first line\n  second   line\n\nlast.") == "first line. second line. last."
    assert one_line("ends: \nnext") == "ends: next"


@pytest.mark.parametrize(
    ("exc", "status", "line"),
    [
        (CommandError("bad --out", status=2), 2, "sessionkit try: bad --out"),
        (CommandError("locked", status=3), 3, "sessionkit try: locked"),
        (SessionKitError("the server said\nno"), 1, "sessionkit try: the server said. no"),
        (FileNotFoundError(2, "No such file or directory", "/x/y"), 1,
         "sessionkit try: No such file or directory (/x/y)"),
        (KeyboardInterrupt(), 130, "sessionkit try: interrupted; nothing was kept"),
    ],
)  # fmt: skip
def test_every_failure_is_one_line_and_its_status(
    exc: BaseException, status: int, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(_raise(exc), capsys) == (status, [line])


def test_an_unexpected_error_is_not_swallowed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ZeroDivisionError):
        _run(_raise(ZeroDivisionError()), capsys)


def test_os_failure_names_what_was_being_done() -> None:
    exc = PermissionError(13, "Permission denied", "/r/t.csv")
    assert str(os_failure(exc, "cannot write report to r.html")) == (
        "cannot write report to r.html: Permission denied (/r/t.csv)"
    )
    assert str(os_failure(OSError(28, "No space left on device"))) == "No space left on device"


def test_sessionkit_warnings_are_one_line_said_once(capsys: pytest.CaptureFixture[str]) -> None:
    def run(args: argparse.Namespace) -> int:
        for _ in range(3):
            warnings.warn("the window is\n   partly covered", SessionKitWarning, stacklevel=1)
        return 0

    with warnings.catch_warnings():
        warnings.simplefilter("always", SessionKitWarning)
        assert _run(run, capsys) == (0, ["sessionkit try: warning: the window is partly covered"])


def _warns_then(result: list[int], *messages: str) -> Callable[[], list[int]]:
    def load() -> list[int]:
        for message in messages:
            warnings.warn(message, SessionKitWarning, stacklevel=1)
        return result

    return load


def test_matching_nothing_is_status_2_with_the_no_match_reason() -> None:
    load = _warns_then([], "The time window is only partly covered.", "No sessions match env='x'.")
    with pytest.raises(CommandError) as info:
        matching("report", load, is_empty=lambda r: not r, fallback="nothing here.")
    assert info.value.status == 2
    assert str(info.value) == "nothing to report — No sessions match env='x'."


def test_matching_nothing_without_a_reason_uses_the_fallback_or_succeeds() -> None:
    with pytest.raises(CommandError, match=r"^nothing to report — nothing here\.$"):
        matching("report", _warns_then([]), is_empty=lambda r: not r, fallback="nothing here.")
    assert matching("sync", _warns_then([]), is_empty=lambda r: not r) == []


def test_matching_something_replays_the_held_warnings() -> None:
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always", SessionKitWarning)
        got = matching("sync", _warns_then([1], "a", "b"), is_empty=lambda r: not r)
    assert got == [1]
    assert [str(w.message) for w in shown] == ["a", "b"]


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [(nonnegative_int, "0", 0), (duration, "50ms", 0.05), (duration, "2", 2.0),
     (duration, "0.5s", 0.5), (rate, "1", 1.0), (nonempty, " a", " a")],
)  # fmt: skip
def test_argparse_types_accept(parse: Callable[[str], object], text: str, value: object) -> None:
    assert parse(text) == value


@pytest.mark.parametrize(
    ("parse", "text"),
    [(nonnegative_int, "-1"), (nonnegative_int, "x"), (duration, "5m"), (duration, "inf"),
     (rate, "1.5"), (rate, "nan"), (nonempty, "  ")],
)  # fmt: skip
def test_argparse_types_refuse(parse: Callable[[str], object], text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse(text)


def test_writable_checks(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert unwritable_file(tmp_path / "new" / "deeper" / "r.html") is None
    assert unwritable_file(tmp_path) == "it is a directory"
    assert (
        unwritable_file(tmp_path / "file" / "r.html") == f"{tmp_path / 'file'} is not a directory"
    )
    assert unwritable_dir(tmp_path / "new" / "store") is None
    assert unwritable_dir(tmp_path / "file") == "it is a file"
    require_writable_file(tmp_path / "r.html", "cannot write report to r.html", "--out")
    with pytest.raises(CommandError) as info:
        require_writable_dir(tmp_path / "file", "cannot create store at f", "--store")
    assert str(info.value) == "cannot create store at f: it is a file; choose another --store"
    assert info.value.status == 1
