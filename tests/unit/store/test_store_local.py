"""The local store without a server: round trips, pushdown, SQL, Dask, file permissions."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

import sessionkit as sk
from sessionkit import frames
from sessionkit.agents import with_agent_id
from sessionkit.store import Store
from tests.conftest import by_id, compact, files_under

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
    with pytest.warns(sk.SchemaWarning, match="metadata.b: .* became JSON text"):
        for record in records:  # one upsert per session: the schema grows step by step
            store.upsert("sessions", sk.sessions_frame([record]))
    footers = [pq.read_schema(f) for f in store.files()]
    assert len(footers) >= 2 and all(f.equals(footers[0]) for f in footers)
    assert footers[0].field("metadata.a").type == "double"
    assert footers[0].field("metadata.b").type == frames.JSON  # each value's JSON text
    dd = pytest.importorskip("dask.dataframe")
    plain = dd.read_parquet(str(store.dataset_path("sessions"))).compute()
    assert {"metadata.a", "metadata.b"} <= set(plain.columns) and len(plain) == 6
    got = store.load_sessions().set_index("id")
    assert got.loc[records[1]["id"], "metadata.a"] == 2.5
    assert got.loc[records[3]["id"], "metadata.b"] == "7"
    assert got.loc[records[2]["id"], "metadata.b"] == '"x"'  # a string, in quotes: not 7's kind
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
    pd.testing.assert_frame_equal(by_id(week), by_id(compact(want)))
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
    files = list(files_under(store.path))
    assert len(files) > 10
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    # nothing but Parquet, the JSON manifest and the lock: no pickles, no temporary files left
    assert {f.name for f in files} == {"part-0.parquet", "manifest.json", ".lock"}
    assert orjson.loads((store.path / "manifest.json").read_bytes())["format"] == 1
    for file in files:
        if file.suffix == ".parquet":
            assert b"pandas" not in (pq.read_schema(file).metadata or {}), file


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
