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
        assert result.new == 4
        assert len(sk.Store(tmp_path / "s").load_sessions()) == 4
