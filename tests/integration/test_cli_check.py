"""``sessionkit check`` over HTTP against the emulator: exit 1 and the findings on the demo, exit
0 on a project without incidents, 2 on bad usage or nothing to check, 3 when it cannot check."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from sessionkit.cli import main
from sessionkit.emulator import Emulator, generate
from tests.conftest import CANARY_KEY
from tests.servers import http_server, send_json


@pytest.fixture
def quiet_project() -> Iterator[Emulator]:
    """A project of two thousand sessions with deployments, rhythm and decoys, no incident."""
    with Emulator(generate(2000, seed=21, days=30, incidents="none"), key=CANARY_KEY) as emu:
        yield emu


def _point_at(monkeypatch: pytest.MonkeyPatch, emu: Emulator) -> None:
    for name in list(os.environ):
        if name.startswith(("AGENTUITY_", "SESSIONKIT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AGENTUITY_SDK_KEY", emu.key)
    monkeypatch.setenv("AGENTUITY_CATALYST_URL", emu.catalyst_url)
    monkeypatch.setenv("AGENTUITY_API_URL", emu.api_url)


def _check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        status = main(["check", *argv])
    except SystemExit as exc:  # argparse's usage errors
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def test_the_demo_fails_the_check_with_its_findings(
    demo_emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _point_at(monkeypatch, demo_emu)
    status, out, err = _check([], capsys)
    assert status == 1, err
    assert out.startswith("## sessionkit check: 5 finding(s), 5 failing (q <= 0.001)")
    for kind in ("failure", "latency", "cost", "eval", "new_error_family"):
        assert f"**{kind}** (fails the check)" in out
    assert "calls to orders.example-shop.com" in out and "deploy_d13a9a851785c21f18be3021" in out
    assert "&lt;num>" in out and "p < 1e-9" in out  # templates are text; comparisons stay
    assert out.count("   examples: `sess_") == 5
    assert CANARY_KEY not in out + err


def test_only_the_selected_kinds_fail_the_check(
    demo_emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _point_at(monkeypatch, demo_emu)
    # without details no call or eval is checked: no latency finding, the others are printed
    status, out, _err = _check(["--details", "0", "--fail-on", "latency,eval"], capsys)
    assert status == 0 and "0 failing" in out and "**cost**:" in out
    status, out, _err = _check(["--details", "0", "--fail-on", "cost"], capsys)
    assert status == 1 and "**cost** (fails the check)" in out
    # before the first incident nothing changed
    status, out, _err = _check(["--details", "0", "--until", "2026-11-08"], capsys)
    assert status == 0 and "No finding above the threshold." in out


def test_a_project_without_incidents_passes(
    quiet_project: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _point_at(monkeypatch, quiet_project)
    status, out, err = _check(["--details", "600"], capsys)
    assert status == 0, out + err
    assert out.startswith("## sessionkit check: 0 finding(s), 0 failing")
    assert "No finding above the threshold." in out and "with details" in out


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--fail-on", "bogus"], "unknown kind 'bogus'; choose from failure, latency"),
        (["--min-evidence", "-1"], "--min-evidence"),
        (["--since", "yesterday"], "--since"),
        (["--details", "-3"], "--details"),
    ],
)
def test_bad_usage_exits_2_before_any_request(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTUITY_SDK_KEY", "sk_never_used")
    monkeypatch.setenv("AGENTUITY_CATALYST_URL", "http://127.0.0.1:9")  # nothing listens
    status, out, err = _check(argv, capsys)
    assert status == 2 and said in err and out == ""


def test_nothing_to_check_exits_2(
    demo_emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _point_at(monkeypatch, demo_emu)
    status, out, err = _check(["--until", "2026-01-01"], capsys)
    assert status == 2 and "nothing to check" in err and out == ""


def test_a_check_that_cannot_run_exits_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An API answering 401: not a finding (1), not bad usage (2): the check could not run."""
    with http_server(lambda h: send_json(h, 401, {"success": False, "message": "bad key"})) as url:
        for name in list(os.environ):
            if name.startswith(("AGENTUITY_", "SESSIONKIT_")):
                monkeypatch.delenv(name)
        monkeypatch.setenv("AGENTUITY_SDK_KEY", CANARY_KEY)
        monkeypatch.setenv("AGENTUITY_CATALYST_URL", url)
        monkeypatch.setenv("AGENTUITY_API_URL", url)
        status, out, err = _check([], capsys)
    assert status == 3 and out == ""
    assert err.startswith("sessionkit check: ") and CANARY_KEY not in err
