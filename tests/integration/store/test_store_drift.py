"""A column whose type drifts between two syncs (a metadata value or an unknown API field sent
as an int, then as a string, ...) over real loopback HTTP: the second sync widens the stored
column — Arrow's promotion where it keeps every value, else text (each value's JSON text,
strings as they are) — never blocks, and a load returns every value (#15 item 7). Before, a
stored integer beyond 2**53 met by a float raised a raw ArrowInvalid on every later sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import sessionkit as sk
from tests.servers import list_server, session

BIG = 2**53 + 1

#: drift name → (first value, second value, the stored dtype after both, the values a load
#: gives for the three first sessions then the three later ones)
DRIFTS: dict[str, tuple[Any, Any, str, list[Any]]] = {
    "int to text": (5, "five", "string", ["5"] * 3 + ["five"] * 3),
    "text to int": ("five", 5, "string", ["five"] * 3 + ["5"] * 3),
    "bool to int": (True, 7, "string", ["true"] * 3 + ["7"] * 3),
    "int to bool": (7, False, "string", ["7"] * 3 + ["false"] * 3),
    "bool to text": (False, "no", "string", ["false"] * 3 + ["no"] * 3),
    "float to text": (1.5, "x", "string", ["1.5"] * 3 + ["x"] * 3),
    "int to float": (1, 2.5, "float64", [1.0] * 3 + [2.5] * 3),
    "float to int": (2.5, 3, "float64", [2.5] * 3 + [3.0] * 3),
    "int beyond 2**53 to float": (BIG, 1.5, "string", [str(BIG)] * 3 + ["1.5"] * 3),
    "float to int beyond 2**53": (1.5, BIG, "string", ["1.5"] * 3 + [str(BIG)] * 3),
    "list to text": (["a"], "b", "string", ['["a"]'] * 3 + ["b"] * 3),
    "int to list": (1, [1], "string", ["1"] * 3 + ["[1]"] * 3),
    "list of ints to list of texts": ([1], ["a"], "string", ["[1]"] * 3 + ['["a"]'] * 3),
    "null only to int": (None, 3, "Int64", [pd.NA] * 3 + [3] * 3),
    "null only to list": (None, ["x"], "list", [pd.NA] * 3 + [["x"]] * 3),
    "int to null only": (4, None, "Int64", [4] * 3 + [pd.NA] * 3),
}


def _sync_twice(tmp_path: Path, first: dict[str, Any], second: dict[str, Any]) -> sk.Store:
    """Sync three sessions with ``first`` merged in, then three newer ones (other days) with
    ``second``; the server lists only the newer ones the second time (so the store, not a
    page mixing both, meets the drift)."""
    rows = [session(i, **first) for i in range(3)]
    with list_server(rows) as url:
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
    first, second, dtype, want = DRIFTS[name]
    store = _sync_twice(tmp_path, {"metadata": {"k": first}}, {"metadata": {"k": second}})
    frame = store.load_sessions()
    assert len(frame) == 6
    column = frame["metadata.k"]
    assert str(column.dtype).startswith(dtype) if dtype == "list" else str(column.dtype) == dtype
    got = _values(frame, "metadata.k")
    assert [None if v is pd.NA else v for v in got] == [None if v is pd.NA else v for v in want]
    again = sk.Store(store.path).load_sessions(since="2026-11-04", until="2026-11-07")
    assert len(again) == 3  # a load of the later days alone reads the widened files too


def test_an_unknown_api_field_that_drifts_from_an_object_to_text_keeps_both(
    tmp_path: Path,
) -> None:
    store = _sync_twice(tmp_path, {"extra": {"a": 1}}, {"extra": "plain"})
    got = _values(store.load_sessions(), "extra")
    assert got == ['{"a":1}'] * 3 + ["plain"] * 3


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
    assert got[3:] == ["hello"] * 3
    assert all(pd.Timestamp(v).tz_localize(None) == pd.Timestamp("2026-11-01") for v in got[:3])
