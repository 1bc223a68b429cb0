"""Walks while sessions keep arriving (emulator live mode): nothing lost, nothing repeated."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import sessionkit as sk
from sessionkit.emulator import Emulator, Faults
from sessionkit.emulator.chaos import KINDS
from tests.conftest import make_client


@pytest.mark.parametrize("faulty", [False, True], ids=["latency", "faults"])
@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_live_walk_returns_every_starting_session_exactly_once(
    direction: str, faulty: bool
) -> None:
    """Sessions arrive during the walk; with ``faulty``, 30% of requests also fail in every
    way the emulator knows (slow ones past the client's 1 s timeout)."""
    if faulty:
        faults = Faults.mix(0.3, seed=77, rate_slow=0.015, latency=0.02)
        options: dict[str, object] = {"concurrency": 4, "timeout": 1.0, "max_retries": 15}
    else:
        faults, options = Faults(latency=0.03), {"concurrency": 3}
    with Emulator(sessions=3_000 if faulty else 600, seed=8, live=150.0, faults=faults) as emu:
        client = make_client(emu, **options)
        start = emu.now()
        existing = {
            str(emu.dataset.columns["id"][i])
            for i in range(len(emu.dataset))
            if int(emu.dataset.columns["created_ns"][i]) <= start
        }
        got = sk.load_sessions(client, direction=direction, progress=False, agent_names=False)
        arrived = len(emu.dataset) - len(existing)
        fired = sum(emu.stats[f"fault_{k}"] for k in KINDS)
    assert arrived > 20, "no session arrived during the walk: the test proves nothing"
    if faulty:
        assert fired >= 5 and client.stats["retries"] >= 5, "no fault reached the client"
    assert got["id"].is_unique, "a session appears twice"
    missing = existing - set(got["id"])
    assert not missing, f"{len(missing)} sessions that existed at the start are missing"
    assert set(got["id"]) <= {str(x) for x in emu.dataset.columns["id"]}


def test_pending_sessions_complete_between_two_walks() -> None:
    with Emulator(sessions=400, seed=5, live=5.0, clock_speed=60.0) as emu:
        client = make_client(emu)
        first = sk.load_sessions(client, progress=False, agent_names=False).set_index("id")
        pending = first.index[first["pending"] == True]  # noqa: E712
        assert len(pending) > 0
        time.sleep(2.0)  # two emulated minutes
        second = sk.load_sessions(client, progress=False, agent_names=False).set_index("id")
        assert len(second) > len(first)
        completed = [s for s in pending if second.loc[s, "pending"] == False]  # noqa: E712
        assert completed, "no pending session completed"
        for s in completed:
            assert second.loc[s, "updated_at"] > first.loc[s, "updated_at"]
            assert pd.notna(second.loc[s, "end_time"]) and second.loc[s, "duration"] > pd.Timedelta(
                0
            )
            assert pd.isna(first.loc[s, "end_time"]) and pd.isna(first.loc[s, "duration"])
