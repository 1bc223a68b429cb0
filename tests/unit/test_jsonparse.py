"""Hostile JSON without a server: the iterative parser against orjson, documents deeper than
orjson allows, malformed ones refused by name, and the fast page check against the full parse."""

from __future__ import annotations

import json
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionkit import jsonparse

# --------------------------------------------------------------------------- jsonparse


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=20,
)


@given(JSON)
@settings(max_examples=200, deadline=None)
def test_iterative_parser_and_writer_agree_with_orjson(value: object) -> None:
    text = orjson.dumps(value)
    wrapped = jsonparse.loads(b"[" * 1_100 + text + b"]" * 1_100)  # past orjson's depth limit
    for _ in range(1_100):
        (wrapped,) = wrapped
    assert wrapped == orjson.loads(text)
    written = jsonparse.dumps_text(value)
    assert jsonparse.loads(written.encode()) == value  # reads back to the same value
    if "." not in text.decode() and "e" not in text.decode().lower():  # no fraction: as orjson
        assert written == text.decode()


@pytest.mark.parametrize(
    "text",
    [
        b"18446744073709551616",  # 2**64: orjson reads it as a float
        b'{"a": [1, -9223372036854775809]}',  # below -2**63
        b'{"a":1e400,"b":123456789012345678901234567890}',  # with a number orjson refuses
        b'[{"x": "sess_0000000000000000000000000000001"}, 98765432109876543210]',
    ],
)
def test_integers_past_64_bits_are_read_exactly(text: bytes) -> None:
    """Before: orjson turned 2**64 (and anything past -2**63 .. 2**64-1) into a float."""
    assert jsonparse.loads(text) == json.loads(text)
    if b"1e400" in text:
        return  # past orjson's depth, a number past a double is refused (ijson), not changed
    deep = b"[" * 1_100 + text + b"]" * 1_100  # the iterative path too
    value = jsonparse.loads(deep)
    for _ in range(1_100):
        (value,) = value
    assert value == json.loads(text)


def test_long_digit_runs_in_strings_keep_the_fast_path() -> None:
    body = b'{"id": "sess_00000000000000000000000000000001", "n": 12345678901234567}'
    assert not jsonparse._may_hold_big_int(body)
    assert jsonparse._may_hold_big_int(b'{"n": 1234567890123456789}')
    assert jsonparse._may_hold_big_int(b"[ -1234567890123456789]")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2**64, "18446744073709551616"),  # before: '"18446744073709551616"', a string
        (-(2**63) - 1, "-9223372036854775809"),
        (
            [1.0, 0.5, -0.0, 2.0**53, 2.0**54],
            "[1,0.5,-0.0,9007199254740992,1.8014398509481984e+16]",
        ),
        (float("inf"), "Infinity"),  # before: null
        ({"a": [float("-inf"), float("nan")]}, '{"a":[-Infinity,NaN]}'),
        ("1", '"1"'),
        (True, "true"),
    ],
)
def test_dumps_text_writes_each_value_so_it_reads_back_the_same(value: object, text: str) -> None:
    assert jsonparse.dumps_text(value) == text
    assert _same(jsonparse.loads(text.encode()), value)


def _same(a: object, b: object) -> bool:
    """Equal as JSON values: 1 == 1.0, NaN == NaN, -0.0 keeps its sign, a bool is no number."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b and math.copysign(1, a) == math.copysign(1, b) if a == 0 else a == b  # type: ignore[arg-type]


def _nested(depth: int, leaf: str = "1") -> bytes:
    return ('{"a":[' * depth + leaf + "]}" * depth).encode()


def test_documents_deeper_than_orjson_allows_parse_without_recursion() -> None:
    value = jsonparse.loads(_nested(50_000))
    depth = 0
    while isinstance(value, dict):
        (value,) = value["a"]
        depth += 1
    assert (depth, value) == (50_000, 1)
    deep_list: list[object] = []
    cursor = deep_list
    for _ in range(5_000):
        cursor.append([])
        cursor = cursor[0]  # type: ignore[assignment]
    text = jsonparse.dumps_text({"k": deep_list})
    assert text == '{"k":' + "[" * 5_001 + "]" * 5_001 + "}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_nested(3_000, "1,"), "deeply nested"),  # malformed deep in the tree
        (_nested(3_000) + b"[]", "deeply nested"),  # trailing data after a deep value
        (b'{"a": [1, 2}', "expected"),
        (b"", "empty document"),
    ],
)
def test_malformed_documents_raise_a_decode_error_naming_the_problem(
    body: bytes, message: str
) -> None:
    with pytest.raises(jsonparse.JSONDecodeError, match=message):
        jsonparse.loads(body)


def test_lenient_literals_and_non_utf8_are_told_apart() -> None:
    assert repr(jsonparse.loads(b'{"x": NaN, "y": -Infinity}')) == "{'x': nan, 'y': -inf}"
    with pytest.raises(jsonparse.InvalidUTF8Error, match="not UTF-8"):
        jsonparse.loads(b'{"x": "caf\xe9"}')
    assert jsonparse.repair_utf8(b'"caf\xe9 \xef\xbf\xbd"') == ('"caf\ufffd \ufffd"'.encode(), 1)


PAGE_ITEMS = st.lists(
    st.one_of(
        st.fixed_dictionaries({"id": st.text(max_size=8)}, optional={"x": JSON}),
        st.dictionaries(st.sampled_from(["id", "x"]), JSON, max_size=2),
        JSON,
    ),
    max_size=5,
)


@given(st.one_of(st.fixed_dictionaries({"success": JSON, "data": PAGE_ITEMS}), JSON))
@settings(max_examples=300, deadline=None)
def test_the_fast_page_check_agrees_with_the_full_parse_or_defers_to_it(payload: object) -> None:
    from sessionkit.client.envelope import _fast_page_ids

    body = orjson.dumps(payload)
    fast = _fast_page_ids(body)
    if fast is not None:  # accepted: exactly what the full parse sees
        ids, starts = fast
        assert isinstance(payload, dict) and payload["success"] is True
        assert ids == tuple(item["id"] for item in payload["data"])
        texts = [item.get("start_time") for item in payload["data"]]
        assert starts == tuple(t if isinstance(t, str) else None for t in texts)


def test_the_fast_page_check_defers_on_everything_it_does_not_vouch_for() -> None:
    from sessionkit.client.envelope import _fast_page_ids

    good = orjson.dumps({"success": True, "data": [{"id": "a"}, {"id": "b"}]})
    assert _fast_page_ids(good) == (("a", "b"), (None, None))
    assert _fast_page_ids(b'{"success": false, "data": []}') is None
    assert _fast_page_ids(b'{"success": true, "data": {}}') is None
    assert _fast_page_ids(b'{"success": true, "data": [{"id": 5}]}') is None
    for bad in (good[:-3], good + b"x", b'{"success": true, "data": [NaN]}', b'"\xff"'):
        with pytest.raises((ValueError, RuntimeError)):
            _fast_page_ids(bad)
