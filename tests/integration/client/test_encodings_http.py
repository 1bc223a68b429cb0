"""Content codings over real loopback HTTP: gzip and deflate bodies decode exactly; a small
compressed bomb is refused as it inflates (memory stays near max_response_bytes: it grew by
GiBs before); bytes that are not the coding they claim are a retried BadResponseError, never
a raw httpx.DecodingError (#15 item 24)."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest

import sessionkit as sk
from tests.servers import http_server, send, session

Body = Callable[[bytes], tuple[bytes, str]]


def _deflate_raw(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-15)
    return packer.compress(data) + packer.flush()


@pytest.fixture
def encoded() -> Iterator[tuple[str, dict[str, Body]]]:
    state: dict[str, Body] = {}

    def respond(handler: BaseHTTPRequestHandler) -> None:
        page = json.dumps({"success": True, "data": [session(i) for i in range(3)]}).encode()
        body, coding = state["encode"](page)
        send(handler, 200, body, {"content-type": "application/json", "content-encoding": coding})

    with http_server(respond) as url:
        yield url, state


def _client(url: str, **options: object) -> sk.Client:
    defaults: dict[str, object] = {"max_retries": 1, "retry_budget": 2.0, "timeout": 5.0}
    return sk.Client(
        "sk_canary_0123456789abcdefghij", base_url=url, logs_base_url=url, **{**defaults, **options}
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "encode",
    [
        lambda b: (gzip.compress(b), "gzip"),
        lambda b: (gzip.compress(gzip.compress(b)), "gzip, gzip"),
        lambda b: (zlib.compress(b), "deflate"),
        lambda b: (_deflate_raw(b), "deflate"),
        lambda b: (gzip.compress(b[:50]) + gzip.compress(b[50:]), "gzip"),  # two members
        lambda b: (b, "identity"),
    ],
    ids=["gzip", "gzip-twice", "deflate-zlib", "deflate-raw", "gzip-members", "identity"],
)
def test_encoded_pages_decode_exactly(encoded: tuple[str, dict[str, Body]], encode: Body) -> None:
    url, state = encoded
    state["encode"] = encode
    page = _client(url).list_sessions_page()
    assert page.ids == tuple(session(i)["id"] for i in range(3))


def test_a_compressed_bomb_is_refused_as_it_inflates(encoded: tuple[str, dict[str, Body]]) -> None:
    url, state = encoded
    inner = gzip.compress(b"\0" * (256 * 2**20), compresslevel=9)  # 256 MiB of zeros
    bomb = gzip.compress(inner, compresslevel=9)
    state["encode"] = lambda _: (bomb, "gzip, gzip")
    client = _client(url, max_response_bytes=2**20)
    tracemalloc.start()
    try:
        with pytest.raises(sk.ResponseTooLargeError, match="inflates to more than"):
            client.list_sessions_page()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(bomb) < 2**20 and peak < 16 * 2**20


@pytest.mark.parametrize(
    "encode",
    [
        lambda b: (b"\x1f\x8b\x08\x00garbage-not-gzip", "gzip"),
        lambda b: (gzip.compress(b)[:-12], "gzip"),  # cut short
        lambda b: (b, "br"),  # a coding sessionkit did not ask for
    ],
    ids=["garbage", "truncated", "unasked-coding"],
)
def test_bytes_that_are_not_their_coding_are_a_sessionkit_error(
    encoded: tuple[str, dict[str, Body]], encode: Body
) -> None:
    url, state = encoded
    state["encode"] = encode
    with pytest.raises(sk.BadResponseError, match=r"not valid gzip|did not ask for"):
        _client(url).list_sessions_page()
