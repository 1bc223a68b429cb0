"""The details the findings read: a sample stratified by agent and day, loaded over HTTP, and a
store's synced details reused (only the rest is fetched; with a store alone, nothing is)."""

from __future__ import annotations

from pathlib import Path

import sessionkit as sk
from sessionkit.analysis import detail_sample
from sessionkit.report import findings_from_client
from sessionkit.report._build import load_for_findings


def test_the_sample_covers_every_agent_and_day_and_finds_the_incidents(
    demo_client: sk.Client,
) -> None:
    loaded = load_for_findings(demo_client, details=800, progress=False)
    sessions = loaded.sessions
    assert len(loaded.sampled) >= 800 and loaded.from_store == 0
    picked = sessions[sessions["id"].isin(loaded.sampled)]
    days = picked["start_time"].dt.floor("D")
    every = sessions[~sessions["pending"].astype(bool)]
    assert {(a, d) for a, d in zip(picked["agent"].astype(str), days, strict=True)} == {
        (a, d)
        for a, d in zip(every["agent"].astype(str), every["start_time"].dt.floor("D"), strict=True)
    }
    assert set(loaded.spans["session_id"].astype(str)) <= set(loaded.sampled)
    findings = findings_from_client(demo_client, details=800, progress=False)
    assert {"failure", "cost", "new_error_family"} <= set(findings.table["kind"])
    assert findings.details_sessions > 700


def test_a_stores_details_are_reused(demo_client: sk.Client, tmp_path: Path) -> None:
    store = sk.Store(tmp_path / "store")
    sessions = sk.load_sessions(demo_client, progress=False)
    wanted = list(detail_sample(sessions, budget=300))
    store.sync(demo_client, details=wanted[:200], progress=False)
    # a store alone: its details only, no request
    alone = load_for_findings(None, details=300, store=store, progress=False)
    assert alone.from_store == 200 and set(alone.sampled) == set(wanted)
    assert set(alone.spans["session_id"].astype(str)) == set(wanted[:200])
    # with a client too: the store's 200, the other 100 fetched
    both = load_for_findings(demo_client, details=300, store=store, progress=False)
    assert both.from_store == 200
    assert set(both.spans["session_id"].astype(str)) == set(wanted)
