"""Free-form values over real loopback HTTP (#15 items 4, 5 and 21): a small stdlib server
serves sessions whose metadata collides (a nested path and a dotted key, a field `metadata.x`
beside metadata key `x`), mixes kinds in one key across pages and batches (7 and "7"), holds
integers past 2**53 and past 64 bits, text Arrow would read as a time and a literal 1e400.
`load_sessions()` must keep every value exactly (or as its JSON text, said in a warning), and
a `Store` synced from the same server — in two syncs, the second widening stored columns —
must load exactly what `load_sessions()` gives."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

import sessionkit as sk
from sessionkit import frames
from tests.servers import detail, http_server, listing, send, session

KEY = "sk_canary_0123456789abcdefghij"
PAGE = 7  # rows a page: many pages, several batches of the loaders and of the store
INF = "@1e400@"  # served as the literal 1e400 (json.dumps would write Infinity)


def _row(i: int) -> dict[str, Any]:
    """Session ``i``: a second apart (newest last), with hostile metadata by ``i``."""
    stamp = (pd.Timestamp("2026-11-01T00:00:00Z") + pd.Timedelta(i, "min")).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    meta: dict[str, Any] = {
        "mix": i if i < 60 else str(i % 60),  # integers, then the same digits as strings
        "when": "2026-01-01T10:00:00+02:00",  # text, not a time
        "score": 1.5 if i % 3 else 2,  # integers among fractions: float64, exact
    }
    if i % 2:
        meta["x.y"] = i  # a dotted key...
    else:
        meta["x"] = {"y": -i}  # ...and the nested path it used to share a column with
    if i == 90:
        meta["big"] = 2**53 + 1  # past 2**53, beside fractions in other sessions
    elif i % 5 == 0:
        meta["big"] = 0.25
    if i == 41:
        meta["huge"], meta["low"] = 2**64, -(2**63) - 1
    elif i % 7 == 0:
        meta["huge"], meta["low"] = 3, -3
    if i == 52:
        meta["far"] = INF
    row = session(i, created_at=stamp, updated_at=stamp, start_time=stamp, end_time=stamp)
    row["metadata"] = meta
    if i % 4 == 0:
        row["metadata.x"] = f"field {i}"  # a field named like metadata key x's column
    return row


@contextmanager
def serving(rows: list[dict[str, Any]]) -> Iterator[str]:
    """``/session`` pages of at most :data:`PAGE` rows of ``rows`` as the API lists them (time
    bounds, sort; the list may grow between syncs); ``/session/<id>`` a detail naming the
    agent."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        query = parse_qs(url.query)
        ordered = listing(rows, {k: v[-1] for k, v in query.items()})
        if url.path == "/session":
            offset = int(query.get("offset", ["0"])[0])
            limit = min(int(query.get("limit", ["10"])[0]), PAGE)
            data = ordered[offset : offset + limit]
            body = json.dumps({"success": True, "data": data}).replace(f'"{INF}"', "1e400")
            send(handler, 200, body.encode())
        elif url.path.startswith("/session/"):
            found = [r for r in rows if r["id"] == url.path[9:]]
            body = {"success": True, "data": detail(found[0])} if found else {"success": False}
            send(handler, 200 if found else 404, json.dumps(body).encode())
        else:
            send(handler, 404, b'{"success": false}')

    with http_server(respond) as base:
        yield base


def _client(base: str) -> sk.Client:
    return sk.Client(KEY, base_url=base, logs_base_url=base, max_retries=0)


def _said(caught: list[warnings.WarningMessage]) -> str:
    return "\n".join(str(w.message) for w in caught if issubclass(w.category, sk.SchemaWarning))


def _load(base: str) -> tuple[pd.DataFrame, str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _client(base) as client:
            frame = sk.load_sessions(client, progress=False)
    return frame, _said(caught)


def _free(frame: pd.DataFrame) -> pd.DataFrame:
    names = [c for c in frame.columns if c.startswith(("metadata.", "api."))]
    return frame.set_index("id")[sorted(names)].sort_index()


def test_a_load_keeps_every_free_form_value_exactly_or_as_its_json_text() -> None:
    rows = [_row(i) for i in range(120)]
    with serving(rows) as base:
        frame, said = _load(base)
    assert len(frame) == 120
    got = frame.set_index("id")
    ids = [r["id"] for r in rows]
    # collisions: each value in its own column
    assert got.loc[ids[3], 'metadata."x.y"'] == 3 and pd.isna(got.loc[ids[3], "metadata.x.y"])
    assert got.loc[ids[4], "metadata.x.y"] == -4 and pd.isna(got.loc[ids[4], 'metadata."x.y"'])
    assert got.loc[ids[4], "api.metadata.x"] == "field 4"
    assert str(got["metadata.x.y"].dtype) == str(got['metadata."x.y"'].dtype) == "Int64"
    # exact values: a clash column holds JSON text, 7 and "7" apart
    json_columns = frame.attrs[frames.JSON_COLUMNS]
    assert set(json_columns) == {"metadata.mix", "metadata.big", "metadata.huge", "metadata.low"}
    assert got.loc[ids[7], "metadata.mix"] == "7" and got.loc[ids[67], "metadata.mix"] == '"7"'
    assert got.loc[ids[90], "metadata.big"] == "9007199254740993"
    assert got.loc[ids[5], "metadata.big"] == "0.25"
    assert got.loc[ids[41], "metadata.huge"] == "18446744073709551616"
    assert got.loc[ids[41], "metadata.low"] == "-9223372036854775809"
    assert json.loads(got.loc[ids[41], "metadata.huge"]) == 2**64
    assert got.loc[ids[0], "metadata.when"] == "2026-01-01T10:00:00+02:00"
    assert got.loc[ids[:3], "metadata.score"].tolist() == [2.0, 1.5, 1.5]
    assert str(got["metadata.score"].dtype) == "float64"
    # 1e400: kept as inf, and said
    assert got.loc[ids[52], "metadata.far"] == float("inf")
    assert "sessions.metadata.far: 1 value(s) are infinite" in said
    for column, kinds in [
        ("metadata.mix", "60 integer, 60 string"),
        ("metadata.big", "1 integer past ±2**53"),
        ("metadata.huge", "1 integer past ±2**53"),
    ]:
        assert f"sessions.{column}: " in said and kinds in said, (column, said)


def test_a_store_synced_twice_loads_what_the_api_gives(tmp_path: Path) -> None:
    """The first sync stores `mix` as integers and `big` as numbers; the second brings the
    strings and the integer past 2**53, so the stored files must be widened to JSON text —
    the same text a single load of every session gives."""
    rows = [_row(i) for i in range(60)]
    store = sk.Store(tmp_path / "store", batch_pages=3)
    with serving(rows) as base:
        with warnings.catch_warnings(record=True) as first:
            warnings.simplefilter("always")
            with _client(base) as client:
                store.sync(client, progress=False)
        assert "metadata.mix" not in _said(first)
        rows += [_row(i) for i in range(60, 120)]  # newer: the incremental sync gets them
        with warnings.catch_warnings(record=True) as second:
            warnings.simplefilter("always")
            with _client(base) as client:
                store.sync(client, progress=False)
        api, _ = _load(base)
    assert "metadata.mix: " in _said(second) and "became JSON text" in _said(second)
    stored = store.load_sessions()
    via_loader = sk.load_sessions(store=store)
    assert len(api) == len(stored) == len(via_loader) == 120
    pd.testing.assert_frame_equal(_free(stored), _free(api))
    pd.testing.assert_frame_equal(_free(via_loader), _free(api))
    assert stored.attrs == via_loader.attrs == api.attrs


@pytest.mark.parametrize("where", ["metadata", "field"])
def test_a_big_integer_alone_is_text_not_a_rounded_float(where: str) -> None:
    rows = [_row(i) for i in range(3)]
    for r in rows:
        r["metadata"] = {}
    target = rows[1]["metadata"] if where == "metadata" else rows[1]
    target["n"] = 2**64 + 1
    with serving(rows) as base:
        frame, said = _load(base)
    column = "metadata.n" if where == "metadata" else "n"
    assert frame.set_index("id").loc[rows[1]["id"], column] == "18446744073709551617"
    assert f"sessions.{column}: 1 value(s) (1 integer past ±2**53) became JSON text" in said
