"""File-schema union and conforming a table to it, on hand-built Arrow tables."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sessionkit import frames, schema
from sessionkit.errors import SchemaError, SchemaWarning
from sessionkit.frames import unify_schemas
from sessionkit.store._arrow import conform


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
    assert unified.field("y").type == frames.JSON  # int64 vs list: no promotion, JSON text
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


def test_conform_turns_a_list_into_its_json_text_when_the_column_became_text() -> None:
    """A metadata value stored as a list that later arrives as a string: the stored list
    becomes its JSON text (Arrow has no list -> string cast; this raised before)."""
    stored = pa.table({"id": ["a", "b"], "m": pa.array([["x", "y"], None], pa.list_(pa.string()))})
    target = unify_schemas([stored.schema, pa.schema([("id", pa.string()), ("m", pa.string())])])
    assert target.field("m").type == frames.JSON
    with pytest.warns(SchemaWarning, match=r"m: 1 value\(s\) \(1 list\) became JSON text"):
        out = conform(stored, target)
    assert out.to_pydict() == {"id": ["a", "b"], "m": ['["x","y"]', None]}


def test_batches_and_stored_files_settle_a_clash_by_the_same_rule() -> None:
    a = pa.table({"id": ["a"], "m": pa.array([{"k": 1}], pa.struct([("k", pa.int64())]))})
    b = pa.table({"id": ["b"], "m": ["plain"]})
    with pytest.warns(SchemaWarning, match="became JSON text"):
        joined = frames.concat_tables([a, b], schema.SESSION_COLUMNS)
        target = unify_schemas([a.schema, b.schema])
        conformed = pa.concat_tables([conform(t, target) for t in (a, b)])
    assert (  # strings in quotes: the JSON text of each value
        joined.to_pydict()
        == conformed.to_pydict()
        == {"id": ["a", "b"], "m": ['{"k":1}', '"plain"']}
    )


def test_stored_integers_a_float_cannot_hold_are_refused_by_name_not_rounded() -> None:
    """A store written before integers past 2**53 became JSON text may hold them as int64; a
    float64 batch then asks for a cast that would round them: a SchemaError names the column
    (before: a raw ArrowInvalid from deep in a sync)."""
    stored = pa.table({"id": ["a"], "metadata.n": pa.array([2**53 + 1], pa.int64())})
    target = unify_schemas([stored.schema, pa.schema([("metadata.n", pa.float64())])])
    with pytest.raises(SchemaError, match=r"metadata\.n: stored integers past ±2\*\*53"):
        conform(stored, target)
