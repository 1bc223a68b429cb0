"""The Store facade on a store built by hand (no server): its warnings point at the caller
and render the synced scopes in one way; ``info`` shows the same scope text."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from sessionkit.errors import SessionKitWarning
from sessionkit.store import Store
from sessionkit.store._arrow import conform, empty_table
from sessionkit.store._layout import Layout

STABLE = "agent_" + "b" * 40


def _store(tmp_path: Path) -> Store:
    """A store with two sessions and one sync scope (trigger=cron, the agent named 'triage')."""
    layout = Layout(tmp_path / "s")
    stamps = pa.array(
        [pd.Timestamp("2026-11-01T01:00", tz="UTC").value] * 2, pa.timestamp("ns", tz="UTC")
    )
    base = pa.table(
        {
            "id": ["a", "b"],
            "created_at": stamps,
            "updated_at": stamps,
            "start_time": stamps,
            "env": ["prod", "prod"],
            "trigger": ["cron", "cron"],
            "agent_ids": pa.array([[STABLE], [STABLE]], pa.list_(pa.string())),
        }
    )
    store = Store(layout.path)
    assert store.upsert("sessions", conform(base, empty_table("sessions").schema)) == (2, 0, 0)
    manifest = layout.manifest_copy()
    manifest["agent_names"] = {STABLE: "triage"}
    manifest["scopes"] = {
        "k": {
            "params": {"trigger": "cron", "agentIdentifier": STABLE},
            "synced_at": "2026-11-02T00:00:00Z",
        }
    }
    layout.save_manifest(manifest)
    return store


def test_a_partial_load_warns_at_the_callers_line_naming_the_scope(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.warns(
        SessionKitWarning, match="synced only for agent='triage', trigger=cron"
    ) as rec:
        frame = store.load_sessions()
    assert list(frame["id"]) == ["b", "a"]
    assert [w.filename for w in rec] == [__file__]


def test_a_load_matching_nothing_warns_at_the_callers_line_naming_the_scope(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.warns(SessionKitWarning, match="No sessions in") as rec:
        assert store.load_sessions(env="dev").empty
    text = str(rec[0].message)
    assert f"No sessions in {store.path} match env='dev', although" in text  # names the filter
    assert "env values in the store: ['prod']" in text
    assert "it was synced for agent='triage', trigger=cron" in text
    assert [w.filename for w in rec] == [__file__]


def test_a_detail_load_never_synced_warns_at_the_callers_line(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.warns(SessionKitWarning, match="never had their details synced") as rec:
        assert store.load_spans(["a"]).empty
    assert [w.filename for w in rec] == [__file__]


def test_info_renders_the_scope_as_the_warnings_do(tmp_path: Path) -> None:
    store = _store(tmp_path)
    info = store.info()
    assert info["sessions"] == 2 and info["days"] == 1
    assert info["last sync [agent='triage', trigger=cron]"] == "2026-11-02T00:00:00Z"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.load_sessions(trigger="cron", agent="triage")  # covered: no warning
