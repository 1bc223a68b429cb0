"""The envelope and a page's ids, from bytes (no HTTP)."""

from __future__ import annotations

import orjson
import pytest

from sessionkit.client.envelope import _fast_page_ids, _row_key, envelope_data, page_ids
from sessionkit.client.retry import Retryable
from sessionkit.errors import BadResponseError, SchemaWarning

ARGS = {"url": "http://h/session", "content_type": "application/json", "redact": str}


def test_envelope_data_unwraps_success() -> None:
    body = b'{"success": true, "data": {"a": 1}}'
    assert envelope_data(body, **ARGS) == (body, {"a": 1})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>proxy</html>", r"not JSON \(application/json, 18 bytes\)"),
        (b"[1, 2]", "not the {success, data} envelope"),
        (b'{"data": []}', "not the {success, data} envelope"),
        (b'{"success": false, "message": "busy"}', "success: false: busy"),
        (b'{"success": false, "error": "down"}', "success: false: down"),
        (b'{"success": true}', "envelope has no data"),
    ],
)
def test_envelope_failures_are_retryable_bad_responses(body: bytes, message: str) -> None:
    with pytest.raises(Retryable, match=message) as info:
        envelope_data(body, **ARGS)
    assert isinstance(info.value.error, BadResponseError)
    assert info.value.error.url == "http://h/session" and info.value.wait_hint is None


def test_server_text_is_redacted_before_it_is_quoted() -> None:
    body = b'{"success": false, "message": "key sekrit-123 refused"}'
    with pytest.raises(Retryable, match=r"key \*\*\* refused"):
        envelope_data(body, **{**ARGS, "redact": lambda t: t.replace("sekrit-123", "***")})


def test_bytes_that_are_not_utf8_are_replaced_with_a_warning() -> None:
    body = b'{"success": true, "data": [{"id": "s1", "x": "a\xffb"}]}'
    with pytest.warns(SchemaWarning, match="1 byte sequence"):
        repaired, data = envelope_data(body, **ARGS)
    assert data == [{"id": "s1", "x": "a\ufffdb"}] and repaired != body


def test_page_ids_of_a_plain_page_come_in_order_with_their_start_times() -> None:
    rows = [
        {"id": "b", "start_time": "2026-11-01T00:00:00Z"},
        {"id": "a"},
        {"id": "c", "start_time": 7},
    ]
    body = orjson.dumps({"success": True, "data": rows})
    starts = ("2026-11-01T00:00:00Z", None, None)  # text only: a number is no time
    assert page_ids(body, **ARGS) == (body, ("b", "a", "c"), starts)
    assert _fast_page_ids(body) == (("b", "a", "c"), starts)


def test_rows_without_a_usable_id_are_keyed_by_a_digest() -> None:
    rows = [{"id": "s1"}, {"id": None, "x": 1}, {"id": 7}, {"x": 1, "id": None}]
    body = orjson.dumps({"success": True, "data": rows})
    assert _fast_page_ids(body) is None  # not plain: the full path decides
    _, ids, starts = page_ids(body, **ARGS)
    assert starts == (None,) * 4
    assert ids[0] == "s1" and all(i.startswith("\0") for i in ids[1:])
    assert ids[1] != ids[2] and ids[1] == ids[3]  # the same row, whatever its key order
    assert _row_key({"id": "s9"}) == "s9"


def test_a_page_whose_data_is_no_list_is_refused_at_once() -> None:
    with pytest.raises(BadResponseError, match="returned dict data, expected a list"):
        page_ids(b'{"success": true, "data": {}}', **ARGS)


def test_a_row_nested_past_any_session_is_refused_by_name() -> None:
    deep = b"[" * 300 + b"]" * 300
    body = b'{"success": true, "data": [' + deep + b"]}"
    with pytest.raises(BadResponseError, match="a row that is no session"):
        page_ids(body, **ARGS)


def test_a_page_that_is_no_envelope_takes_the_full_path_and_is_retryable() -> None:
    with pytest.raises(Retryable, match="success: false"):
        page_ids(b'{"success": false, "data": []}', **ARGS)
