"""The reader's pure pieces: filters → scan expressions and day sets, post-filters, sort."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from sessionkit import frames
from sessionkit.errors import InvalidArgumentError
from sessionkit.params import session_filters
from sessionkit.store._reader import (
    check_metadata_filter,
    days_for,
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


def test_json_equal_tells_booleans_from_numbers() -> None:
    assert json_equal(1, 1.0) and json_equal(True, True)
    assert not json_equal(True, 1) and not json_equal(0, False)
    assert not json_equal([True], [1]) and not json_equal({"a": True}, {"a": 1})
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]}) and not json_equal(
        {"a": 1}, {"a": 1, "b": 2}
    )
    assert not json_equal(2**53 + 1, float(2**53)) and not json_equal("2", 2)


def _mixed() -> pa.Table:
    """Sessions as the frames hold them: one column per kind of value a key had."""
    return pa.table(
        {
            "id": ["int", "float", "big", "str", "bool", "list", "obj", "obj+", "none"],
            "metadata.n": pa.array([2, None, 2**53 + 1, None, None, None, None, None, None]),
            "metadata.f": pa.array([None, 2.0, None, None, None, None, None, None, None]),
            "metadata.s": pa.array([None, None, None, "2", None, None, None, None, None]),
            "metadata.b": pa.array([None, None, None, None, True, None, None, None, None]),
            "metadata.l": pa.array([None, None, None, None, None, [2, 3], None, None, None]),
            "metadata.o.a": pa.array([None, None, None, None, None, None, 2, 2, None]),
            "metadata.o.b": pa.array([None, None, None, None, None, None, None, "x", None]),
        }
    )


@pytest.mark.parametrize(
    ("metadata", "ids"),
    [
        ({"n": 2}, ["int"]),
        ({"n": 2.0}, ["int"]),  # numbers by value
        ({"n": True}, []),  # a boolean is no number
        ({"n": "2"}, []),  # nor is text
        ({"n": 2**53 + 1}, ["big"]),  # exact
        ({"n": float(2**53)}, []),
        ({"f": 2}, ["float"]),
        ({"f": 2**53 + 1}, []),  # no double holds it
        ({"s": "2"}, ["str"]),
        ({"s": 2}, []),
        ({"b": True}, ["bool"]),
        ({"b": 1}, []),
        ({"l": [2, 3]}, ["list"]),
        ({"l": [2.0, 3]}, ["list"]),
        ({"l": [2]}, []),
        ({"l": [True, 3]}, []),
        ({"o": {"a": 2}}, ["obj"]),  # exactly these keys: not obj+, which also has b
        ({"o": {"a": 2, "b": "x"}}, ["obj+"]),
        ({"o": {"a": 2.0, "b": "x"}}, ["obj+"]),
        ({"o": {"a": True}}, []),
        ({"o": 2}, []),
        ({"missing": 2}, []),
        ({"n": 2, "o": {"a": 2}}, []),
    ],
)
def test_metadata_filters_compare_json_values_as_the_api_does(
    metadata: dict[str, object], ids: list[str]
) -> None:
    assert post_filter(_mixed(), metadata)["id"].to_pylist() == ids


def test_a_column_of_json_texts_is_compared_value_by_value() -> None:
    """A key whose values are of several kinds is a column of each value's JSON text (the
    frames' rule once it is the JSON extension type): read back as JSON, then compared."""
    texts = pa.array(["2", '"2"', "2.0", "true", "[2]", None])
    column = pa.ExtensionArray.from_storage(pa.json_(pa.string()), texts)
    table = pa.table({"id": ["int", "str", "float", "bool", "list", "none"], "metadata.k": column})
    assert post_filter(table, {"k": 2})["id"].to_pylist() == ["int", "float"]
    assert post_filter(table, {"k": "2"})["id"].to_pylist() == ["str"]
    assert post_filter(table, {"k": True})["id"].to_pylist() == ["bool"]
    assert post_filter(table, {"k": [2.0]})["id"].to_pylist() == ["list"]


@pytest.mark.parametrize("metadata", [{"k": None}, {"k": {}}, {"k": {"a": None}}, {"k": {"a": {}}}])
def test_filters_a_store_cannot_answer_are_refused_by_name(metadata: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError, match=r"metadata\['k'\].* store=None"):
        check_metadata_filter(metadata)
    check_metadata_filter({"k": [None], "j": {"a": 1}})  # a null inside a list is a value
