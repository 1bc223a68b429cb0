"""Bad command-line input: a one-line error on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sessionkit.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    """The environment of a CLI subprocess: this source tree, no Agentuity key (embedded demo)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTUITY_", "SESSIONKIT_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "sessionkit", *argv]


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("AGENTUITY_", "SESSIONKIT_")):
            monkeypatch.delenv(name)


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 2) -> str:
    """Run ``main(argv)``; assert it exits with ``code`` and a traceback-free stderr."""
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert status == code, err
    assert "Traceback" not in err
    return err


# 1. --details must be >= 0


def test_report_negative_details_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(["report", "--details", "-5"], capsys)
    assert "--details" in err and ">= 0" in err


@pytest.mark.parametrize("value", ["-5", "x"])
def test_bad_integer_options(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(["emulator", "--sessions", value], capsys)
    assert "--sessions" in err


# 2. a store that cannot be created


def test_sync_store_that_cannot_be_created(capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(["sync", "--store", "/dev/null/x", "--no-progress"], capsys, code=1)
    assert "cannot create store at /dev/null/x:" in err
    assert len(err.strip().splitlines()) == 1


def test_sync_store_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("x")
    err = _fails(["sync", "--store", str(tmp_path / "f"), "--no-progress"], capsys, code=1)
    assert f"cannot create store at {tmp_path / 'f'}:" in err


# 3. Ctrl-C


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sync", "--no-progress", "--details", "all"], "run sync again to resume"),
        (["report"], "interrupted"),
    ],
)
def test_ctrl_c_prints_one_line_and_exits_130(
    argv: list[str], expected: str, tmp_path: Path
) -> None:
    extra = ["--store", str(tmp_path / "store")] if argv[0] == "sync" else []
    extra += ["--out", str(tmp_path / "r.html")] if argv[0] == "report" else []
    proc = subprocess.Popen(
        _cli(*argv, *extra),
        env=_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the "using the bundled emulator" notice: loading has begun
    assert "bundled emulator" in first, first
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert "Traceback" not in err, err
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"sessionkit {argv[0]}: interrupted") and expected in lines[0]


# 4. empty filters


@pytest.mark.parametrize("command", ["report", "sync"])
@pytest.mark.parametrize("option", ["--agent", "--trigger", "--env", "--since", "--until"])
def test_empty_filter_is_a_usage_error(
    command: str, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _fails([command, f"{option}="], capsys)
    assert option in err and "empty" in err


# 5. emulator ports


@pytest.mark.parametrize("port", ["99999", "-1", "65535", "eighty"])
def test_emulator_port_out_of_range(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(["emulator", "--port", port], capsys)
    assert "--port" in err and ("65535" in err or "not a port" in err)


def test_emulator_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            _cli("emulator", "--port", str(port)),
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sessionkit emulator: cannot listen on port")


@pytest.mark.parametrize(
    "argv",
    [
        ["emulator", "--fault-rate", "5"],
        ["emulator", "--rate-429", "-0.5"],
        ["emulator", "--live", "-1"],
        ["emulator", "--page-cap", "0"],
    ],
)
def test_emulator_bad_numbers(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(argv, capsys)
    assert argv[1] in err


# 6. every option has help text, and shows its default


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _option_help(text: str) -> dict[str, str]:
    """``{"--port PORT": "help text", ...}`` from a ``--help`` output."""
    blocks: dict[str, str] = {}
    current = None
    for line in text.split("options:", 1)[1].splitlines():
        if line.startswith("  -"):
            invocation, _, help_text = line.strip().partition("  ")
            current = invocation
            blocks[current] = help_text.strip()
        elif current and line.startswith("   "):
            blocks[current] = (blocks[current] + " " + line.strip()).strip()
        else:
            current = None
    return blocks


@pytest.mark.parametrize("command", ["report", "sync", "demo", "emulator"])
def test_every_option_has_help_and_shows_its_default(command: str) -> None:
    parser = _subparsers()[command]
    blocks = _option_help(parser.format_help())
    assert blocks
    for invocation, help_text in blocks.items():
        assert help_text, f"sessionkit {command} {invocation} has no help text"
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or not action.option_strings or action.nargs == 0:
            continue  # flags (store_true and the like) need not show their default
        if action.default not in (None, False, argparse.SUPPRESS):
            assert action.help and "default" in parser._get_formatter()._expand_help(action), (
                f"sessionkit {command} {action.option_strings[0]} does not show its default"
            )


def test_help_output_runs(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("report", "sync", "demo", "emulator"):
        _fails([command, "--help"], capsys, code=0)


# 7. other odd arguments


def test_report_format_bogus(capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(["report", "--format", "pdf"], capsys)
    assert "--format" in err and "html" in err


@pytest.mark.parametrize("where", ["FILE/r.html", "/dev/null/r.html", "DIR"])
def test_report_out_unwritable(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "FILE").write_text("x")
    out = str(tmp_path) if where == "DIR" else where.replace("FILE", str(tmp_path / "FILE"))
    err = _fails(["report", "--out", out], capsys, code=1)
    assert re.search(r"cannot write (the )?report to ", err), err
    assert len(err.strip().splitlines()) == 1


def test_report_csv_unwritable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(
        ["report", "--out", str(tmp_path / "r.html"), "--csv", "/dev/null/csv"], capsys, code=1
    )
    assert "cannot write CSV tables to /dev/null/csv" in err


def test_demo_out_unwritable(capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(["demo", "--out", "/dev/null/r.html"], capsys, code=1)
    assert "cannot write report to /dev/null/r.html" in err


def test_python_m_sessionkit_is_the_command() -> None:
    done = subprocess.run(_cli("--version"), env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("sessionkit "), done.stderr
    assert done.stderr == ""


def test_sync_with_its_progress_bar_prints_the_summary_once(tmp_path: Path) -> None:
    done = subprocess.run(
        _cli("sync", "--demo", "--store", str(tmp_path / "s"), "--details", "none"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    summaries = [line for line in done.stdout.splitlines() if re.search(r"\d new", line)]
    assert len(summaries) == 1, done.stdout
    assert "3,000 new" in summaries[0] and "0 unchanged" in summaries[0]


def test_a_port_in_use_leaves_no_socket_of_the_emulator_open() -> None:
    from sessionkit.emulator import Emulator

    for _ in range(20):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base > 65000:
            continue
        with socket.socket() as taken:
            try:
                taken.bind(("127.0.0.1", base + 2))  # the third region's port
            except OSError:
                continue
            taken.listen()
            emu = Emulator(sessions=5)
            with pytest.raises(OSError):
                emu.start(base)
            for port in (base, base + 1):  # bound by start() before it failed: closed again
                with socket.socket() as again:
                    again.bind(("127.0.0.1", port))
            emu.stop()  # returns at once: nothing is serving
        return
    pytest.skip("no free run of ports found")


def test_sync_of_a_filter_matching_nothing_says_so_and_fails(tmp_path: Path) -> None:
    done = subprocess.run(
        _cli("sync", "--demo", "--env", "prod", "--store", str(tmp_path / "s"), "--no-progress"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("sessionkit: no")]
    assert len(lines) == 1 and lines[0].startswith("sessionkit sync: nothing to sync — ")
    assert "env='prod'" in lines[0] and "'production'" in lines[0]
    assert "Traceback" not in done.stderr and "sync:" not in done.stdout


def test_a_warning_is_one_line_said_once_without_source_code(tmp_path: Path) -> None:
    done = subprocess.run(
        _cli("report", "--demo", "--since", "40d", "--details", "0", "--out",
             str(tmp_path / "r.html")),
        env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "sessionkit report: warning: The time window is only partly covered by the data: it "
        "starts at 2026-10-18 12:00:00 UTC but the project's first session started at "
        "2026-10-28 12:04:09 UTC."
    ]


def test_a_rejected_key_is_said_so_in_sentences(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessionkit.emulator import Emulator

    with Emulator(sessions=20) as emu:
        monkeypatch.setenv("AGENTUITY_CATALYST_URL", emu.catalyst_url)
        monkeypatch.setenv("AGENTUITY_API_URL", emu.api_url)
        monkeypatch.setenv("AGENTUITY_SDK_KEY", "wrong")
        err = _fails(["report", "--out", "/tmp/never-written.html"], capsys, code=1)
    line = err.strip()
    assert "\n" not in line and "rejected the key" in line
    assert "set the environment variable" not in line  # it was set: it was wrong
    assert "]. The server rejected the key" in line  # lines joined as sentences


@pytest.mark.parametrize(
    "argv",
    [["report", "--out="], ["report", "--csv="], ["sync", "--store="], ["demo", "--out="]],
)
def test_an_empty_path_is_a_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by an outside attacker: --out "" wrote ./report.html, --store "" built a store in
    the current directory, both exit 0."""
    err = _fails(argv, capsys)
    assert argv[1].rstrip("=") in err and "empty" in err


@pytest.mark.parametrize("command", ["report", "sync"])
def test_relative_times_count_back_from_the_demos_now(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--since 7d on the demo is 7 days before the demo's now (2026-11-27 12:00), as in
    Python: a window ending on 2026-11-22 is valid (it was refused against the wall clock),
    and one ending before it starts is refused by name with status 2."""
    where = (
        ["--out", str(tmp_path / "r.html")]
        if command == "report"
        else ["--store", str(tmp_path / "s")]
    )
    quiet = [] if command == "report" else ["--no-progress"]
    assert main([command, "--demo", "--since", "7d", "--until", "2026-11-22", *where, *quiet]) == 0
    capsys.readouterr()
    assert main([command, "--demo", "--since", "2026-11-25", "--until", "7d", *where, *quiet]) == 2
    err = capsys.readouterr().err
    assert "until (2026-11-20 12:00:00+00:00) must be after since (2026-11-25" in err


@pytest.mark.parametrize("command", ["report", "sync"])
def test_an_unknown_agent_is_a_refused_value_with_status_2(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = (
        ["--out", str(tmp_path / "r.html")]
        if command == "report"
        else ["--store", str(tmp_path / "s")]
    )
    assert main([command, "--demo", "--agent", "nobody-at-all", *where]) == 2
    err = capsys.readouterr().err
    assert "nobody-at-all" in err and "support-triage" in err  # names the agents that exist


@pytest.mark.parametrize("url", ["s3://bucket/x", "gs://b/p", "file:///tmp/x"])
def test_a_store_url_is_refused_not_made_a_local_folder(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["sync", "--demo", "--store", url, "--no-progress"]) == 2
    assert "is a URL" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    from sessionkit.errors import InvalidArgumentError
    from sessionkit.store import Store

    with pytest.raises(InvalidArgumentError, match="is a URL"):
        Store(url)
