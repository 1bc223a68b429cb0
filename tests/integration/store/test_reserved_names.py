"""API fields named like the columns sessionkit adds (agent, agent_id, the store's day) are
kept as api.<name>, over real loopback HTTP, on both roads and in the store: a field `day`
made the store unreadable after a 'successful' sync (ArrowInvalid: multiple matches for
day), and a field `agent` was silently replaced by the agent-name label (#15 item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

import sessionkit as sk
from sessionkit import schema
from tests.servers import list_server, session


@pytest.mark.parametrize("name", sorted(schema.RESERVED_NAMES))
def test_a_field_with_a_reserved_name_is_kept_apart(name: str, tmp_path: Path) -> None:
    rows = [session(i) for i in range(5)] + [session(5, **{name: "theirs"})]
    with list_server(rows) as url:
        client = sk.Client(
            "sk_canary_0123456789abcdefghij", base_url=url, logs_base_url=url, max_retries=0
        )
        frame = sk.load_sessions(client, progress=False, agent_names=False)
        store = sk.Store(tmp_path / "s")
        store.sync(client, progress=False)
        stored = store.load_sessions()
        again = store.sync(client, progress=False)
    for got in (frame, stored):
        assert got[f"api.{name}"].dropna().tolist() == ["theirs"]
        assert len(got) == 6
    assert again.new == 0
    assert stored["id"].tolist() == frame["id"].tolist() or set(stored["id"]) == set(frame["id"])
