"""One store, one API: a sync from another API (a second emulator on another port, or the
bundled demo because the key went missing) is refused before anything is written; a
filter that matches nothing on an existing store says so, like on a fresh one."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from sessionkit.emulator import Emulator
from sessionkit.store import Store, StoreSourceError
from tests.conftest import make_client

ROOT = Path(__file__).resolve().parents[3]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_a_second_api_on_another_port_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with Emulator(sessions=300, seed=21) as first, Emulator(sessions=300, seed=22) as second:
        store = Store(tmp_path / "s")
        assert store.sync(make_client(first), progress=False).new == 300
        before = _snapshot(store.path)
        with pytest.raises(
            StoreSourceError,
            match=r"holds project\(s\) proj_.* synced from http://127\.0\.0\.1:\d+.*another store path",
        ):
            store.sync(make_client(second), progress=False)
        assert _snapshot(store.path) == before
        assert len(store.load_sessions()) == 300
        again = store.sync(make_client(first), progress=False)  # its own source still syncs
        assert again.new == 0 and again.matched > 0


def test_the_same_project_at_a_new_address_syncs_on(tmp_path: Path) -> None:
    """A moved emulator or proxy (another port, the same project) is not refused."""
    with Emulator(sessions=300, seed=21) as before, Emulator(sessions=300, seed=21) as after:
        store = Store(tmp_path / "s")
        store.sync(make_client(before), progress=False)
        again = store.sync(make_client(after), progress=False)
        assert again.new == 0 and again.matched > 0


def test_a_keyless_cli_sync_into_a_live_store_exits_2_and_keeps_it(tmp_path: Path) -> None:
    with Emulator(sessions=200, seed=23) as live:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AGENTUITY_", "SESSIONKIT_"))
        }
        env["PYTHONPATH"] = str(ROOT)
        base = [
            sys.executable,
            "-m",
            "sessionkit",
            "sync",
            "--store",
            str(tmp_path / "s"),
            "--no-progress",
        ]
        keyed = {
            **env,
            "AGENTUITY_SDK_KEY": live.key,
            "AGENTUITY_CATALYST_URL": live.catalyst_url,
            "AGENTUITY_API_URL": live.api_url,
        }
        first = subprocess.run(base, env=keyed, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        keyless = subprocess.run(base, env=env, capture_output=True, text=True, timeout=120)
        assert keyless.returncode == 2, keyless.stdout + keyless.stderr
        assert "is AGENTUITY_SDK_KEY unset?" in keyless.stderr
        assert len(Store(tmp_path / "s").load_sessions()) == 200


def test_a_filter_matching_nothing_on_a_synced_store_says_so(
    tmp_path: Path, small_emu: Emulator
) -> None:
    client = make_client(small_emu)
    store = Store(tmp_path / "s")
    store.sync(client, progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = store.sync(client, env="no-such-env", progress=False)
    assert result.matched == 0 and result.new == 0
    assert any("No sessions match env='no-such-env'" in str(w.message) for w in caught)
