"""File-schema union and conforming a table to it, on hand-built Arrow tables."""

from __future__ import annotations

import pyarrow as pa

from sessionkit.store._arrow import conform, unify_schemas


def test_unify_keeps_first_seen_order_and_adds_missing_columns() -> None:
    a = pa.schema([("id", pa.string()), ("n", pa.int64())])
    b = pa.schema([("extra", pa.bool_()), ("id", pa.string())])
    assert unify_schemas([a, b]) == pa.schema(
        [("id", pa.string()), ("n", pa.int64()), ("extra", pa.bool_())]
    )


def test_unify_widens_numbers_and_turns_a_clash_into_text() -> None:
    ints = pa.schema([("id", pa.string()), ("x", pa.int64()), ("y", pa.int64())])
    floats = pa.schema([("id", pa.string()), ("x", pa.float64()), ("y", pa.list_(pa.int64()))])
    unified = unify_schemas([ints, floats])
    assert unified.field("x").type == pa.float64()
    assert unified.field("y").type == pa.string()  # int64 vs list: no promotion, text
    assert unified.names == ["id", "x", "y"]


def test_conform_fills_missing_columns_with_nulls_casts_and_reorders() -> None:
    table = pa.table({"x": pa.array([1, 2], pa.int64()), "id": ["a", "b"]})
    target = pa.schema([("id", pa.string()), ("x", pa.float64()), ("gone", pa.bool_())])
    out = conform(table, target)
    assert out.schema == target
    assert out.to_pydict() == {"id": ["a", "b"], "x": [1.0, 2.0], "gone": [None, None]}


def test_conform_drops_columns_the_target_lacks() -> None:
    table = pa.table({"id": ["a"], "dropped": [1]})
    assert conform(table, pa.schema([("id", pa.string())])).column_names == ["id"]
