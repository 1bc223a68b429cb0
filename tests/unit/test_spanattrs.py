"""Span attributes → attribute columns and JSON text: which name feeds which column, the text
exactly as orjson writes it (even when a value looks like the marker the batch writer splits
at), and laying compact values out over all rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest

import sessionkit as sk
from sessionkit import spanattrs
from sessionkit.frames import Problems


def frame(*spans: dict[str, Any]) -> Any:
    return sk.spans_frame([("s", {"id": "root", "children": list(spans)})]).iloc[1:]


def test_the_first_name_held_wins_even_when_it_holds_null() -> None:
    spans = frame(
        {"operation": "HTTP GET", "attributes": {"host": "b.example", "http.host": "a.example"}},
        {"operation": "HTTP GET", "attributes": {"http.host": None, "host": "b.example"}},
        {"operation": "HTTP GET", "attributes": {"host": "b.example"}},
    )
    assert spans["http_host"].tolist()[0] == "a.example"  # http.host ranks before host
    assert spans["http_host"].isna().tolist() == [False, True, False]


def test_plain_name_and_key_are_read_on_storage_spans_only() -> None:
    spans = frame(
        {"operation": "agentuity.keyvalue.get", "attributes": {"name": "cache", "key": "k1"}},
        {"operation": "gen_ai.chat", "attributes": {"name": "not-a-store", "key": "x"}},
        {"operation": "gen_ai.chat", "attributes": {"name": "x", "db.name": "orders"}},
    )
    assert spans["storage_name"].tolist()[0] == "cache" and spans["storage_key"].iloc[0] == "k1"
    assert spans["storage_name"].isna().tolist() == [False, True, False]
    assert spans["storage_name"].iloc[2] == "orders"


def test_texts_are_what_orjson_writes_even_with_the_marker_inside() -> None:
    objects = [
        {"a": 1, "é": "ü", "n": None, "f": 1.5e-7},
        {"list": ["x", spanattrs._MARK, "y"]},  # the marker between two objects, inside one
        {spanattrs._MARK: [spanattrs._MARK], "nested": {"k": [1, 2, {"deep": True}]}},
        {1: "integer key"},
    ]
    texts, refused = spanattrs._json_texts(objects)
    assert texts.to_pylist() == [
        orjson.dumps(o, option=orjson.OPT_NON_STR_KEYS).decode() for o in objects
    ]
    assert refused == []


def test_what_orjson_refuses_is_written_exactly_where_json_can() -> None:
    deep: Any = "leaf"
    for _ in range(300):  # past orjson's 254 levels
        deep = {"k": deep}
    objects = [{"big": 2**70}, {"deep": deep}, {"ok": 1}]
    texts, refused = spanattrs._json_texts(objects)
    assert refused == [0, 1]
    assert texts[0].as_py() == '{"big":1180591620717411303424}'
    assert texts[1].as_py() == '{"deep":' + '{"k":' * 300 + '"leaf"' + "}" * 301
    assert texts[2].as_py() == '{"ok":1}'


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string(), pa.int64()])
def test_spread_lays_values_out_over_the_rows(kind: pa.DataType) -> None:
    raw = ["a", None, "ccc", "dd"] if kind != pa.int64() else [7, None, -1, 2**62]
    values = pa.array([raw[0], *raw], kind)[1:]  # a slice: its buffers do not start at 0
    rows = np.array([1, 4, 5, 9])
    out = spanattrs.spread(values, rows, 11)
    expected: list[Any] = [None] * 11
    for row, value in zip(rows.tolist(), raw, strict=True):
        expected[row] = value
    assert out.to_pylist() == expected
    assert spanattrs.spread(values[:0], rows[:0], 3).to_pylist() == [None] * 3


def test_values_of_the_wrong_type_are_reported_column_by_column() -> None:
    reader = spanattrs.AttributeReader()
    storage = np.zeros(3, dtype=bool)
    reader.read(
        [{"http.method": 5, "gen_ai.usage.input_tokens": "many"}, None, {"http.method": "GET"}],
        0,
        storage,
    )
    problems = Problems("spans")
    arrays, coded = reader.arrays(3, np.zeros(3, dtype=np.int64), ["sess_1"], problems)
    assert coded["http_method"][0].tolist() == [-1, -1, 0]
    assert coded["http_method"][1] == ["GET"]
    assert arrays["input_tokens"].to_pylist() == [None, None, None]
    assert list(problems.found) == ["http_method", "input_tokens"]  # in frame order
    assert problems.found["http_method"][:3] == [1, "sess_1", 5]
