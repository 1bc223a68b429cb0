"""The key never reaches an error, its args or attributes — over real loopback HTTP, from a
small stdlib server that echoes it in the ways an outside attacker found (round two)."""

from __future__ import annotations

import html
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest

import sessionkit as sk
from tests.conftest import CANARY_KEY
from tests.servers import http_server, send

Answer = Callable[[], tuple[int, dict[str, str], bytes]]


def _json(status: int, body: dict[str, object], **headers: str) -> Answer:
    return lambda: (
        status,
        {"content-type": "application/json", **headers},
        json.dumps(body).encode(),
    )


ANSWERS: dict[str, Answer] = {
    "html-escaped message": _json(
        400, {"success": False, "message": "bad " + CANARY_KEY.replace("_", "&#95;")}
    ),
    "html named entities": _json(
        400, {"success": False, "message": "bad " + html.escape(f"<{CANARY_KEY}>")}
    ),
    "code field": _json(400, {"success": False, "message": "bad", "code": CANARY_KEY}),
    "421 region": _json(
        421, {"success": False, "message": "elsewhere"}, **{"x-agentuity-region": CANARY_KEY}
    ),
    "content type": lambda: (500, {"content-type": f"text/html; k={CANARY_KEY}"}, b"<html>"),
    "long message cut": _json(400, {"success": False, "message": "y" * 190 + CANARY_KEY}),
}


@pytest.fixture(scope="module")
def echo_server() -> Iterator[tuple[str, dict[str, Answer]]]:
    current: dict[str, Answer] = {}

    def respond(handler: BaseHTTPRequestHandler) -> None:
        status, headers, body = current["answer"]()
        send(handler, status, body, headers)

    with http_server(respond) as url:
        yield url, current


def _pieces_shown(text: str) -> list[str]:
    """Every piece of 8 or more characters of the key in ``text`` or in its HTML-unescaped
    reading."""
    found = []
    for view in {text, html.unescape(text)}:
        for size in (8,):
            for start in range(len(CANARY_KEY) - size + 1):
                piece = CANARY_KEY[start : start + size]
                if piece in view:
                    found.append(piece)
    return found


def _everything_about(exc: BaseException) -> str:
    parts = ["".join(traceback.format_exception(exc)), str(exc), repr(exc), repr(exc.args)]
    parts += [repr(v) for v in vars(exc).values()]
    return "\n".join(parts)


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_no_piece_of_the_key_in_any_error_text_args_or_attribute(
    echo_server: tuple[str, dict[str, Answer]], kind: str
) -> None:
    url, current = echo_server
    current["answer"] = ANSWERS[kind]
    client = sk.Client(CANARY_KEY, base_url=url, logs_base_url=url, max_retries=0, timeout=3)
    with pytest.raises(sk.SessionKitError) as info:
        client.get_session("sess_" + "a" * 32)
    assert _pieces_shown(_everything_about(info.value)) == []


def test_attributes_set_after_the_error_was_made_are_scrubbed_too() -> None:
    client = sk.Client(CANARY_KEY, base_url="http://127.0.0.1:1", max_retries=0)
    assert client is not None  # registers the key as live
    exc = sk.NotFoundError("gone", status_code=404)
    exc.session_id = f"sess_{CANARY_KEY}"
    exc.fetched = f"3 pages ({CANARY_KEY})"
    assert _pieces_shown(_everything_about(exc)) == []


@pytest.mark.parametrize(
    "bad",
    [
        CANARY_KEY[:20] + "\n" + CANARY_KEY[20:],
        CANARY_KEY + "é",
        CANARY_KEY[:10] + "\x00" + CANARY_KEY[10:],
        CANARY_KEY[:10] + "\t" + CANARY_KEY[10:],
        CANARY_KEY[:10] + " " + CANARY_KEY[10:],
    ],
)
@pytest.mark.parametrize("source", ["argument", "environment"])
def test_a_key_no_header_can_carry_is_refused_without_being_shown(
    bad: str, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if source == "environment":
        if "\x00" in bad:
            pytest.skip("an environment variable cannot hold NUL")
        monkeypatch.setenv("AGENTUITY_SDK_KEY", bad)
        make = lambda: sk.Client(base_url="http://127.0.0.1:1")  # noqa: E731
    else:
        monkeypatch.delenv("AGENTUITY_SDK_KEY", raising=False)
        make = lambda: sk.Client(bad, base_url="http://127.0.0.1:1")  # noqa: E731
    with pytest.raises(sk.ConfigurationError, match="printable ASCII") as info:
        make()
    text = _everything_about(info.value)
    assert _pieces_shown(text) == []
    assert ("AGENTUITY_SDK_KEY" in text) == (source == "environment")


@pytest.mark.parametrize("kind", ["421 region", "content type"])
def test_debug_logs_of_the_http_stack_never_hold_an_echoed_key(
    echo_server: tuple[str, dict[str, Answer]], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """httpcore logs response headers at DEBUG: a key echoed into a header was logged as is."""
    url, current = echo_server
    current["answer"] = ANSWERS[kind]
    client = sk.Client(CANARY_KEY, base_url=url, logs_base_url=url, max_retries=0, timeout=3)
    with caplog.at_level(logging.DEBUG), pytest.raises(sk.SessionKitError):
        client.get_session("sess_" + "a" * 32)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "x-agentuity-region" in logged or "content-type" in logged.lower()
    assert _pieces_shown(logged) == []
