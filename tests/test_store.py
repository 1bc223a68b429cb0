"""The local store: round trips, pushdown, SQL, Dask, permissions, locking, and sync against the
emulator (incremental in live mode, no-change cost, details once, kill -9 at random points)."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

import sessionkit as sk
from sessionkit import frames, schema
from sessionkit.agents import with_agent_id
from sessionkit.emulator import Emulator, Faults
from sessionkit.errors import SessionKitError
from sessionkit.store import Store, StoreLockedError, SyncResult

from .conftest import CANARY_KEY, by_id, make_client

DAY0 = pd.Timestamp("2026-09-07T00:00:00Z")  # a Monday
AGENTS = [
    ("agent_" + c * 40, name)
    for c, name in zip("abc", ("billing", "search", "triage"), strict=True)
]


# --------------------------------------------------------------------------- synthetic data


def _records(n: int, *, days: int = 60, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` session objects as the API sends them, spread over ``days`` days from DAY0."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        created = (
            DAY0 + pd.Timedelta(seconds=rng.uniform(0, days * 86400 - 60)) + pd.Timedelta(i, "ns")
        )
        pending = rng.random() < 0.08
        agent_id, _ = AGENTS[i % 3]
        meta: dict[str, Any] | None = None
        if i % 3 == 0:
            meta = {"tier": rng.choice(["gold", "free"]), "nested": {"n": rng.randint(0, 9)}}
        elif i % 3 == 1:
            meta = {"flag": rng.random() < 0.5}
        out.append(
            {
                "id": f"sess_{rng.getrandbits(128):032x}",
                "created_at": created.isoformat(),
                "updated_at": (created + pd.Timedelta(seconds=4)).isoformat(),
                "start_time": (created + pd.Timedelta(milliseconds=3)).isoformat(),
                "end_time": None if pending else (created + pd.Timedelta(seconds=4)).isoformat(),
                "deleted": False,
                "deleted_at": None,
                "deleted_by": None,
                "duration": None if pending else rng.randint(10**8, 4 * 10**9),
                "cpu_time": None if pending else rng.randint(10**6, 10**9),
                "org_id": "org_1",
                "project_id": rng.choice(["proj_a", "proj_b"]),
                "deployment_id": rng.choice(["", "dep_1"]),
                "agent_ids": ["agentid_" + agent_id[6:], agent_id],
                "trigger": rng.choice(["api", "cron", "email", "agent"]),
                "env": rng.choice(["production", "preview"]),
                "devmode": rng.random() < 0.1,
                "pending": pending,
                "success": (not pending) and rng.random() < 0.85,
                "error": None,
                "metadata": meta,
                "llm_cost": round(rng.uniform(0, 0.05), 6),
                "total_cost": round(rng.uniform(0.05, 0.2), 6),
                "llm_prompt_token_count": rng.randint(0, 5000),
                "llm_completion_token_count": rng.choice([None, rng.randint(0, 900)]),
                "method": "POST",
                "url": "/api/run",
                "route_id": "route_1",
                "thread_id": rng.choice([None, "thread_1"]),
                "user_data": None,
            }
        )
    return out


def _with_agent(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the ``agent`` column ``sk.load_sessions`` adds (after ``agent_ids``)."""
    names = dict(AGENTS)
    labels = frame["agent_ids"].map(lambda ids: names.get(ids[-1]))
    out = frame.copy()
    out.insert(
        out.columns.get_loc("agent_ids") + 1,
        "agent",
        pd.Categorical(labels.to_numpy(dtype=object), categories=sorted(set(labels.dropna()))),
    )
    return with_agent_id(out)


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    return _with_agent(sk.sessions_frame(_records(1500)))


@pytest.fixture
def filled(tmp_path: Path, sessions: pd.DataFrame) -> Store:
    store = Store(tmp_path / "store")
    store.upsert("sessions", sessions)
    return store


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as a load of just these rows gives it: only the categories its rows use, and
    no free-form (``metadata.*``) column without a value."""
    fixed = {c.name for c in schema.SESSION_COLUMNS} | {"agent", "agent_id"}
    empty = [c for c in frame.columns if c not in fixed and frame[c].isna().all()]
    out = frame.drop(columns=empty)
    for name, dtype in out.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype) and name != "severity":
            out[name] = out[name].cat.remove_unused_categories()
    return out


def _files_under(root: Path) -> Iterator[Path]:
    for dirpath, _, names in os.walk(root):
        for name in names:
            yield Path(dirpath) / name


# --------------------------------------------------------------------------- round trips


def test_sessions_round_trip_equal_dtype_for_dtype(filled: Store, sessions: pd.DataFrame) -> None:
    back = filled.load_sessions()
    assert {c for c in sessions.columns if c.startswith("metadata.")} == {
        "metadata.tier",
        "metadata.nested.n",
        "metadata.flag",
    }
    pd.testing.assert_frame_equal(by_id(back), by_id(sessions))
    assert str(back["agent"].dtype) == "category" and back["agent"].notna().all()
    assert len(filled.days()) == 60
    # default order: created_at descending, as sk.load_sessions
    assert back["created_at"].is_monotonic_decreasing


def test_upsert_latest_updated_at_wins_and_never_duplicates(
    filled: Store, sessions: pd.DataFrame
) -> None:
    newer = sessions.iloc[:40].copy()
    newer["updated_at"] += pd.Timedelta(minutes=5)
    newer["total_cost"] = 99.0
    older = sessions.iloc[40:60].copy()
    older["updated_at"] -= pd.Timedelta(minutes=5)
    older["total_cost"] = -1.0
    assert filled.upsert("sessions", pd.concat([newer, older])) == (0, 40, 20)
    back = filled.load_sessions().set_index("id")
    assert back.index.is_unique and len(back) == len(sessions)
    assert (back.loc[newer["id"], "total_cost"] == 99.0).all()
    assert (back.loc[older["id"], "total_cost"] != -1.0).all()
    assert filled.upsert("sessions", sessions.iloc[60:90]) == (0, 0, 30)


def _details_of(sessions: pd.DataFrame) -> dict[str, pd.DataFrame]:
    ids = sessions["id"].tolist()
    tree = {
        "id": "r",
        "operation": "HTTP POST",
        "duration": 12.5,
        "attributes": {"http.method": "POST", "http.path": "/api/run"},
        "children": [
            {
                "id": "a",
                "operation": "agent.run",
                "duration": 10.25,
                "attributes": {"@agentuity/agentName": "billing"},
            },
            {
                "id": "l",
                "operation": "gen_ai.chat",
                "duration": 3.0,
                "error": "boom",
                "attributes": {"gen_ai.request.model": "m1", "gen_ai.usage.input_tokens": 12},
            },
        ],
    }
    runs = [
        (
            sid,
            {
                "id": f"evalrun_{i:032x}",
                "created_at": "2026-09-08T10:00:00.5Z",
                "eval_id": "ev_1",
                "pending": False,
                "success": True,
                "error": None,
                "result": {
                    "success": True,
                    "passed": i % 2 == 0,
                    "score": i / 100,
                    "metadata": {"judge": "j1"},
                },
            },
        )
        for i, sid in enumerate(ids)
    ]
    with pytest.warns(sk.SchemaWarning, match="LOUD"):
        logs = frames.logs_frame(
            (sid, {"body": f"line {k}", "severity": sev, "timestamp": f"2026-09-08T10:00:0{k}Z"})
            for sid in ids
            for k, sev in enumerate(("info", "WARNING", "loud"))
        )
    return {
        "eval_runs": sk.eval_runs_frame(runs),
        "spans": sk.spans_frame((sid, tree) for sid in ids),
        "agents": frames.agents_frame(
            (sid, {"name": "billing", "identifier": AGENTS[0][0]}) for sid in ids
        ),
        "logs": logs,
    }


def test_details_round_trip_equal_dtype_for_dtype(filled: Store, sessions: pd.DataFrame) -> None:
    chosen = sessions.iloc[::50]
    details = _details_of(chosen)
    for entity, frame in details.items():
        filled.upsert(entity, frame)
    assert list(details["logs"]["severity"].cat.categories)[-1] == "LOUD"
    for entity, frame in details.items():
        loader = getattr(filled, f"load_{entity}")
        pd.testing.assert_frame_equal(loader(chosen), frame, obj=entity)  # pruned by created_at
        pd.testing.assert_frame_equal(loader(chosen["id"].tolist()), frame, obj=entity)
        assert len(loader(chosen.iloc[:3])) == 3 * len(frame) // len(chosen)
    # replacing a session's rows replaces them all (no duplicates)
    filled.upsert("spans", details["spans"])
    assert len(filled.load_spans()) == len(details["spans"])
    with pytest.raises(sk.InvalidArgumentError, match="not in the store"):
        filled.upsert(
            "agents", frames.agents_frame([("sess_" + "0" * 32, {"name": "x", "identifier": "y"})])
        )


def test_empty_store_gives_full_typed_frames(tmp_path: Path) -> None:
    store = Store(tmp_path / "nothing")
    for entity in ("sessions", "eval_runs", "spans", "agents", "logs"):
        got = getattr(store, f"load_{entity}")()
        # what the loaders return when nothing matches (sk.load_logs gives ordered severities)
        want = frames.logs_frame([]) if entity == "logs" else sk.empty_frame(entity)
        if entity == "sessions":  # sessions loads always carry agent_id
            want = with_agent_id(want)
        pd.testing.assert_frame_equal(got, want, obj=entity)
    assert store.sql("SELECT count(*) AS n FROM sessions")["n"].tolist() == [0]
    assert not (tmp_path / "nothing").exists(), "reading must not create the store"


def test_every_file_of_a_dataset_has_its_full_schema(tmp_path: Path) -> None:
    """Readers that take one file's schema (Dask, Polars, Spark) see every column; a filtered
    load has the columns its rows carry, like a load from the API."""
    records = _records(6, days=3, seed=3)
    for r in records:
        r["metadata"] = None
    records[0]["metadata"] = {"a": 1}
    records[1]["metadata"] = {"a": 2.5}  # widens metadata.a to float
    records[2]["metadata"] = {"b": "x"}
    records[3]["metadata"] = {"b": 7}  # clashes with text: kept as text
    store = Store(tmp_path / "schemas")
    for record in records:  # one upsert per session: the schema grows step by step
        store.upsert("sessions", sk.sessions_frame([record]))
    footers = [pq.read_schema(f) for f in store.files()]
    assert len(footers) >= 2 and all(f.equals(footers[0]) for f in footers)
    assert footers[0].field("metadata.a").type == "double"
    assert footers[0].field("metadata.b").type == "string"
    dd = pytest.importorskip("dask.dataframe")
    plain = dd.read_parquet(str(store.dataset_path("sessions"))).compute()
    assert {"metadata.a", "metadata.b"} <= set(plain.columns) and len(plain) == 6
    got = store.load_sessions().set_index("id")
    assert got.loc[records[1]["id"], "metadata.a"] == 2.5
    assert got.loc[records[3]["id"], "metadata.b"] == "7"
    start = pd.Timestamp(records[4]["start_time"])
    only = store.load_sessions(since=start, until=start + pd.Timedelta(1, "ns"))
    assert only["id"].tolist() == [records[4]["id"]]
    assert not any(c.startswith("metadata.") for c in only.columns)


# --------------------------------------------------------------------------- reading with pushdown


class _SpyHandler(pafs.FileSystemHandler):
    """A local filesystem that records every file opened for reading."""

    def __init__(self) -> None:
        self.fs = pafs.LocalFileSystem()
        self.opened: list[str] = []

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def get_type_name(self) -> str:
        return "spy"

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self.fs.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self.fs.get_file_info(selector)

    def open_input_file(self, path: str) -> Any:
        self.opened.append(path)
        return self.fs.open_input_file(path)

    def open_input_stream(self, path: str) -> Any:
        self.opened.append(path)
        return self.fs.open_input_stream(path)

    def create_dir(self, path: str, recursive: bool) -> None:
        raise NotImplementedError

    def delete_dir(self, path: str) -> None:
        raise NotImplementedError

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        raise NotImplementedError

    def delete_root_dir_contents(self) -> None:
        raise NotImplementedError

    def delete_file(self, path: str) -> None:
        raise NotImplementedError

    def move(self, src: str, dest: str) -> None:
        raise NotImplementedError

    def copy_file(self, src: str, dest: str) -> None:
        raise NotImplementedError

    def open_output_stream(self, path: str, metadata: Any) -> Any:
        raise NotImplementedError

    def open_append_stream(self, path: str, metadata: Any) -> Any:
        raise NotImplementedError


def test_one_week_filter_opens_only_that_weeks_partitions(
    filled: Store, sessions: pd.DataFrame
) -> None:
    spy = _SpyHandler()
    store = Store(filled.path, filesystem=pafs.PyFileSystem(spy))
    since, until = DAY0 + pd.Timedelta(days=14), DAY0 + pd.Timedelta(days=21)
    week = store.load_sessions(since=since, until=until, trigger=["cron", "api"], success=True)
    want = sessions[
        (sessions["start_time"] >= since)
        & (sessions["start_time"] < until)
        & sessions["trigger"].isin(["cron", "api"])
        & sessions["success"].eq(True)
    ]
    assert len(want) > 20
    pd.testing.assert_frame_equal(by_id(week), by_id(_compact(want)))
    week_days = {f"day={(since + pd.Timedelta(days=d)):%Y-%m-%d}" for d in range(7)}
    opened = {Path(p).parent.name for p in spy.opened}
    assert opened == week_days, sorted(opened)
    assert {p.parent.name for p in store.files(since=since, until=until)} == week_days
    spy.opened.clear()
    store.load_sessions()
    assert len({Path(p).parent.name for p in spy.opened}) == 60  # the spy does see every open


def test_every_filter_matches_pandas(filled: Store, sessions: pd.DataFrame) -> None:
    s = sessions
    cases: list[tuple[dict[str, Any], pd.Series]] = [
        ({"trigger": "cron"}, s["trigger"] == "cron"),
        ({"env": "preview"}, s["env"] == "preview"),
        ({"success": False}, s["success"] == False),  # noqa: E712
        ({"devmode": True}, s["devmode"] == True),  # noqa: E712
        ({"project_id": "proj_b"}, s["project_id"] == "proj_b"),
        ({"deployment_id": "dep_1"}, s["deployment_id"] == "dep_1"),
        ({"thread_id": "thread_1"}, s["thread_id"] == "thread_1"),
        ({"agent": AGENTS[1][0]}, s["agent"] == "search"),
        ({"agent": "agentid_" + "c" * 40}, s["agent"] == "triage"),
        ({"metadata": {"tier": "gold"}}, s["metadata.tier"] == "gold"),
        ({"metadata": {"nested": {"n": 3}}}, s["metadata.nested.n"] == 3),
        ({"metadata": {"flag": True}}, s["metadata.flag"] == True),  # noqa: E712
        ({"metadata": {"missing": 1}}, s["id"] == ""),
        ({"since": DAY0 + pd.Timedelta(days=30)}, s["start_time"] >= DAY0 + pd.Timedelta(days=30)),
        (
            {"until": DAY0 + pd.Timedelta(days=3, hours=5)},
            s["start_time"] < DAY0 + pd.Timedelta(days=3, hours=5),
        ),
    ]
    for kwargs, mask in cases:
        want = s[mask.fillna(False).astype(bool)]
        if want.empty:  # nothing matches: the empty frame comes with a warning
            with pytest.warns(sk.SessionKitWarning, match="No sessions in"):
                got = filled.load_sessions(**kwargs)
        else:
            got = filled.load_sessions(**kwargs)
        assert sorted(got["id"]) == sorted(want["id"]), kwargs
    top = filled.load_sessions(sort="duration", direction="asc", limit=25)
    assert (
        top["id"].tolist()
        == s.sort_values(["duration", "id"], na_position="last")["id"].head(25).tolist()
    )
    assert list(filled.load_sessions(columns=["id", "total_cost"]).columns) == ["id", "total_cost"]
    with pytest.raises(sk.InvalidArgumentError, match="trigger"):
        filled.load_sessions(trigger="carrier-pigeon")


# --------------------------------------------------------------------------- SQL and Dask


def test_sql_equals_pandas_groupby_with_dtypes_restored(
    filled: Store, sessions: pd.DataFrame
) -> None:
    got = filled.sql(
        "SELECT agent, day, sum(total_cost) AS total_cost, count(*) AS n, sum(duration) AS duration, "
        "min(created_at) AS created_at FROM sessions GROUP BY ALL ORDER BY agent, day"
    )
    day = sessions["created_at"].dt.strftime("%Y-%m-%d").rename("day")
    want = (
        sessions.groupby(["agent", day], observed=True)
        .agg(
            total_cost=("total_cost", "sum"),
            n=("id", "size"),
            duration=("duration", "sum"),
            created_at=("created_at", "min"),
        )
        .reset_index()
    )
    assert len(got) == len(want) > 150
    assert got["agent"].astype(str).tolist() == want["agent"].astype(str).tolist()
    assert got["day"].astype(str).tolist() == want["day"].tolist()
    np.testing.assert_allclose(got["total_cost"], want["total_cost"], rtol=1e-12)
    assert got["n"].tolist() == want["n"].tolist()
    assert (got["duration"] == want["duration"]).all() and (
        got["created_at"] == want["created_at"]
    ).all()
    dtypes = {c: str(t) for c, t in got.dtypes.items()}
    assert dtypes["agent"] == "category" and dtypes["created_at"] == "datetime64[ns, UTC]"
    assert dtypes["duration"] == "timedelta64[ns]" and dtypes["total_cost"] == "float64"
    assert dtypes["n"] == "Int64"
    # SELECT * through SQL gives the loader's values and dtypes (ns timestamps included)
    everything = filled.sql("SELECT * EXCLUDE (day) FROM sessions")
    pd.testing.assert_frame_equal(by_id(everything)[sessions.columns], by_id(sessions))
    assert filled.duckdb().sql("SELECT count(*) FROM sessions").fetchall() == [(len(sessions),)]


def test_dask_recipe_on_a_local_cluster(filled: Store, sessions: pd.DataFrame) -> None:
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        df = dd.read_parquet(
            str(filled.dataset_path("sessions")), columns=["agent", "day", "total_cost"]
        )
        got = df.groupby(["agent", "day"], observed=True)["total_cost"].sum().compute()
    day = sessions["created_at"].dt.strftime("%Y-%m-%d").rename("day")
    want = sessions.groupby([sessions["agent"].astype(str), day], observed=True)["total_cost"].sum()
    got.index = got.index.set_levels([lvl.astype(str) for lvl in got.index.levels])
    pd.testing.assert_series_equal(
        got.sort_index(), want.sort_index(), check_names=False, check_index_type=False
    )


# --------------------------------------------------------------------------- files


def test_files_and_dirs_are_private_even_with_a_permissive_umask(
    tmp_path: Path, sessions: pd.DataFrame
) -> None:
    old = os.umask(0)
    try:
        store = Store(tmp_path / "private")
        store.upsert("sessions", sessions.iloc[:200])
        store.upsert("spans", _details_of(sessions.iloc[:3])["spans"])
    finally:
        os.umask(old)
    paths = [store.path, *(Path(d) for d, _, _ in os.walk(store.path))]
    for directory in paths:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    files = list(_files_under(store.path))
    assert len(files) > 10
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    # nothing but Parquet, the JSON manifest and the lock: no pickles, no temporary files left
    assert {f.name for f in files} == {"part-0.parquet", "manifest.json", ".lock"}
    assert orjson.loads((store.path / "manifest.json").read_bytes())["format"] == 1
    for file in files:
        if file.suffix == ".parquet":
            assert b"pandas" not in (pq.read_schema(file).metadata or {}), file


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
    pd.testing.assert_frame_equal(by_id(got), by_id(_compact(fresh)))
    assert got["created_at"].is_monotonic_decreasing
    before = dict(counts)
    second = store.sync(client, progress=False)
    assert (second.new, second.updated) == (0, 0)
    asked = {k: counts[k] - before[k] for k in counts}
    assert asked["list"] == second.pages <= 2, asked
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
    pd.testing.assert_frame_equal(_compact(by_id(cron)), _compact(by_id(done)))


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
    for file in _files_under(store.path):
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
        _compact(by_id(stored[stored["id"].isin(stable)].drop(columns=["agent", "agent_id"]))),
        _compact(by_id(truth[truth["id"].isin(stable)])),
    )
    # and dtype for dtype what sk.load_sessions gives for them (agent names included)
    both = set(stable) & set(fresh.loc[fresh["updated_at"] <= cutoff, "id"])
    assert len(both) >= 0.9 * len(stable)
    pd.testing.assert_frame_equal(
        _compact(by_id(stored[stored["id"].isin(both)])),
        _compact(by_id(fresh[fresh["id"].isin(both)])),
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
        pd.testing.assert_frame_equal(by_id(store.load_sessions()), by_id(_compact(fresh)))
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
        pd.testing.assert_frame_equal(by_id(store.load_sessions()), by_id(_compact(fresh)))
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
        leftovers = [f for f in _files_under(path) if f.name.endswith(".tmp")]
        assert leftovers == []  # the resumed sync removed what the killed ones left


def test_walk_leaves_no_gap_when_pages_are_answered_out_of_order() -> None:
    """~1,000 sessions arrive per second while pages are answered in random order (latency
    jitter, 8 in flight): every session that existed when a walk began and did not change
    during it is on some page (one that changed has moved to the front, for the next walk)."""
    from sessionkit.store import walk_pages

    faults = Faults(latency_jitter=0.03)
    with Emulator(sessions=2000, seed=8, live=50.0, clock_speed=20.0, faults=faults) as emu:
        client = make_client(emu, concurrency=8)
        for _ in range(2):
            begin = emu.now()
            seen: set[str] = set()
            for page, repeated in walk_pages(client, {"sort": "updated", "direction": "desc"}):
                assert repeated <= seen
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

    from sessionkit.store._cli import configure_sync_parser, run_sync

    connect_module = importlib.import_module("sessionkit.connect")  # the module, not sk.connect
    monkeypatch.setattr(connect_module, "_default", None)  # restored after the test
    monkeypatch.setenv("AGENTUITY_SDK_KEY", small_emu.key)
    monkeypatch.setenv("AGENTUITY_CATALYST_URL", small_emu.catalyst_url)
    monkeypatch.setenv("AGENTUITY_API_URL", small_emu.api_url)
    parser = argparse.ArgumentParser()
    configure_sync_parser(parser)
    path = tmp_path / "cli"
    args = parser.parse_args(["--store", str(path), "--trigger", "cron", "--no-progress"])
    assert run_sync(args) == 0
    assert capsys.readouterr().out.startswith("sync: ")
    stored = Store(path).load_sessions(trigger="cron")  # the scope it was synced for
    assert len(stored) > 0 and set(stored["trigger"]) == {"cron"}
    assert run_sync(args) == 0  # incremental: the scope (trigger=cron) is known
    assert capsys.readouterr().out.startswith("sync: 0 new, 0 updated")
    from sessionkit.store._files import exclusive_lock

    with exclusive_lock(path / ".lock"):
        assert run_sync(args) == 3
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


def test_sql_aggregates_of_durations_come_back_as_timedeltas(filled: Store) -> None:
    got = filled.sql(
        "SELECT agent, sum(duration) AS total_duration, avg(duration) AS mean_duration, "
        "median(cpu_time) AS p50_cpu_time, count(*) AS n FROM sessions GROUP BY agent"
    )
    for name in ("total_duration", "mean_duration", "p50_cpu_time"):
        assert str(got[name].dtype) == "timedelta64[ns]", name
    assert str(got["n"].dtype) == "Int64"
    frame = filled.load_sessions()
    want = frame.groupby("agent", observed=True)["duration"].sum()
    total = got.set_index("agent")["total_duration"]
    assert (total.reindex(want.index) == want).all()


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
