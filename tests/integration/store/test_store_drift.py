"""A column whose type drifts between two syncs (a metadata value or an unknown API field sent
as an int, then as a string, ...) over real loopback HTTP: the second sync widens the stored
column — Arrow's promotion where it keeps every value, else text (each value's JSON text,
strings as they are) — never blocks, and a load returns every value (#15 item 7). Before, a
stored integer beyond 2**53 met by a float raised a raw ArrowInvalid on every later sync."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import sessionkit as sk
from tests.servers import list_server, session

BIG = 2**53 + 1

#: drift name → (first value, second value, the stored dtype after both syncs)
DRIFTS: dict[str, tuple[Any, Any, str]] = {
    "int to text": (5, "five", "string"),
    "text to int": ("five", 5, "string"),
    "bool to int": (True, 7, "string"),
    "int to bool": (7, False, "string"),
    "bool to text": (False, "no", "string"),
    "float to text": (1.5, "x", "string"),
    "int to float": (1, 2.5, "float64"),
    "float to int": (2.5, 3, "float64"),
    "int beyond 2**53 to float": (BIG, 1.5, "string"),
    "float to int beyond 2**53": (1.5, BIG, "string"),
    "list to text": (["a"], "b", "string"),
    "int to list": (1, [1], "string"),
    "list of ints to list of texts": ([1], ["a"], "string"),
    "null only to int": (None, 3, "Int64"),
    "null only to list": (None, ["x"], "list"),
    "int to null only": (4, None, "Int64"),
}


def _same(got: Any, sent: Any) -> bool:
    """Whether a loaded value is the value sent: equal as it is, or — in a column widened to
    text — its JSON text (``json.loads`` gives it back; a string may also be kept as it is,
    whichever the frames' rule for text is)."""
    if sent is None:
        return got is pd.NA or got is None
    if isinstance(got, str) and not isinstance(sent, str):
        try:
            back = json.loads(got)
        except ValueError:
            return False
        return type(back) is type(sent) and back == sent
    if isinstance(got, str):
        if got == sent:
            return True
        try:
            return bool(json.loads(got) == sent)
        except ValueError:
            return False
    return type(sent) is not bool and bool(got == sent)


def _sync_twice(tmp_path: Path, first: dict[str, Any], second: dict[str, Any]) -> sk.Store:
    """Sync three sessions with ``first`` merged in, then three newer ones (other days) with
    ``second``; the server lists only the newer ones the second time (so the store, not a
    page mixing both, meets the drift)."""
    rows = [session(i, **first) for i in range(3)]
    with list_server(rows) as url, warnings.catch_warnings():
        # a column whose values became text may be said (SchemaWarning): not what is tested
        warnings.simplefilter("ignore", sk.SchemaWarning)
        client = sk.Client(
            "sk_canary_0123456789abcdefghij", base_url=url, logs_base_url=url, max_retries=0
        )
        store = sk.Store(tmp_path / "store")
        assert store.sync(client, progress=False).new == 3
        later = "2026-12-01T00:00:00Z"
        rows[:] = [session(i, updated_at=later, **second) for i in range(3, 6)]
        assert store.sync(client, progress=False).new == 3  # no raw cast error, nothing lost
    return store


def _values(frame: pd.DataFrame, column: str) -> list[Any]:
    ordered = frame.set_index("id").loc[[session(i)["id"] for i in range(6)], column]
    return [v.tolist() if hasattr(v, "tolist") else v for v in ordered]


@pytest.mark.parametrize("name", list(DRIFTS))
def test_a_metadata_type_drift_widens_the_stored_column(name: str, tmp_path: Path) -> None:
    first, second, dtype = DRIFTS[name]
    store = _sync_twice(tmp_path, {"metadata": {"k": first}}, {"metadata": {"k": second}})
    frame = store.load_sessions()
    assert len(frame) == 6
    column = frame["metadata.k"]
    assert str(column.dtype).startswith(dtype) if dtype == "list" else str(column.dtype) == dtype
    got = _values(frame, "metadata.k")
    sent = [first] * 3 + [second] * 3
    assert all(_same(g, s) for g, s in zip(got, sent, strict=True)), (got, sent)
    again = sk.Store(store.path).load_sessions(since="2026-11-04", until="2026-11-07")
    assert len(again) == 3  # a load of the later days alone reads the widened files too


def test_an_unknown_api_field_that_drifts_from_an_object_to_text_keeps_both(
    tmp_path: Path,
) -> None:
    store = _sync_twice(tmp_path, {"extra": {"a": 1}}, {"extra": "plain"})
    got = _values(store.load_sessions(), "extra")
    sent = [{"a": 1}] * 3 + ["plain"] * 3
    assert all(_same(g, s) for g, s in zip(got, sent, strict=True)), got


def test_a_metadata_object_that_becomes_a_list_keeps_both_in_their_columns(
    tmp_path: Path,
) -> None:
    """A nested object is expanded into ``metadata.k.a``; a list under the same key is the
    value of ``metadata.k``: two columns, nothing lost."""
    store = _sync_twice(tmp_path, {"metadata": {"k": {"a": 1}}}, {"metadata": {"k": [1, 2]}})
    frame = store.load_sessions()
    assert [v if v is not pd.NA else None for v in _values(frame, "metadata.k.a")] == [1] * 3 + [
        None
    ] * 3
    lists = _values(frame, "metadata.k")
    assert lists[3:] == [[1, 2]] * 3 and all(v is pd.NA for v in lists[:3])


def test_text_that_looks_like_a_timestamp_then_plain_text_keeps_every_value(
    tmp_path: Path,
) -> None:
    """The page road reads ``"2026-11-01T00:00:00Z"`` in metadata as a timestamp (that is the
    frames' rule); a later plain text makes the stored column text, the instant kept."""
    store = _sync_twice(
        tmp_path, {"metadata": {"k": "2026-11-01T00:00:00Z"}}, {"metadata": {"k": "hello"}}
    )
    got = _values(store.load_sessions(), "metadata.k")
    assert all(_same(v, "hello") for v in got[3:])
    assert all(
        pd.Timestamp(json.loads(v) if v.startswith('"') else v).tz_localize(None)
        == pd.Timestamp("2026-11-01")
        for v in got[:3]
    )
