"""The reader's pure pieces: filters → scan expressions and day sets, post-filters, sort."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from sessionkit import frames
from sessionkit.params import session_filters
from sessionkit.store._reader import (
    days_for,
    flat_metadata,
    json_equal,
    post_filter,
    row_filter,
    time_bounds,
)

NOW = pd.Timestamp("2026-11-28T12:00:00Z")
TS = pa.timestamp("ns", tz="UTC")


def _sessions() -> pa.Table:
    starts = ["2026-11-01T00:00:00", "2026-11-02T00:00:00", "2026-11-03T00:00:00", None]
    return pa.table(
        {
            "id": ["a", "b", "c", "d"],
            "start_time": pa.array(
                [None if s is None else pd.Timestamp(s, tz="UTC").value for s in starts], TS
            ),
            "env": ["prod", "prod", "dev", "prod"],
            "trigger": ["cron", "api", "cron", "cron"],
            "success": [True, False, True, True],
            "devmode": [False, False, False, True],
        }
    )


def _ids(filters: object) -> list[str]:
    expr = row_filter(filters)  # type: ignore[arg-type]
    table = _sessions()
    return (table if expr is None else table.filter(expr))["id"].to_pylist()


def test_time_bounds_are_the_exact_since_and_until_in_ns() -> None:
    filters = session_filters(since="2026-11-02", until="2026-11-03", now=NOW)
    assert time_bounds(filters) == (
        pd.Timestamp("2026-11-02", tz="UTC").value,
        pd.Timestamp("2026-11-03", tz="UTC").value,
    )
    assert time_bounds(session_filters(now=NOW)) == (None, None)


def test_row_filter_applies_the_window_as_since_inclusive_until_exclusive() -> None:
    assert _ids(session_filters(since="2026-11-02", until="2026-11-03", now=NOW)) == ["b"]
    assert _ids(session_filters(since="2026-11-02", now=NOW)) == ["b", "c"]


def test_row_filter_compares_columns_triggers_and_booleans() -> None:
    assert row_filter(session_filters(now=NOW)) is None
    assert _ids(session_filters(env="prod", now=NOW)) == ["a", "b", "d"]
    assert _ids(session_filters(trigger=["api", "cron"], env="prod", now=NOW)) == ["a", "b", "d"]
    assert _ids(session_filters(trigger="cron", success=True, devmode=False, now=NOW)) == [
        "a",
        "c",
    ]
    assert _ids(session_filters(success=False, now=NOW)) == ["b"]


def test_days_for_prunes_by_start_range_and_keeps_days_without_statistics() -> None:
    ns = [pd.Timestamp(f"2026-11-0{d}", tz="UTC").value for d in (1, 2, 3, 4)]
    stats = {
        "2026-11-01": {"min_start": ns[0], "max_start": ns[0] + 1},
        "2026-11-02": {"min_start": ns[1], "max_start": ns[1] + 1},
        "2026-11-03": {"min_start": None, "max_start": None},
    }
    days = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
    window = session_filters(since="2026-11-02", until="2026-11-03", now=NOW)
    assert days_for(window, days, stats) == {"2026-11-02", "2026-11-03", "2026-11-04"}
    until = session_filters(until="2026-11-02", now=NOW)  # exclusive: day 2 starts at ns[1]
    assert days_for(until, days, stats) == {"2026-11-01", "2026-11-03", "2026-11-04"}
    assert days_for(session_filters(env="prod", now=NOW), days, stats) is None


def test_post_filter_by_agent_ids_and_metadata() -> None:
    table = pa.table(
        {
            "id": ["a", "b", "c"],
            "agent_ids": [["x", "y"], ["y"], []],
            "metadata.tier": [1, 2, 1],
            "metadata.paid": [True, False, None],
        }
    )
    assert post_filter(table, {}, {"x"})["id"].to_pylist() == ["a"]
    assert post_filter(table, {}, {"y"})["id"].to_pylist() == ["a", "b"]
    assert post_filter(table, {"tier": 1.0})["id"].to_pylist() == ["a", "c"]
    assert post_filter(table, {"paid": True})["id"].to_pylist() == ["a"]
    assert post_filter(table, {"paid": 1}).num_rows == 0  # true is not 1
    assert post_filter(table, {"tier": 1, "paid": True}, {"y"})["id"].to_pylist() == ["a"]
    assert post_filter(table, {"nope": 1}).num_rows == 0


def test_post_filter_compares_a_json_text_column_by_the_values_sent() -> None:
    """A column of mixed kinds holds JSON text (1 is '1', "1" is '"1"'); the filter compares
    the values they read back to, as the API compares the values sent."""
    texts = pa.array(["1", '"1"', "2.5", None]).cast(frames.JSON)
    table = pa.table({"id": ["a", "b", "c", "d"], "agent_ids": [[]] * 4, "metadata.k": texts})
    assert post_filter(table, {"k": 1})["id"].to_pylist() == ["a"]
    assert post_filter(table, {"k": "1"})["id"].to_pylist() == ["b"]
    assert post_filter(table, {"k": 2.5})["id"].to_pylist() == ["c"]
    # the metadata= filter as the loaders take it, flattened to the columns' a.b names
    assert flat_metadata({"a": {"b": 1}, "c": "x"}) == {"a.b": 1, "c": "x"}
    assert flat_metadata(None) == {}


def test_json_equal_tells_booleans_from_numbers() -> None:
    assert json_equal(1, 1.0) and json_equal(True, True)
    assert not json_equal(True, 1) and not json_equal(0, False)
