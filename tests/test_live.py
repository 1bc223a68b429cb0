"""Walks while sessions keep arriving (emulator live mode): nothing lost, nothing repeated."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import sessionkit as sk
from sessionkit.emulator import Emulator, Faults

from .conftest import make_client


@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_live_walk_returns_every_starting_session_exactly_once(direction: str) -> None:
    with Emulator(sessions=600, seed=4, live=200.0, faults=Faults(latency=0.03)) as emu:
        client = make_client(emu, concurrency=3)
        start = emu.now()
        existing = {
            str(emu.dataset.columns["id"][i])
            for i in range(len(emu.dataset))
            if int(emu.dataset.columns["created_ns"][i]) <= start
        }
        got = sk.load_sessions(client, direction=direction, progress=False, agent_names=False)
        arrived = len(emu.dataset) - len(existing)
        assert arrived > 20, "no session arrived during the walk: the test proves nothing"
        assert got["id"].is_unique
        assert existing <= set(got["id"])
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
