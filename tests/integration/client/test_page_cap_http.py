"""A server whose pages shrink after the first one (full first page, then 50 rows a page)
loses nothing over real loopback HTTP: the walk stopped at the first short page before
(145 of 1,000 sessions loaded, no error or warning)."""

from __future__ import annotations

from pathlib import Path

import pytest

import sessionkit as sk
from tests.servers import list_server, session


@pytest.mark.parametrize("concurrency", [1, 8])
def test_a_load_gets_every_session_when_the_cap_starts_later(
    concurrency: int, tmp_path: Path
) -> None:
    rows = [session(i) for i in range(1000)]
    with list_server(rows, page_cap=lambda offset: None if offset == 0 else 50) as url:
        client = sk.Client(
            "sk_canary_0123456789abcdefghij",
            base_url=url,
            logs_base_url=url,
            max_retries=0,
            concurrency=concurrency,
        )
        frame = sk.load_sessions(client, progress=False, agent_names=False)
        assert sorted(frame["id"]) == sorted(r["id"] for r in rows)
