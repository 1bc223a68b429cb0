"""The Dataset: page bytes (cold = warm = the dict form), the render cache, live growth."""

from __future__ import annotations

import numpy as np
import orjson

from sessionkit.emulator.catalog import NS
from sessionkit.emulator.dataset import Dataset
from sessionkit.emulator.generate import generate


def test_page_bytes_are_identical_cold_and_warm() -> None:
    cold = generate(600, seed=4)
    warm = generate(600, seed=4)
    rows = np.arange(599, -1, -1)
    warm.list_page(rows, warm.now_ns)  # fills the cache
    assert warm._json_cache  # the warm one really renders from its cache
    first = cold.list_page(rows[:100], cold.now_ns)
    assert not cold._json_cache.keys() - set(range(500, 600))
    assert warm.list_page(rows[:100], warm.now_ns) == first
    assert cold.list_page(rows[:100], cold.now_ns) == first
    expected = orjson.dumps(
        {"success": True, "data": cold.render_sessions(rows[:100], cold.now_ns)}
    )
    assert first == expected
    assert cold.list_page([], cold.now_ns) == b'{"success":true,"data":[]}'


def test_rows_that_can_still_change_are_not_cached() -> None:
    ds = generate(800, seed=5)
    now = ds.now_ns
    running = np.flatnonzero(ds.columns["end_ns"] > now)
    assert len(running)
    ds.list_page(np.arange(len(ds)), now)
    assert not set(running.tolist()) & ds._json_cache.keys()
    later = int(ds.columns["end_ns"].max()) + NS
    (record,) = ds.render_sessions([int(running[0])], later)
    assert ds.list_page([int(running[0])], later) == orjson.dumps(
        {"success": True, "data": [record]}
    )
    assert record["pending"] is False and record["end_time"] is not None


def test_grow_is_a_no_op_without_a_live_rate() -> None:
    ds = generate(50, seed=1)
    assert ds.grow(ds.now_ns + 3600 * NS) == 0
    assert len(ds) == 50


def test_grow_appends_the_sessions_due_and_indexes_them() -> None:
    ds: Dataset = generate(200, seed=2, live_rate=10.0)
    assert ds.grow(ds.now_ns - NS) == 0  # before now: nothing is due
    assert ds.grow(ds.now_ns + 2 * NS) == 21  # arrivals 0..20 at 10/s
    assert ds.grow(ds.now_ns + 2 * NS) == 0  # the same clock again: nothing new
    assert ds.grow(ds.now_ns + 3 * NS) == 10
    assert len(ds) == 231
    assert {len(v) for v in ds.columns.values()} == {231}
    new = ds.columns["id"][200:]
    assert len(set(ds.columns["id"])) == 231
    assert all(ds.position(str(sid)) == 200 + j for j, sid in enumerate(new))
    assert (ds.columns["start_ns"][200:] >= ds.now_ns).all()  # truncated to printed digits
    detail = ds.detail(230, ds.now_ns + 10**15)
    assert detail["session"]["id"] == str(new[-1]) and detail["session"]["pending"] is False


def test_growth_is_deterministic() -> None:
    """The same clock steps give the same sessions; other steps give the same ids (a batch's
    numbers are drawn per batch, so only the ids are independent of the step sizes)."""
    a, b, c = (generate(100, seed=3, live_rate=5.0) for _ in range(3))
    for k in range(1, 5):
        a.grow(a.now_ns + k * NS)
        b.grow(b.now_ns + k * NS)
    c.grow(c.now_ns + 4 * NS)
    later = a.now_ns + 10**15
    assert a.list_page(range(len(a)), later) == b.list_page(range(len(b)), later)
    assert list(a.columns["id"]) == list(c.columns["id"])
