"""Loader arguments are validated before any request, with messages that say what is allowed."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

import sessionkit as sk
from sessionkit.params import format_time, parse_time, session_filters


def test_filters_map_to_query_parameters() -> None:
    f = session_filters(
        since="2026-11-01T00:00:00Z",
        until=datetime(2026, 11, 8, tzinfo=UTC),
        trigger="cron",
        env="production",
        success=False,
        devmode=True,
        org_id="org_1",
        project_id="proj_1",
        deployment_id="deploy_1",
        thread_id="thrd_1",
        agent="agent_" + "1" * 40,
        metadata={"tier": "gold"},
        sort="duration",
        direction="asc",
        limit=10,
    )
    (query,) = list(f.queries())
    assert query == {
        "sort": "duration",
        "direction": "asc",
        # one second wider on each side; the loaders trim exactly (the server may round)
        "startAfter": "2026-10-31T23:59:59.000000000Z",
        "startBefore": "2026-11-08T00:00:01.000000000Z",
        "env": "production",
        "orgId": "org_1",
        "projectId": "proj_1",
        "deploymentId": "deploy_1",
        "threadId": "thrd_1",
        "agentIdentifier": "agent_" + "1" * 40,
        "success": "false",
        "devmode": "true",
        "metadata": '{"tier":"gold"}',
        "trigger": "cron",
    }
    assert f.limit == 10 and not f.merged


def test_several_triggers_give_one_walk_each() -> None:
    f = session_filters(trigger=["cron", "api", "cron"])
    assert [q["trigger"] for q in f.queries()] == ["cron", "api"] and f.merged


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trigger": "webhook"}, "trigger='webhook' is not allowed; expected one of agent, api"),
        (
            {"sort": "cost"},
            "sort='cost' is not allowed; expected one of created, updated, duration, startTime",
        ),
        ({"direction": "up"}, "direction='up' is not allowed; expected one of asc, desc"),
        ({"since": "2026-11-01T00:00:00"}, "has no time zone"),
        ({"since": datetime(2026, 11, 1)}, "has no time zone"),
        ({"since": "2026-11-08T00:00Z", "until": "2026-11-01T00:00Z"}, "must be after since"),
        ({"metadata": {"k": object()}}, "metadata cannot be sent as JSON"),
        ({"metadata": "tier=gold"}, "metadata must be a dict"),
        ({"limit": 0}, "limit must be a positive integer"),
        ({"success": "yes"}, "success must be True, False or None"),
        ({"since": "last tuesday"}, "is not a time"),
        ({"env": ""}, "env must be a non-empty string"),
    ],
)
def test_invalid_arguments_raise_before_any_request(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(
        sk.InvalidArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        session_filters(**kwargs)  # type: ignore[arg-type]


def test_relative_times_and_formatting() -> None:
    now = pd.Timestamp("2026-11-28T12:00:00Z")
    assert parse_time("7d", "since", now=now) == pd.Timestamp("2026-11-21T12:00:00Z")
    assert parse_time("90m", "since", now=now) == pd.Timestamp("2026-11-28T10:30:00Z")
    assert parse_time(pd.Timestamp("2026-11-28T12:00:00+02:00"), "x") == pd.Timestamp(
        "2026-11-28T10:00:00Z"
    )
    assert (
        format_time(pd.Timestamp("2026-11-28T10:00:00.000000123Z"))
        == "2026-11-28T10:00:00.000000123Z"
    )


def test_loader_validates_before_touching_the_client() -> None:
    class Exploding:
        def __getattr__(self, name: str) -> object:
            raise AssertionError("the client was used")

    with pytest.raises(sk.InvalidArgumentError):
        sk.load_sessions(Exploding(), trigger="nope")  # type: ignore[arg-type]


def test_a_bare_date_is_that_utc_day_and_a_zoneless_time_is_still_refused() -> None:

    assert parse_time("2026-11-01", "since") == pd.Timestamp("2026-11-01T00:00:00Z")
    filters = session_filters(since="2026-11-01", until="2026-11-20")
    assert filters.start == pd.Timestamp("2026-11-01", tz="UTC")
    assert filters.end == pd.Timestamp("2026-11-20", tz="UTC")
    with pytest.raises(sk.InvalidArgumentError, match="has no time zone"):
        parse_time("2026-11-01T10:00", "since")
    with pytest.raises(sk.InvalidArgumentError, match="not a date"):
        parse_time("2026-13-45", "since")


def test_a_datetime_date_is_that_utc_day_too() -> None:
    import datetime as dt

    assert parse_time(dt.date(2026, 11, 1), "since") == pd.Timestamp("2026-11-01T00:00:00Z")
    filters = session_filters(since=dt.date(2026, 11, 1), until=dt.date(2026, 11, 20))
    assert filters.end == pd.Timestamp("2026-11-20", tz="UTC")
    with pytest.raises(sk.InvalidArgumentError, match="has no time zone"):
        parse_time(dt.datetime(2026, 11, 1, 10), "since")  # a naive datetime stays refused


def test_relative_times_count_back_from_the_given_now() -> None:
    now = pd.Timestamp("2026-11-27T12:00Z")
    filters = session_filters(since="7d", now=now)
    assert filters.start == pd.Timestamp("2026-11-20T12:00Z")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("until", "2263-01-01"),
        ("until", "3000-01-01"),
        ("since", "1677-01-01"),
        ("since", "99999999999d"),
        ("since", "200000d"),
        ("since", "0001-01-01T00:00:00Z"),
    ],
)
def test_times_outside_the_frames_range_are_refused_by_name(name: str, value: str) -> None:
    """Found by an outside attacker: these gave an empty frame with a false 'No sessions
    match' warning, or a raw pandas OutOfBounds error."""
    with pytest.raises(sk.InvalidArgumentError, match=f"{name}=.*outside the times"):
        session_filters(**{name: value})


def test_a_bound_at_the_edge_of_the_range_is_kept_and_not_widened_past_it() -> None:
    edge = "1677-09-21T00:12:43.145225Z"
    filters = session_filters(since=edge)
    assert filters.start == pd.Timestamp(edge) and "startAfter" not in filters.params
