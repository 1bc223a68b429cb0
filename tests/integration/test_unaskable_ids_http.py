"""Sessions whose id no request can ask for (null, numeric, holding '/', ' ', '%', '#') are
kept, and never make a load or a sync fail: the agent-name lookup asks another session of
the agent, a sync's details skip them with a warning (a regression of this round: the client
began refusing such ids, and the lookup or the details fan-out then failed as a whole)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import sessionkit as sk
from tests.servers import list_server, session

CANARY = "sk_canary_0123456789abcdefghij"
ODD = ["sess_a/b", "sess_ab cd", "sess_50%", "sess_x#y", None, 12345]


@pytest.mark.parametrize("odd", ODD, ids=repr)
def test_loads_and_syncs_keep_every_row(odd: object, tmp_path: Path) -> None:
    rows = [session(0, id=odd), *(session(i) for i in range(1, 4))]
    details = {
        r["id"]: {"session": r, "agents": [{"id": "agent_" + "a" * 40, "name": "alpha"}]}
        for r in rows
        if isinstance(r["id"], str)
    }
    with list_server(rows, details=details) as url:
        client = sk.Client(CANARY, base_url=url, logs_base_url=url, max_retries=0, timeout=5)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            frame = sk.load_sessions(client, progress=False)
            result = sk.Store(tmp_path / "s").sync(client, details="all", progress=False)
        assert len(frame) == 4
        keyed = 4 if isinstance(odd, str) else 3  # the store keys rows by id (see below)
        assert (result.new, result.without_id) == (keyed, 4 - keyed)
        assert len(sk.Store(tmp_path / "s").load_sessions()) == keyed


def test_a_sync_never_collapses_id_less_sessions_into_one_row(tmp_path: Path) -> None:
    """12 sessions without a usable id were stored as 1 ("1 new"): the store keys rows by id.
    They are now left out, counted and said; the sessions with ids are all stored."""
    rows = [session(i, id=None) for i in range(4)]
    rows += [session(10 + i, id=7) for i in range(4)]
    rows += [{k: v for k, v in session(20 + i).items() if k != "id"} for i in range(4)]
    rows += [session(30 + i) for i in range(5)]
    with list_server(rows) as url:
        client = sk.Client(CANARY, base_url=url, logs_base_url=url, max_retries=0, timeout=5)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = sk.Store(tmp_path / "s").sync(client, progress=False)
            assert len(sk.load_sessions(client, progress=False)) == 17
    assert (result.new, result.without_id) == (5, 12)
    assert any("12 session row(s) read without a usable id" in str(w.message) for w in caught)
    assert len(sk.Store(tmp_path / "s").load_sessions()) == 5
