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


# --------------------------------------------------------------------------- the filter model

import typing  # noqa: E402

from sessionkit import params as P  # noqa: E402
from sessionkit.errors import InvalidArgumentError  # noqa: E402


def test_the_filter_table_and_the_keyword_types_list_the_same_filters() -> None:
    assert set(P.FilterArgs.__annotations__) == set(P.FILTER_NAMES)
    assert set(P.ScopeArgs.__annotations__) == set(P.SCOPE_NAMES) - {"since"}
    assert set(P.SCOPE_NAMES) == set(P.FILTER_NAMES) - {"sort", "direction", "limit"}
    # every API-side filter renders to its own query parameter
    queries = [f.query for f in P.FILTERS if f.query is not None]
    assert len(queries) == len(set(queries))


def test_loaders_keyword_types_reach_an_editor() -> None:
    names = {"Store": sk.Store, "Client": sk.Client}
    hints = typing.get_type_hints(sk.load_sessions, None, names, include_extras=True)
    assert hints["filters"] == typing.Unpack[P.FilterArgs]


def test_values_are_parsed_once_into_types_not_query_strings() -> None:
    f = P.session_filters(
        since="2026-11-01",
        success=False,
        devmode=True,
        env="production",
        trigger=["api", "cron", "api"],
        metadata={"customer": "acme", "tier": 2},
        agent="support-triage",
        sort="start_time",
        limit=5,
    )
    assert f.start == pd.Timestamp("2026-11-01", tz="UTC")
    assert f.equal == {"env": "production", "success": False, "devmode": True}
    assert f.triggers == ("api", "cron")
    assert f.metadata == {"customer": "acme", "tier": 2}
    assert (f.agent, f.sort, f.limit) == ("support-triage", "startTime", 5)
    # rendered to the API's query parameters from the same table
    p = f.params
    assert (p["success"], p["devmode"], p["env"]) == ("false", "true", "production")
    assert p["agentIdentifier"] == "support-triage" and p["sort"] == "startTime"
    assert p["metadata"] == '{"customer":"acme","tier":2}'
    assert p["startAfter"] == "2026-10-31T23:59:59.000000000Z"
    assert [q["trigger"] for q in f.queries()] == ["api", "cron"]


def test_given_lists_what_narrows_the_sessions_in_table_order() -> None:
    assert P.session_filters(sort="updated", direction="asc", limit=3).given() == {}
    assert not P.session_filters(limit=3).selective
    f = P.session_filters(success=False, since="2026-11-01", trigger="api")
    assert list(f.given()) == ["since", "trigger", "success"]
    assert f.described() == {"since": "2026-11-01 00:00:00 UTC", "trigger": "api", "success": False}
    assert f.with_agent("agent_" + "a" * 40).given()["agent"] == "agent_" + "a" * 40


def test_an_unknown_filter_is_refused_with_the_closest_name() -> None:
    with pytest.raises(InvalidArgumentError, match=r"'agnet' \(did you mean 'agent'\?\)"):
        P.session_filters(agnet="x")  # type: ignore[call-arg]
    with pytest.raises(
        InvalidArgumentError, match="unknown filter 'colour'; the filters are since"
    ):
        sk.load_sessions(colour="red")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"success": "true"}, "success must be True, False or None"),
        ({"env": ""}, "env must be a non-empty string"),
        ({"trigger": 3}, "trigger must be a value or a list"),
        ({"metadata": {"k": {1, 2}}}, "metadata cannot be sent as JSON"),
        ({"limit": 0}, "limit must be a positive integer"),
    ],
)
def test_bad_values_name_the_filter(kw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        P.session_filters(**kw)  # type: ignore[arg-type]


def test_one_session_id_check() -> None:
    assert P.session_id("  sess_1 ") == "sess_1"
    for bad in ("", "a/b", "a b", "x?y", None, 3):
        with pytest.raises(InvalidArgumentError, match="not a session id"):
            P.session_id(bad)
    assert P.session_ids(["a", " a", "b"]) == ["a", "b"]


def test_a_list_filter_added_to_the_table_reaches_walks_scans_and_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Adding a 'choice' filter is a row in FILTERS (plus the emulator): a new-user trial
    added routeId and it was silently ignored everywhere (3,000 of 3,000 sessions), because
    the choice kind was hard-wired to trigger."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    from sessionkit import params
    from sessionkit.params import Filter
    from sessionkit.store._reader import row_filter

    route = Filter("route_id", "choice", "routeId", "only these routes")
    table = (*params.FILTERS, route)
    monkeypatch.setattr(params, "FILTERS", table)
    monkeypatch.setattr(params, "FILTER_NAMES", tuple(f.name for f in table))
    monkeypatch.setattr(params, "SCOPE_NAMES", tuple(f.name for f in table if f.scope))
    monkeypatch.setattr(params, "FILTER_QUERY", {f.name: f.query for f in table})
    monkeypatch.setattr(params, "_BY_NAME", {f.name: f for f in table})
    filters = params.session_filters(route_id=["r1", "r2", "r1"], trigger="cron")  # type: ignore[call-arg]
    assert filters.lists == {"trigger": ("cron",), "route_id": ("r1", "r2")}
    assert [q["routeId"] for q in filters.queries()] == ["r1", "r2"]
    assert all(q["trigger"] == "cron" for q in filters.queries())
    assert filters.merged and filters.given()["route_id"] == "r1,r2"
    rows = pa.table(
        {
            "route_id": ["r1", "r2", "r3"],
            "trigger": ["cron", "cron", "cron"],
            "start_time": pa.array([0, 1, 2], pa.timestamp("ns", tz="UTC")),
        }
    )
    expression = row_filter(filters)
    assert expression is not None
    assert ds.dataset(rows).to_table(filter=expression)["route_id"].to_pylist() == ["r1", "r2"]
    with pytest.raises(InvalidArgumentError, match="route_id"):
        params.session_filters(route_id=[""])  # type: ignore[call-arg]


def test_metadata_filters_refuse_nan_and_take_numpy_scalars() -> None:
    """metadata={"a": NaN} was sent as null (a filter for another value); a value taken from
    a frame (np.int64, np.bool_) was refused."""
    import numpy as np

    with pytest.raises(InvalidArgumentError, match=r"x\.y\[1\]=nan is not a finite number"):
        session_filters(metadata={"x": {"y": [1, float("nan")]}})
    with pytest.raises(InvalidArgumentError, match="inf"):
        session_filters(metadata={"a": np.float64("inf")})
    taken = session_filters(metadata={"a": np.int64(2), "b": np.bool_(True)})
    assert taken.metadata == {"a": 2, "b": True}
    assert taken.params["metadata"] == '{"a":2,"b":true}'
