"""The commands' filter options come from ``params.FILTERS`` (``cli/_filters.py``): every
filter a sync scope may hold is an option of ``sessionkit sync`` and ``sessionkit report``,
read back as the loaders' keywords, checked before any request (exit 2 naming the option), and
a filter added to the table gets its option without a CLI edit."""

from __future__ import annotations

import argparse

import pytest

from sessionkit.cli import report, sync
from sessionkit.cli._common import CommandError
from sessionkit.cli._filters import add_filter_options, filter_values, json_object, option_of
from sessionkit.params import FILTERS, SCOPE_NAMES, Filter


def _parser(command: object) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(exit_on_error=False)
    command.configure(p)  # type: ignore[attr-defined]
    return p


@pytest.mark.parametrize("command", [sync, report], ids=["sync", "report"])
def test_every_scope_filter_is_an_option_of_the_command(command: object) -> None:
    p = _parser(command)
    options = {o for a in p._actions for o in a.option_strings}
    for name in SCOPE_NAMES:
        assert option_of(name) in options, name
    # the walk's own filters are not data filters: a sync scope cannot hold them
    for f in FILTERS:
        if not f.scope:
            assert option_of(f.name) not in options, f.name


@pytest.mark.parametrize("command", [sync, report], ids=["sync", "report"])
def test_options_read_back_as_the_loaders_keywords(command: object) -> None:
    args = _parser(command).parse_args(
        [
            "--since", "2026-11-01", "--until", "2026-11-20T00:00Z",
            "--trigger", "cron", "--trigger", "api", "--env", "production",
            "--no-success", "--no-devmode", "--org-id", "org_1", "--project-id", "proj_1",
            "--deployment-id", "deploy_1", "--thread-id", "thrd_1", "--agent", "support",
            "--metadata", '{"plan": "pro", "tier": 2}',
        ]
    )  # fmt: skip
    assert filter_values(args) == {
        "since": "2026-11-01",
        "until": "2026-11-20T00:00Z",
        "trigger": ["cron", "api"],
        "env": "production",
        "success": False,
        "devmode": False,
        "org_id": "org_1",
        "project_id": "proj_1",
        "deployment_id": "deploy_1",
        "thread_id": "thrd_1",
        "agent": "support",
        "metadata": {"plan": "pro", "tier": 2},
    }
    assert filter_values(_parser(command).parse_args(["--success", "--devmode"])) == {
        "success": True,
        "devmode": True,
    }
    assert filter_values(_parser(command).parse_args([])) == {}


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--trigger", "carrier-pigeon"], "--trigger"),
        (["--since", "yesterday"], "--since"),
        (["--since", "2026-11-20", "--until", "2026-11-01"], "until"),
    ],
)
def test_a_refused_value_is_a_usage_error_naming_the_option(argv: list[str], named: str) -> None:
    args = _parser(report).parse_args(argv)
    with pytest.raises(CommandError) as info:
        filter_values(args)
    assert info.value.status == 2 and named in str(info.value)


@pytest.mark.parametrize("text", ["[1, 2]", "{}", "not json", '"plan"'])
def test_metadata_must_be_a_json_object(text: str) -> None:
    with pytest.raises(argparse.ArgumentError, match="JSON"):
        _parser(sync).parse_args(["--metadata", text])


def test_success_and_failed_exclude_each_other() -> None:
    with pytest.raises(argparse.ArgumentError, match="not allowed with"):
        _parser(sync).parse_args(["--success", "--no-success"])


def test_a_filter_added_to_the_table_gets_its_option_without_a_cli_edit() -> None:
    table = (
        *FILTERS,
        Filter("region", "text", "region", "only this region"),
        Filter("cached", "flag", "cached", "only cached runs", help_false="only uncached runs"),
    )
    p = argparse.ArgumentParser()
    add_filter_options(p, names=(*SCOPE_NAMES, "region", "cached"), filters=table)
    args = p.parse_args(["--region", "usw", "--no-cached"])
    assert (args.region, args.cached) == ("usw", False)
    helps = {o: a.help for a in p._actions for o in a.option_strings}
    assert helps["--region"] == "only this region" and helps["--no-cached"] == "only uncached runs"


def test_a_deeply_nested_metadata_option_is_a_usage_error_not_a_traceback() -> None:
    """--metadata with 40,000 nested lists raised RecursionError from json.loads (a traceback,
    exit 1); it is read iteratively and refused by name (exit 2)."""
    deep = '{"a":' + "[" * 40_000 + "]" * 40_000 + "}"
    assert isinstance(json_object(deep), dict)
    parser = argparse.ArgumentParser()
    add_filter_options(parser)
    with pytest.raises(CommandError, match="--metadata") as info:
        filter_values(parser.parse_args(["--metadata", deep]))
    assert info.value.status == 2
    with pytest.raises(argparse.ArgumentTypeError, match=r"not JSON: '\{\"a\": \[\[\[.*\.\.\.'"):
        json_object('{"a": ' + "[" * 100 + "x")


def test_server_text_reaches_the_terminal_without_its_control_characters() -> None:
    from sessionkit.cli._common import one_line

    hostile = "bad \x1b[2J\x1b]52;c;aGk=\x07 done\r\nnext\x9b line\x00"
    shown = one_line(hostile)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in shown)
    assert shown == "bad \\x1b[2J\\x1b]52;c;aGk=\\x07 done. next\\x9b line\\x00"
