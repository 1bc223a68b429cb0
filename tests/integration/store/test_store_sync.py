"""The local store against the emulator: the lock, and sync (incremental in live mode,
no-change cost, details once, kill -9 at random points, page caps, the CLI)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

import sessionkit as sk
from sessionkit.emulator import Emulator, Faults
from sessionkit.errors import SessionKitError
from sessionkit.store import Store, StoreLockedError, SyncResult
from tests.conftest import CANARY_KEY, by_id, compact, files_under, make_client


def test_second_writer_is_refused_at_once_naming_lock_and_pid(
    tmp_path: Path, small_client: sk.Client
) -> None:
    store = Store(tmp_path / "locked")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from sessionkit.store._files import exclusive_lock
            with exclusive_lock(Path({str(store.path / ".lock")!r})):
                print("held", flush=True)
                time.sleep(60)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.perf_counter()
        with pytest.raises(StoreLockedError) as info:
            store.sync(small_client, progress=False)
        assert time.perf_counter() - started < 1.0
        assert isinstance(info.value, SessionKitError)
        assert str(store.path / ".lock") in str(info.value) and f"process {holder.pid}" in str(
            info.value
        )
        assert info.value.pid == holder.pid
        with pytest.raises(StoreLockedError):
            store.upsert("sessions", sk.empty_frame("sessions"))
    finally:
        holder.kill()
        holder.wait()
    result = store.sync(small_client, progress=False)  # the kernel released the dead holder's lock
    assert result.new == 700


# --------------------------------------------------------------------------- sync against the emulator


def _counting(client: sk.Client) -> dict[str, int]:
    """Count the client's requests by endpoint (wrapping its three endpoint methods)."""
    counts = {"list": 0, "session": 0, "logs": 0}
    for name, key in (
        ("list_sessions_page", "list"),
        ("get_session", "session"),
        ("get_logs", "logs"),
    ):
        method = getattr(client, name)

        def counted(*args: Any, _method: Any = method, _key: str = key, **kwargs: Any) -> Any:
            counts[_key] += 1
            return _method(*args, **kwargs)

        setattr(client, name, counted)
    return counts


def test_sync_equals_a_fresh_load_and_a_second_sync_costs_a_page_or_two(
    tmp_path: Path, small_emu: Emulator
) -> None:
    client = make_client(small_emu)
    counts = _counting(client)
    store = Store(tmp_path / "s")
    first = store.sync(client, progress=False)
    assert first.new == 700 and first.updated == 0
    fresh = sk.load_sessions(client, progress=False)
    got = store.load_sessions()
    pd.testing.assert_frame_equal(by_id(got), by_id(compact(fresh)))
    assert got["created_at"].is_monotonic_decreasing
    before = dict(counts)
    second = store.sync(client, progress=False)
    assert (second.new, second.updated) == (0, 0)
    asked = {k: counts[k] - before[k] for k in counts}
    # the new sessions' walk (a short page, and the look past it for a page cap) and the
    # change feed of older sessions
    assert second.pages <= asked["list"] <= 3, asked
    assert asked["session"] == second.refreshed <= store.pending_refresh and asked["logs"] == 0
    assert str(second).startswith("sync: 0 new, 0 updated") and isinstance(second, SyncResult)
    pd.testing.assert_frame_equal(store.load_sessions(), got)


def test_pending_sessions_no_walk_sees_are_refreshed_by_id_when_few(
    tmp_path: Path, small_emu: Emulator
) -> None:
    client = make_client(small_emu)
    truth = sk.load_sessions(client, progress=False)
    done = truth[truth["pending"].eq(False) & truth["trigger"].eq("cron")].iloc[:2]
    stale = done.copy()  # what a store synced while they ran would hold
    stale["pending"] = True
    stale["success"] = False
    stale["updated_at"] = stale["start_time"]
    for column in ("end_time", "duration", "cpu_time"):
        stale[column] = pd.Series(pd.NaT, index=stale.index, dtype=stale[column].dtype)
    for limit, refreshed in ((1, 0), (2, 2)):
        store = Store(tmp_path / f"refresh{limit}", pending_refresh=limit)
        store.upsert("sessions", stale)
        counts = _counting(client)
        result = store.sync(client, trigger="api", progress=False)  # cron is out of scope
        assert result.refreshed == refreshed
        assert counts["session"] == refreshed + result.agent_lookups
        with pytest.warns(sk.SessionKitWarning, match="synced only for trigger=api"):
            got = store.load_sessions().set_index("id").loc[done["id"]]
        assert got["pending"].tolist() == [refreshed == 0] * 2
    with pytest.warns(sk.SessionKitWarning, match="synced only for trigger=api"):
        cron = store.load_sessions(trigger="cron")  # upserted, not synced: no scope covers it
    pd.testing.assert_frame_equal(compact(by_id(cron)), compact(by_id(done)))


def test_details_and_logs_are_fetched_once_and_equal_the_loaders(
    tmp_path: Path, small_emu: Emulator
) -> None:
    client = make_client(small_emu)
    counts = _counting(client)
    store = Store(tmp_path / "d")
    first = store.sync(client, details="failed", logs=True, progress=False)
    sessions = store.load_sessions()
    failed = sessions[sessions["pending"].eq(False) & sessions["success"].eq(False)]
    assert len(failed) >= 10
    assert first.details == len(failed) == first.logs
    assert counts["logs"] == len(failed)
    assert counts["session"] == first.details + first.agent_lookups
    assert set(store.manifest()["details"]) == set(failed["id"])
    for entity in ("eval_runs", "spans", "agents", "logs"):
        want = getattr(sk, f"load_{entity}")(failed, client, progress=False)
        assert len(want) > 0, entity
        pd.testing.assert_frame_equal(getattr(store, f"load_{entity}")(failed), want, obj=entity)
    before = dict(counts)
    again = store.sync(client, details="failed", logs=True, progress=False)
    assert again.details == again.logs == 0
    assert counts["logs"] == before["logs"]
    assert counts["session"] - before["session"] == again.refreshed
    # a wider selection fetches only what is missing
    chosen = sessions[sessions["pending"].eq(False)]["id"].iloc[:30].tolist()
    third = store.sync(client, details=chosen, progress=False)
    assert third.details == len(set(chosen) - set(failed["id"]))
    assert set(store.load_agents(chosen)["session_id"]) == set(chosen)
    # the key is in no file of the store
    for file in files_under(store.path):
        assert small_emu.key.encode() not in file.read_bytes(), file


def test_incremental_syncs_in_live_mode_lose_and_repeat_nothing(tmp_path: Path) -> None:
    with Emulator(sessions=800, seed=5, live=2.0, clock_speed=60.0, key=CANARY_KEY) as emu:
        client = make_client(emu, concurrency=3)
        store = Store(tmp_path / "live", overlap="1min")
        first = store.sync(client, progress=False)
        stored = store.load_sessions()
        pending = set(stored.loc[stored["pending"].eq(True), "id"])
        assert first.new == len(stored) >= 800 and pending
        results = []
        for _ in range(3):
            time.sleep(0.8)  # ~50 emulated seconds: sessions arrive, pending ones complete
            results.append(store.sync(client, progress=False))
        assert sum(r.new for r in results) > 20 and sum(r.updated for r in results) > 0
        assert all(r.pages < 10 for r in results), [r.pages for r in results]
        cutoff = pd.Timestamp(emu.now(), unit="ns", tz="UTC")
        store.sync(client, progress=False)
        now = emu.now()  # the truth: every session visible at one instant, by the records road
        ds = emu.dataset
        visible = [i for i in range(len(ds)) if int(ds.columns["created_ns"][i]) <= now]
        truth = sk.sessions_frame(ds.render_sessions(visible, now))
        fresh = sk.load_sessions(client, progress=False)
    stored = store.load_sessions()
    assert stored["id"].is_unique and stored["agent"].notna().all()
    completed = pending & set(stored.loc[stored["pending"].eq(False), "id"])
    assert completed, "no pending session was seen completing"
    # nothing lost, nothing extra; every session unchanged since the last sync began is equal
    assert set(stored["id"]) <= set(truth["id"])
    assert set(truth.loc[truth["created_at"] <= cutoff, "id"]) <= set(stored["id"])
    stable = truth.loc[truth["updated_at"] <= cutoff, "id"]
    assert len(stable) >= 800
    pd.testing.assert_frame_equal(
        compact(by_id(stored[stored["id"].isin(stable)].drop(columns=["agent", "agent_id"]))),
        compact(by_id(truth[truth["id"].isin(stable)])),
    )
    # and dtype for dtype what sk.load_sessions gives for them (agent names included)
    both = set(stable) & set(fresh.loc[fresh["updated_at"] <= cutoff, "id"])
    assert len(both) >= 0.9 * len(stable)
    pd.testing.assert_frame_equal(
        compact(by_id(stored[stored["id"].isin(both)])),
        compact(by_id(fresh[fresh["id"].isin(both)])),
    )


class _Crash(BaseException):
    """Stands for the process dying: nothing in sessionkit catches a BaseException."""


def test_sync_interrupted_before_any_write_resumes_to_the_full_load(
    tmp_path: Path, small_emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic twin of the kill -9 test: the sync dies just before its k-th file write
    (partition or manifest), for k spread over a whole run; each time the store stays readable
    and the next sync completes it."""
    from sessionkit.store import _files

    client = make_client(small_emu)
    fresh = sk.load_sessions(client, progress=False)
    failed = fresh[fresh["pending"].eq(False) & fresh["success"].eq(False)]
    real = _files.write_atomic
    writes = 0

    def counting(path: Path, write: Any) -> None:
        nonlocal writes
        writes += 1
        if writes == crash_at:
            raise _Crash
        real(path, write)

    monkeypatch.setattr(_files, "write_atomic", counting)
    options: dict[str, Any] = {"details": "failed", "logs": True, "progress": False}
    crash_at = 0
    Store(tmp_path / "count", batch_pages=2, details_chunk=10).sync(client, **options)
    total = writes
    assert total > 60
    for crash_at in sorted({2, 5, *range(total // 5, total, total // 5)}):
        writes = 0
        store = Store(tmp_path / f"crash{crash_at}", batch_pages=2, details_chunk=10)
        with pytest.raises(_Crash):
            store.sync(client, **options)
        assert store.load_sessions()["id"].is_unique
        crash_at = 0
        store.sync(client, **options)
        pd.testing.assert_frame_equal(by_id(store.load_sessions()), by_id(compact(fresh)))
        assert (
            set(store.manifest()["details"]) == set(failed["id"]) == set(store.manifest()["logs"])
        )
        assert set(store.load_spans()["session_id"]) == set(failed["id"])


_CHILD = """
import json, os, sys
import sessionkit as sk
from sessionkit.store import Store
client = sk.Client(os.environ["SK_TEST_KEY"], base_url=sys.argv[1], logs_base_url=sys.argv[2],
                   region_urls=json.loads(sys.argv[4]), concurrency=2, timeout=10.0)
store = Store(sys.argv[3], batch_pages=2, details_chunk=15)
print("started", flush=True)
store.sync(client, details="failed", logs=True, progress=False)
print("finished", flush=True)
"""


def test_sync_killed_at_random_points_leaves_a_readable_store_that_resumes(tmp_path: Path) -> None:
    rng = random.Random(20261128)
    path = tmp_path / "killed"
    with Emulator(sessions=2500, seed=31, key=CANARY_KEY, faults=Faults(latency=0.004)) as emu:
        env = {**os.environ, "SK_TEST_KEY": emu.key}
        kills, interrupted = 0, 0
        for _ in range(6):
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _CHILD,
                    emu.catalyst_url,
                    emu.api_url,
                    str(path),
                    orjson.dumps(emu.region_urls).decode(),
                ],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert child.stdout is not None and child.stdout.readline().strip() == "started"
            time.sleep(rng.uniform(0.05, 0.7))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                kills += 1
            child.wait()
            if not path.exists():
                continue
            store = Store(path)  # readable after every kill: frames, SQL, no repeated id
            partial = store.load_sessions()
            assert partial["id"].is_unique
            assert store.sql("SELECT count(*) AS n FROM sessions")["n"].tolist() == [len(partial)]
            with warnings.catch_warnings():  # "never synced" warnings: the kill may come first
                warnings.simplefilter("ignore", sk.SessionKitWarning)
                store.load_spans()
                store.load_logs()
            failed = partial["pending"].eq(False) & partial["success"].eq(False)
            interrupted += len(partial) < 2500 or len(store.manifest()["details"]) < failed.sum()
        assert kills >= 3 and interrupted >= 2, "the syncs finished before they could be killed"
        client = make_client(emu)
        store = Store(path)
        store.sync(client, details="failed", logs=True, progress=False)
        fresh = sk.load_sessions(client, progress=False)
        pd.testing.assert_frame_equal(by_id(store.load_sessions()), by_id(compact(fresh)))
        failed = fresh[fresh["pending"].eq(False) & fresh["success"].eq(False)]
        assert (
            set(store.manifest()["details"]) == set(failed["id"]) == set(store.manifest()["logs"])
        )
        pd.testing.assert_frame_equal(
            store.load_spans(failed), sk.load_spans(failed, client, progress=False)
        )
        pd.testing.assert_frame_equal(
            store.load_logs(failed), sk.load_logs(failed, client, progress=False)
        )
        leftovers = [f for f in files_under(path) if f.name.endswith(".tmp")]
        assert leftovers == []  # the resumed sync removed what the killed ones left


def test_the_change_feed_leaves_no_gap_when_pages_are_answered_out_of_order() -> None:
    """~1,000 sessions arrive per second while pages are answered in random order (latency
    jitter, 8 in flight): every session that existed when the sync's change feed (an offset
    walk, ``sort=updated`` newest first) began and did not change during it is on some page
    (one that changed has moved to the front, for the next walk)."""
    faults = Faults(latency_jitter=0.03)
    with Emulator(sessions=2000, seed=8, live=50.0, clock_speed=20.0, faults=faults) as emu:
        client = make_client(emu, concurrency=8)
        for _ in range(2):
            begin = emu.now()
            seen: set[str] = set()
            feed = client.iter_session_pages(
                {"sort": "updated", "direction": "desc"}, walk="offset", ramp=True
            )
            for page in feed:
                assert page.repeated <= seen
                seen.update(page.ids)
            ds, end = emu.dataset, emu.now()
            n = len(ds)
            updated, created = ds.updated_ns(end)[:n], ds.columns["created_ns"][:n]
            # the live dataset grows concurrently: compare over the rows both arrays hold
            n = min(n, len(updated), len(created))
            arrived = int((created > begin).sum())
            must = {
                ds.columns["id"][i] for i in range(n) if created[i] <= begin and updated[i] <= begin
            }
            assert arrived > 100 and len(must) >= 1900
            assert must <= seen, f"{len(must - seen)} sessions missed by the walk"


def test_sync_adapts_to_a_server_page_cap(tmp_path: Path, faulty: Emulator) -> None:
    faulty.faults = Faults(page_cap=30)
    result = Store(tmp_path / "capped").sync(make_client(faulty), progress=False)
    assert result.new == 700 and result.pages >= 700 // 30


def test_cli_sync(
    tmp_path: Path,
    small_emu: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse
    import importlib

    from sessionkit.cli import run_command, sync

    connect_module = importlib.import_module("sessionkit.connect")  # the module, not sk.connect
    monkeypatch.setattr(connect_module, "_default", None)  # restored after the test
    monkeypatch.setenv("AGENTUITY_SDK_KEY", small_emu.key)
    monkeypatch.setenv("AGENTUITY_CATALYST_URL", small_emu.catalyst_url)
    monkeypatch.setenv("AGENTUITY_API_URL", small_emu.api_url)
    parser = argparse.ArgumentParser()
    sync.configure(parser)
    path = tmp_path / "cli"
    args = parser.parse_args(["--store", str(path), "--trigger", "cron", "--no-progress"])
    assert run_command(sync.COMMAND, args) == 0
    assert capsys.readouterr().out.startswith("sync: ")
    stored = Store(path).load_sessions(trigger="cron")  # the scope it was synced for
    assert len(stored) > 0 and set(stored["trigger"]) == {"cron"}
    assert run_command(sync.COMMAND, args) == 0  # incremental: the scope (trigger=cron) is known
    assert capsys.readouterr().out.startswith("sync: 0 new, 0 updated")
    from sessionkit.store._files import exclusive_lock

    with exclusive_lock(path / ".lock"):
        assert run_command(sync.COMMAND, args) == 3
    assert f"process {os.getpid()}" in capsys.readouterr().err


def test_loaders_read_through_the_store(tmp_path: Path) -> None:
    with Emulator(sessions=300, seed=31) as emu:
        client = sk.Client(
            emu.key,
            base_url=emu.catalyst_url,
            logs_base_url=emu.api_url,
            region_urls=emu.region_urls,
        )
        store = sk.Store(tmp_path / "s")
        store.sync(client, progress=False)
    via_loader = sk.load_sessions(store=store, trigger="cron", progress=False)
    pd.testing.assert_frame_equal(via_loader, store.load_sessions(trigger="cron"))
    assert len(via_loader) > 0 and set(via_loader["trigger"]) == {"cron"}


def test_detail_loads_of_never_synced_sessions_warn_with_the_count_and_how(
    tmp_path: Path, small_client: sk.Client
) -> None:
    store = Store(tmp_path / "no-details")
    store.sync(small_client, progress=False)
    sessions = store.load_sessions()
    for loader in (store.load_spans, store.load_eval_runs, store.load_logs):
        with pytest.warns(sk.SessionKitWarning, match=r"never had their (details|logs) synced"):
            assert loader().empty
    some = sessions[sessions["pending"].eq(False)].head(30)  # (pending ones change: not stored)
    with pytest.warns(sk.SessionKitWarning, match=r"30 of the 30 sessions.*store\.sync\(details="):
        sk.load_spans(some, store=store)
    store.sync(small_client, details=some["id"].head(10).tolist(), progress=False)
    with pytest.warns(sk.SessionKitWarning, match="20 of the 30 sessions"):
        spans = sk.load_spans(some, store=store)
    assert set(spans["session_id"]) <= set(some["id"].head(10)) and len(spans) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(store.load_spans(some.head(10))) == len(spans)


def test_a_synced_store_reads_back_exactly_what_the_api_gives(
    tmp_path: Path, small_client: sk.Client
) -> None:
    """The whole frame, every column, dtype strings included (Parquet's list<element> is not
    the loaders' list<item>)."""
    store = Store(tmp_path / "exact")
    store.sync(small_client, progress=False)
    api = by_id(sk.load_sessions(small_client, progress=False))
    local = by_id(sk.load_sessions(store=store))
    pd.testing.assert_frame_equal(local, api)
    assert [str(t) for t in local.dtypes] == [str(t) for t in api.dtypes]


def test_a_demo_store_counts_relative_times_from_the_demo_now_and_warns_on_no_match(
    tmp_path: Path,
) -> None:
    client = sk.connect(demo=True)
    store = Store(tmp_path / "demo")
    store.sync(client, progress=False)
    assert store.demo_now == client.demo_now
    api = sk.load_sessions(client, since="7d", progress=False)
    local = sk.load_sessions(store=store, since="7d")
    assert len(api) > 100 and sorted(local["id"]) == sorted(api["id"])
    with pytest.warns(sk.SessionKitWarning, match=r"env values in the store: \[.*'production'"):
        assert store.load_sessions(env="prod").empty


def test_a_store_synced_for_one_agent_says_other_loads_may_be_partial(
    demo_client: sk.Client, tmp_path: Path
) -> None:
    store = sk.Store(tmp_path / "s")
    store.sync(demo_client, agent="support-triage", progress=False)
    with pytest.warns(sk.SessionKitWarning, match=r"synced only for agent='support-triage'"):
        everything = store.load_sessions()  # all the store has, but not all the project has
    assert len(everything) > 0
    with pytest.warns(sk.SessionKitWarning, match="may be partial"):
        store.load_sessions(env="production")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the scope it was synced for: no word
        mine = store.load_sessions(agent="support-triage")
        store.load_sessions(agent="support-triage", env="production")
    assert len(mine) == len(everything)
    store.sync(demo_client, progress=False, details="none")  # the whole project now
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(store.load_sessions()) == 3000


def test_sync_of_a_filter_matching_nothing_warns_with_the_values_that_exist(
    demo_client: sk.Client, tmp_path: Path
) -> None:
    store = sk.Store(tmp_path / "s")
    with pytest.warns(sk.SessionKitWarning, match=r"No sessions match env='prod'.*'production'"):
        result = store.sync(demo_client, env="prod", progress=False)
    assert (result.new, result.updated, result.unchanged) == (0, 0, 0)
