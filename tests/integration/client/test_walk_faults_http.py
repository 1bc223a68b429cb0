"""Walks over real loopback HTTP while the server deletes sessions, shuffles ties, ignores
offsets or trickles (#15 items 1, 2, 13, 14): every surviving session once, or a clear error
— never a silently short frame, never a hang.

Found by tests written outside the project: a server that hard-deletes the newest sessions
while a walk runs (1-8 deletes between page requests, 8 requests in flight) made
``load_sessions`` return 24-675 fewer surviving sessions than existed, with only a log line,
and ``Store.sync`` lose 424 for good; a server ordering equal ``created_at`` values
differently on each request lost 637 of 2,000 sessions."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import sessionkit as sk
from sessionkit.emulator import Emulator, Faults
from tests.conftest import CANARY_KEY, make_client
from tests.servers import list_server, session


def _survivors(emu: Emulator) -> set[str]:
    """The ids of the sessions the emulator still has (not hard-deleted)."""
    ids = emu.dataset.columns["id"][: len(emu.dataset)]
    gone = emu.queries.gone
    return {str(i) for k, i in enumerate(ids) if not (k < len(gone) and gone[k])}


@pytest.mark.parametrize("newest", [True, False], ids=["newest", "anywhere"])
@pytest.mark.parametrize("concurrency", [1, 8])
def test_deletes_during_a_load_lose_no_surviving_session(newest: bool, concurrency: int) -> None:
    faults = Faults(deletes_per_list=8, delete_newest=newest, seed=3)
    with Emulator(sessions=4000, seed=5, key=CANARY_KEY, faults=faults) as emu:
        everyone = {str(i) for i in emu.dataset.columns["id"][: len(emu.dataset)]}
        client = make_client(emu, concurrency=concurrency)
        frame = sk.load_sessions(client, progress=False, agent_names=False)
        survivors = _survivors(emu)
        deleted = emu.stats["deleted"]
    got = set(frame["id"])
    assert deleted > 100  # the server really deleted during the walk
    assert survivors <= got, f"{len(survivors - got)} surviving sessions missing"
    assert got <= everyone and len(got) == len(frame)  # each once, none invented


def test_deletes_during_a_sync_lose_nothing_and_the_store_keeps_every_survivor(
    tmp_path: Path,
) -> None:
    """The history walk used offsets: 424 survivors lost, and the next sync never got them
    back (older than the watermark)."""
    faults = Faults(deletes_per_list=8, seed=9)
    with Emulator(sessions=4000, seed=6, key=CANARY_KEY, faults=faults) as emu:
        client = make_client(emu, concurrency=8)
        store = sk.Store(tmp_path / "s")
        store.sync(client, progress=False)
        survivors = _survivors(emu)
        stored = set(store.load_sessions()["id"])
        assert survivors <= stored, f"{len(survivors - stored)} surviving sessions not stored"
        again = store.sync(client, progress=False)  # deletes go on during the incremental walks
        assert again.new == 0
        assert _survivors(emu) <= set(store.load_sessions()["id"])


@pytest.mark.parametrize("concurrency", [1, 8])
def test_ties_in_random_order_lose_nothing(concurrency: int) -> None:
    """2,000 sessions started in groups of 25 at the same instant, each group's order drawn
    anew on every request."""
    rows = []
    for i in range(2000):
        stamp = f"2026-11-{1 + i // 25 % 28:02d}T10:{i // 25 // 28 % 60:02d}:00Z"
        rows.append(session(i, created_at=stamp, start_time=stamp, updated_at=stamp))
    with list_server(rows, shuffle_ties=True) as url:
        client = sk.Client(CANARY_KEY, base_url=url, logs_base_url=url, concurrency=concurrency)
        frame = sk.load_sessions(client, progress=False, agent_names=False)
        assert sorted(frame["id"]) == sorted(r["id"] for r in rows)
        # a limit in created order is an offset walk: exact, or refused by name
        try:
            top = sk.load_sessions(client, progress=False, agent_names=False, limit=500)
        except sk.BadResponseError as exc:
            assert "another order than before" in str(exc)
        else:
            ordered = sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)
            assert list(top["id"]) == [r["id"] for r in ordered[:500]]
        client.close()


def test_a_server_ignoring_offset_is_read_whole_by_time_and_refused_by_offset() -> None:
    faults = Faults(ignore_offset=True)
    with Emulator(sessions=1500, seed=4, key=CANARY_KEY, faults=faults) as emu:
        client = make_client(emu, concurrency=8, max_retries=0)
        frame = sk.load_sessions(client, progress=False, agent_names=False)
        assert len(frame) == len(emu.dataset)
        started = time.monotonic()
        with pytest.raises(sk.BadResponseError, match=r"ignored offset=\d+") as caught:
            sk.load_sessions(client, progress=False, sort="created", limit=1000)
        assert time.monotonic() - started < 30 and "paging contract" in caught.value.hint


def test_a_trickling_server_ends_within_the_budget() -> None:
    faults = Faults(trickle_bytes_per_s=40, trickle_headers=True)
    with Emulator(sessions=50, seed=4, key=CANARY_KEY, faults=faults) as emu:
        client = make_client(emu, timeout=1.0, retry_budget=2.0, max_retries=5)
        started = time.monotonic()
        with pytest.raises(sk.APITimeoutError, match="No answer within 1 s"):
            client.get_session(str(emu.dataset.columns["id"][0]))
        assert time.monotonic() - started < 2.0 + 1.0 + 1.5  # budget + one attempt + slack
