"""The store's layout: paths, day partitions, the manifest round trip, the lock."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from sessionkit.errors import InvalidArgumentError
from sessionkit.store import StoreLockedError
from sessionkit.store._layout import MANIFEST, Layout, check_entity, empty_manifest


def test_paths_of_a_partition(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "s")
    assert layout.dataset_path("spans") == tmp_path / "s" / "spans"
    assert layout.file("sessions", "2026-11-01") == (
        tmp_path / "s" / "sessions" / "day=2026-11-01" / "part-0.parquet"
    )
    with pytest.raises(InvalidArgumentError, match="unknown dataset 'session'"):
        layout.dataset_path("session")
    assert check_entity("logs") == "logs"


def test_days_lists_only_partitions_holding_a_file_oldest_first(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert layout.days() == []
    for day in ("2026-11-02", "2026-10-30"):
        layout.file("sessions", day).parent.mkdir(parents=True)
        layout.file("sessions", day).write_bytes(b"")
    (layout.dataset_path("sessions") / "day=2026-11-05").mkdir()  # no file: not a partition
    (layout.dataset_path("sessions") / "other").mkdir()
    assert layout.days("sessions") == ["2026-10-30", "2026-11-02"]
    assert layout.days("logs") == []


def test_manifest_round_trip_is_private_and_copies_are_deep(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "s")
    assert layout.manifest() == empty_manifest()
    os.makedirs(layout.path)
    manifest = layout.manifest_copy()
    manifest["details"].append("s1")
    manifest["demo_now"] = "2026-11-28T12:00:00Z"
    layout.save_manifest(manifest)
    assert layout.manifest()["details"] == ["s1"]
    assert layout.demo_now() == pd.Timestamp("2026-11-28T12:00:00Z")
    assert stat.S_IMODE(os.stat(layout.path / MANIFEST).st_mode) == 0o600
    copy = layout.manifest_copy()
    copy["details"].append("s2")
    assert layout.manifest()["details"] == ["s1"]  # the copy shares nothing


def test_manifest_sees_another_writers_commit_and_fills_missing_keys(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.save_manifest({"format": 1, "scopes": {}})
    assert layout.manifest()["agent_names"] == {}  # a key an older manifest lacks
    Layout(tmp_path).save_manifest({**empty_manifest(), "logs": ["a", "b", "c"]})
    assert layout.manifest()["logs"] == ["a", "b", "c"]


def test_locked_is_exclusive_and_released(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "new")
    with layout.locked():
        assert stat.S_IMODE(os.stat(layout.path).st_mode) == 0o700
        with pytest.raises(StoreLockedError) as info, Layout(layout.path).locked():
            pass
        assert info.value.pid == os.getpid()
    with Layout(layout.path).locked():
        pass
