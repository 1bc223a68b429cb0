"""Every subcommand's parser: ``--help`` exits 0 listing its options; an unknown option is
one line on stderr and exit 2 (through ``sessionkit`` and ``python -m sessionkit.emulator``)."""

from __future__ import annotations

import argparse

import pytest

from sessionkit.cli import COMMANDS, build_parser, emulator, main, run_standalone

#: Options each subcommand must keep (the README and tests drive them).
EXPECTED = {
    "check": {"--since", "--until", "--trigger", "--env", "--agent", "--fail-on",
              "--min-evidence", "--details", "--store", "--demo", "--success", "--no-success",
              "--devmode", "--thread-id", "--deployment-id", "--metadata"},
    "demo": {"--out", "--csv"},
    "emulator": {"--port", "--sessions", "--seed", "--agent-names", "--key", "--live",
                 "--latency", "--fault-rate", "--rate-429", "--page-cap", "--multi-region",
                 "--json-ready"},
    "report": {"--since", "--until", "--trigger", "--env", "--agent", "--out", "--format",
               "--csv", "--details", "--demo", "--success", "--no-success", "--devmode",
               "--thread-id", "--deployment-id", "--metadata", "--min-evidence", "--store"},
    "store": set(),  # its options are its action's: sessionkit store check --store --repair
    "sync": {"--store", "--since", "--until", "--details", "--logs", "--trigger", "--env",
             "--success", "--no-success", "--devmode", "--agent", "--demo", "--no-progress",
             "--thread-id", "--deployment-id", "--metadata"},
}  # fmt: skip


def _exit_status(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert isinstance(info.value.code, int)
    return info.value.code


def _visible_options(name: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        option
        for action in sub.choices[name]._actions
        if action.help != argparse.SUPPRESS
        for option in action.option_strings
    }


def test_every_command_is_listed() -> None:
    assert [c.name for c in COMMANDS] == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_help_exits_0_and_lists_every_option(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_status([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: sessionkit {name} ")
    assert EXPECTED[name] <= _visible_options(name)
    for option in _visible_options(name):
        assert option in out, f"sessionkit {name} --help does not list {option}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_unknown_option_is_one_line_and_exit_2(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_status([name, "--no-such-option"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"sessionkit {name}: unrecognized arguments: --no-such-option; see sessionkit {name} --help"
    ]


def test_a_bad_value_is_one_line_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_status(["report", "--details", "-5"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "sessionkit report: argument --details: must be >= 0, not -5; see sessionkit report --help"
    ]


def test_an_unknown_command_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_status(["nosuch"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("sessionkit: argument command: invalid choice")


def test_the_standalone_emulator_parser_is_the_subcommands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        run_standalone(emulator.COMMAND, ["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: sessionkit emulator ")
    assert all(option in out for option in _visible_options("emulator"))
    with pytest.raises(SystemExit) as info:
        run_standalone(emulator.COMMAND, ["--port", "eighty"])
    assert info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("sessionkit emulator: argument --port: ")
