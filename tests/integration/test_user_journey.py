"""The README walked as a new user would: exactly what it says, in fresh processes, reading what
a person reads (stdout, stderr, exit codes, the report's text).

Each step runs the installed ``sessionkit`` command or a ``python -c`` of code copied from the
README, with no Agentuity/sessionkit variable in the environment, so nothing the test process
set up can help it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import emulator_cli, parse_exports

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SESSIONKIT = str(Path(sys.executable).parent / "sessionkit")
# pandas' raw repr of a duration / a timestamp with nanoseconds: never what a person should read
RAW_DURATION = re.compile(r"\d+ days \d\d:\d\d:\d\d")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTUITY_", "SESSIONKIT_"))}
    env.update(MPLBACKEND="Agg", PYTHONUNBUFFERED="1", **extra)
    return env


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=_clean_env(**env), capture_output=True, text=True, timeout=600
    )


def _python_block(after_heading: str) -> str:
    """The first ```python block after a README heading, as written."""
    section = README.split(after_heading, 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block after {after_heading!r}"
    return match.group(1)


def test_readme_first_cell_runs_as_written_and_counts_no_pending_session_as_failed(
    tmp_path: Path,
) -> None:
    cell = _python_block("## The first cell")
    probe = (
        cell
        + "\nimport json"
        + "\nprint(json.dumps({'sessions': len(sessions), 'failed': len(failed),"
        + " 'pending_in_failed': int(failed['pending'].fillna(True).sum()),"
        + " 'all_failed': bool(failed['success'].eq(False).all()),"
        + " 'spans': len(spans), 'logs': len(logs), 'detail': repr(detail)}))"
    )
    done = _run([sys.executable, "-c", probe], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    # the connect line says where relative times count from
    assert "bundled emulator" in lines[0] and "count back from the demo's now" in lines[0]
    import json

    got = json.loads(lines[-1])
    assert got["sessions"] > 100, "since='7d' on the frozen demo data must find its last week"
    assert got["failed"] > 0 and got["pending_in_failed"] == 0 and got["all_failed"]
    assert got["spans"] > 0 and got["logs"] > 0
    assert "status='failed'" in got["detail"] and not RAW_DURATION.search(got["detail"])
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr


def test_sessionkit_demo_prints_human_units_and_writes_the_report(tmp_path: Path) -> None:
    done = _run([SESSIONKIT, "demo", "--out", "r/demo.html", "--csv"], tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Loaded 3,000 sessions" in out and "failure rate" in out
    assert not RAW_DURATION.search(out), out
    assert (tmp_path / "r" / "demo.html").stat().st_size > 10_000
    assert "Tables as CSV:" in out and any((tmp_path / "r" / "demo").glob("*.csv"))


def test_report_with_bare_dates_is_accepted_as_utc_days(tmp_path: Path) -> None:
    done = _run(
        [SESSIONKIT, "report", "--demo", "--since", "2026-11-01", "--until", "2026-11-20",
         "--details", "30"],
        tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "report.html").read_text()
    assert "2026-11-01" in text and "2026-11-19" in text
    assert "2026-11-20 0" not in text.split("</h1>", 1)[-1].split("Failure families", 1)[0]


def test_report_markdown_without_out_writes_report_md(tmp_path: Path) -> None:
    done = _run(
        [SESSIONKIT, "report", "--demo", "--format", "markdown", "--details", "20"], tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "report.md").read_text().startswith("#")
    assert not (tmp_path / "report.html").exists()


def test_report_on_no_session_says_so_in_one_line_and_fails(tmp_path: Path) -> None:
    done = _run([SESSIONKIT, "report", "--demo", "--env", "prod"], tmp_path)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "nothing to report" in lines[0] and "'production'" in lines[0]
    assert "warnings.warn" not in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "report.html").exists()


def test_cli_version_and_sync_details_validation(tmp_path: Path) -> None:
    version = _run([SESSIONKIT, "--version"], tmp_path)
    assert version.returncode == 0 and re.fullmatch(
        r"sessionkit \d+\.\d+\.\d+\S*\n", version.stdout
    )
    bad = _run([SESSIONKIT, "sync", "--demo", "--details", "fialed", "--store", "s"], tmp_path)
    assert bad.returncode == 2 and "--details takes all, failed, none" in bad.stderr
    assert not (tmp_path / "s").exists()
    helptext = " ".join(_run([SESSIONKIT, "report", "--help"], tmp_path).stdout.split())
    assert "default: 300" in helptext and "bare date" in helptext and "name" in helptext


@contextmanager
def _emulator(*args: str) -> Iterator[list[str]]:
    """``sessionkit emulator`` as the README shows it; its printed lines up to "Ctrl-C"."""
    argv = [SESSIONKIT, "emulator", "--port", "0", "--sessions", "300", *args]
    with emulator_cli(argv, env=_clean_env()) as lines:
        yield lines


_exports = parse_exports


@pytest.mark.parametrize("mode", [(), ("--multi-region",)], ids=["default", "multi-region"])
def test_the_emulators_printed_recipe_drives_report_and_load_details(
    tmp_path: Path, mode: tuple[str, ...]
) -> None:
    with _emulator(*mode) as lines:
        exports = _exports(lines)
        assert {"AGENTUITY_CATALYST_URL", "AGENTUITY_API_URL", "AGENTUITY_SDK_KEY"} <= set(exports)
        report = _run([SESSIONKIT, "report", "--details", "40"], tmp_path, **exports)
        assert report.returncode == 0, report.stderr
        assert "Report written to" in report.stdout
        details = _run(
            [
                sys.executable,
                "-c",
                "import sessionkit as sk\n"
                "s = sk.load_sessions(limit=40, progress=False)\n"
                "d = sk.load_details(s, progress=False)\n"
                "print(len(s), len(d.spans) > 0, d.sessions['id'].tolist() == s['id'].tolist())",
            ],
            tmp_path,
            **exports,
        )
        assert details.returncode == 0, details.stderr
        assert details.stdout.split() == ["40", "True", "True"]


def test_a_421_from_a_loopback_base_is_never_followed_to_a_public_host(tmp_path: Path) -> None:
    """Multi-region emulator, but only the first export line (no region URLs): the error says
    how to configure them, and no request leaves loopback."""
    with _emulator("--multi-region") as lines:
        exports = _exports(lines)
        exports.pop("SESSIONKIT_REGION_URLS")
        done = _run(
            [
                sys.executable,
                "-c",
                "import sessionkit as sk\n"
                "s = sk.load_sessions(agent_names=False, progress=False)\n"
                "sk.load_details(s, progress=False)\n",
            ],
            tmp_path,
            **exports,
        )
    assert done.returncode != 0
    assert "WrongRegionError" in done.stderr  # not a connection error from a public host
    assert "SESSIONKIT_REGION_URLS" in done.stderr
    assert "the public region host is not tried" in done.stderr


def test_import_is_lean_and_the_sub_packages_are_one_attribute_away(tmp_path: Path) -> None:
    code = (
        "import sys, sessionkit as sk\n"
        "print('matplotlib' in sys.modules, 'ipywidgets' in sys.modules)\n"
        "print(sk.plot.__name__, sk.analysis.__name__, sk.report.__name__, sk.widgets.__name__)\n"
        "print(sorted(n for n in dir(sk) if n in ('config', 'client', 'loaders', 'importlib')))\n"
    )
    done = _run([sys.executable, "-c", code], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "False False",
        "sessionkit.plot sessionkit.analysis sessionkit.report sessionkit.widgets",
        "[]",
    ]


def test_no_unclosed_socket_at_exit_and_ids_are_stripped(tmp_path: Path) -> None:
    code = (
        "import sessionkit as sk\n"
        "s = sk.load_sessions(limit=5, progress=False)\n"
        "d = sk.load_session('  ' + s['id'][0] + '\\n', logs=False)\n"
        "print(d.id == s['id'][0])\n"
        "try:\n"
        "    sk.load_spans(['sess_x/../admin'])\n"
        "except sk.InvalidArgumentError as e:\n"
        "    print('refused', 'nothing was requested' in str(e))\n"
    )
    done = _run(
        [sys.executable, "-X", "dev", "-W", "always::ResourceWarning", "-c", code], tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["True", "refused True"]
    assert "ResourceWarning" not in done.stderr, done.stderr
