"""The order of every sessions frame (:func:`sessionkit.frames.sorted_table`): sort key,
then id, nulls last; rows already in order are not sorted again."""

from __future__ import annotations

import pyarrow as pa

from sessionkit.frames import sorted_table


def test_sorted_table_orders_by_key_then_id_and_keeps_a_stored_order_scan() -> None:
    stamps = pa.array([3, 2, 2, 1], pa.timestamp("ns", tz="UTC"))
    stored = pa.table({"id": ["d", "c", "b", "a"], "created_at": stamps})
    assert sorted_table(stored, "created_at", "desc") is stored
    assert sorted_table(stored, "created_at", "asc")["id"].to_pylist() == ["a", "b", "c", "d"]
    shuffled = stored.take([2, 0, 3, 1])
    assert sorted_table(shuffled, "created_at", "desc")["id"].to_pylist() == ["d", "c", "b", "a"]
    durations = pa.table({"id": ["a", "b", "c"], "duration": [5, None, 7]})
    assert sorted_table(durations, "duration", "asc")["id"].to_pylist() == ["a", "c", "b"]
    # the time walk's order (start_time newest first, ties by id) is kept as it is
    walked = pa.table({"id": ["z", "y", "x"], "start_time": stamps.slice(1)})
    assert sorted_table(walked, "start_time", "desc") is walked
