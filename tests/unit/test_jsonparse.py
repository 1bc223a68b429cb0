"""Hostile JSON without a server: the iterative parser against orjson, documents deeper than
orjson allows, malformed ones refused by name, and the fast page check against the full parse."""

from __future__ import annotations

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
    assert jsonparse.dumps_text(value) == text.decode()


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
    ids = _fast_page_ids(body)
    if ids is not None:  # accepted: exactly what the full parse sees
        assert isinstance(payload, dict) and payload["success"] is True
        assert ids == tuple(item["id"] for item in payload["data"])


def test_the_fast_page_check_defers_on_everything_it_does_not_vouch_for() -> None:
    from sessionkit.client.envelope import _fast_page_ids

    good = orjson.dumps({"success": True, "data": [{"id": "a"}, {"id": "b"}]})
    assert _fast_page_ids(good) == ("a", "b")
    assert _fast_page_ids(b'{"success": false, "data": []}') is None
    assert _fast_page_ids(b'{"success": true, "data": {}}') is None
    assert _fast_page_ids(b'{"success": true, "data": [{"id": 5}]}') is None
    for bad in (good[:-3], good + b"x", b'{"success": true, "data": [NaN]}', b'"\xff"'):
        with pytest.raises((ValueError, RuntimeError)):
            _fast_page_ids(bad)
