"""Local store benchmark: sync cost, reload vs re-fetch, and a 10M-session SQL aggregate.

    .venv/bin/python benchmarks/bench_store.py                 # N=20,000 sessions, 10M SQL rows
    .venv/bin/python benchmarks/bench_store.py --sessions 1000000 --repeat 1
    .venv/bin/python benchmarks/bench_store.py --skip-sync --sql-rows 10000000

What is measured (medians of ``--repeat`` runs):

* full sync of N sessions from the emulator into an empty store, then a second sync with
  nothing changed (the incremental walk: a page or two);
* ``store.load_sessions()`` of the N sessions vs ``sk.load_sessions(client)`` re-fetching them
  (same frame: agent names included) — the ratio is the point (goal: >= 50x at 1M);
* a SQL aggregate (cost by agent by day) over ``--sql-rows`` synthetic sessions written directly
  as partitioned Parquet (vectorised numpy → Arrow, every contract column), run in a fresh
  process so its peak memory is the query's, plus a one-week ``load_sessions`` on that store.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import machine, peak_rss_mib, table, timed

import sessionkit as sk
from sessionkit.store import Store

SQL = (
    "SELECT agent, day, sum(total_cost) AS cost, count(*) AS sessions "
    "FROM sessions GROUP BY ALL ORDER BY ALL"
)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


# --------------------------------------------------------------------------- emulator


@contextlib.contextmanager
def emulator(sessions: int) -> Iterator[Any]:
    """The emulator in its own process when available (``spawn_emulator_process``), else in
    this process."""
    from sessionkit import emulator as emu_module

    spawn = getattr(emu_module, "spawn_emulator_process", None)
    if spawn is not None:
        handle = spawn(sessions=sessions, multi_region=True)  # the figures include 421 hops
        if hasattr(handle, "__enter__"):
            with handle as emu:
                yield emu
        else:
            try:
                yield handle
            finally:
                for name in ("close", "stop", "terminate"):
                    if hasattr(handle, name):
                        getattr(handle, name)()
                        break
        return
    with emu_module.Emulator(sessions=sessions, multi_region=True) as emu:
        yield emu


def client_of(emu: Any) -> sk.Client:
    return sk.Client(
        emu.key,
        base_url=emu.catalyst_url,
        logs_base_url=emu.api_url,
        region_urls=emu.region_urls,
        timeout=60.0,
    )


# --------------------------------------------------------------------------- synthetic sessions


def _ids(rng: np.random.Generator, n: int, prefix: bytes) -> pa.Array:
    """``prefix`` + 32 lowercase hex digits per row, vectorised (no Python string per row)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    digits = np.empty((n, 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 15]
    head = np.broadcast_to(np.frombuffer(prefix, dtype=np.uint8), (n, len(prefix)))
    fixed = np.ascontiguousarray(np.concatenate([head, digits], axis=1))
    width = fixed.shape[1]
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(fixed.tobytes()))


def _pick(
    rng: np.random.Generator, n: int, values: list[str], p: list[float] | None = None
) -> pa.Array:
    index = rng.choice(len(values), size=n, p=p).astype(np.int32)
    return pa.DictionaryArray.from_arrays(index, pa.array(values)).cast(pa.string())


def synthetic_day(rng: np.random.Generator, day: pd.Timestamp, n: int) -> pa.Table:
    """``n`` realistic sessions created on ``day``, with every contract column + agent + metadata."""
    ns = pa.timestamp("ns", tz="UTC")
    created = np.sort(day.value + rng.integers(0, 86_400 * 10**9, size=n))
    start = created + rng.integers(0, 5 * 10**6, size=n)
    duration = rng.lognormal(21.5, 1.0, size=n).astype(np.int64)  # ~2 s median, in ns
    pending = rng.random(n) < 0.01
    success = ~pending & (rng.random(n) < 0.9)
    end = np.where(pending, 0, start + duration)
    agents = [f"agent_{i:040x}" for i in range(12)]
    names = ["triage", "billing", "search", "support", "router", "summarise"] * 2
    which = rng.integers(0, len(agents), size=n)
    per_deploy = pa.array([f"agentid_{i + 100:040x}" for i in range(12)])
    stable = pa.array(agents)
    values = pa.concat_arrays([per_deploy.take(pa.array(which)), stable.take(pa.array(which))])
    order = np.empty(2 * n, dtype=np.int64)
    order[0::2] = np.arange(n)
    order[1::2] = np.arange(n) + n
    agent_ids = pa.ListArray.from_arrays(
        pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)), values.take(pa.array(order))
    )
    llm = np.round(rng.gamma(2.0, 0.004, size=n), 6)
    return pa.table(
        {
            "id": _ids(rng, n, b"sess_"),
            "created_at": pa.array(created).cast(ns),
            "updated_at": pa.array(np.where(pending, created, end + 10**6)).cast(ns),
            "start_time": pa.array(start).cast(ns),
            "end_time": pa.array(end, mask=pending).cast(ns),
            "duration": pa.array(duration, mask=pending).cast(pa.duration("ns")),
            "cpu_time": pa.array(duration // 3, mask=pending).cast(pa.duration("ns")),
            "pending": pa.array(pending),
            "success": pa.array(success),
            "error": pa.array(
                np.where(success | pending, None, "agent failed: timeout"), pa.string()
            ),
            "trigger": _pick(
                rng, n, ["api", "cron", "email", "agent", "websocket"], [0.5, 0.2, 0.1, 0.15, 0.05]
            ),
            "env": _pick(rng, n, ["production", "preview", "development"], [0.8, 0.15, 0.05]),
            "devmode": pa.array(rng.random(n) < 0.05),
            "org_id": _pick(rng, n, ["org_1"]),
            "project_id": _pick(rng, n, ["proj_a", "proj_b", "proj_c"]),
            "deployment_id": _pick(rng, n, ["", "deploy_1", "deploy_2"]),
            "agent_ids": agent_ids,
            "agent": pa.array(np.array(names)[which]),
            "thread_id": pa.nulls(n, pa.string()),
            "method": _pick(rng, n, ["POST", "GET"], [0.9, 0.1]),
            "url": _pick(rng, n, ["/api/run", "/api/chat", "https://example.com/hook"]),
            "route_id": _pick(rng, n, ["route_1", "route_2"]),
            "llm_cost": pa.array(llm),
            "total_cost": pa.array(np.round(llm * 1.2 + 0.0004, 6)),
            "llm_prompt_token_count": pa.array(rng.integers(50, 8000, size=n)),
            "llm_completion_token_count": pa.array(rng.integers(10, 2000, size=n)),
            "deleted": pa.array(np.zeros(n, dtype=bool)),
            "deleted_at": pa.nulls(n, ns),
            "deleted_by": pa.nulls(n, pa.string()),
            "user_data": pa.nulls(n, pa.string()),
            "metadata.customer_tier": _pick(rng, n, ["free", "pro", "enterprise"]),
        }
    )


def write_synthetic(store: Store, rows: int, days: int = 365, seed: int = 0) -> float:
    """Write ``rows`` synthetic sessions over ``days`` days into ``store``; returns seconds."""
    rng = np.random.default_rng(seed)
    first = pd.Timestamp("2025-01-01T00:00:00Z")
    per_day = np.full(days, rows // days)
    per_day[: rows % days] += 1
    started = time.perf_counter()
    batch: list[pa.Table] = []
    for d in range(days):
        batch.append(synthetic_day(rng, first + pd.Timedelta(days=d), int(per_day[d])))
        if sum(t.num_rows for t in batch) >= 500_000 or d == days - 1:
            store.upsert("sessions", pa.concat_tables(batch))
            batch = []
    return time.perf_counter() - started


# --------------------------------------------------------------------------- measurements


def _status_mib(field: str) -> float | None:
    """``VmRSS``/``VmHWM`` of this process from /proc (None off Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def sql_only(path: str, repeat: int) -> None:
    """Child process: run the SQL aggregate, then a one-week load; print JSON figures.

    The peak is the process's high-water mark reset just before the query (``ru_maxrss`` would
    carry the parent's peak across ``exec``), so it is the query's peak plus the interpreter.
    """
    store = Store(path)
    store.sql("SELECT 1 AS warm")  # imports, the DuckDB connection and its views
    baseline = _status_mib("VmRSS") or peak_rss_mib()
    reset = _reset_peak()
    seconds, result = timed(lambda: store.sql(SQL), repeat=repeat)
    sql_peak = (_status_mib("VmHWM") if reset else None) or peak_rss_mib()
    first = pd.Timestamp(store.days()[len(store.days()) // 2] + "T00:00:00Z")
    week_s, week = timed(
        lambda: store.load_sessions(since=first, until=first + pd.Timedelta(days=7)), repeat=repeat
    )
    print(
        json.dumps(
            {
                "seconds": seconds,
                "groups": len(result),
                "baseline_rss_mib": baseline,
                "peak_rss_mib": sql_peak,
                "week_seconds": week_s,
                "week_rows": len(week),
                "week_files": len(store.files(since=first, until=first + pd.Timedelta(days=7))),
            }
        )
    )


def reload_only(path: str, repeat: int) -> None:
    """Child process: the first ``load_sessions()`` of a fresh process, then the median."""
    store = Store(path)
    started = time.perf_counter()
    frame = store.load_sessions()
    first = time.perf_counter() - started
    del frame
    median, frame = timed(store.load_sessions, repeat=max(3, repeat))
    print(json.dumps({"first": first, "median": median, "rows": len(frame)}))


def _child(flag: str, path: Path, repeat: int) -> dict[str, Any]:
    """Run this script with ``flag`` on ``path`` in a fresh process; its JSON figures."""
    out = subprocess.run(
        [sys.executable, __file__, flag, str(path), "--repeat", str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def bench_sync(n: int, repeat: int, workdir: Path, rows: list[tuple[str, ...]]) -> None:
    with emulator(n) as emu:
        client = client_of(emu)
        t0 = time.perf_counter()
        total = len(sk.load_sessions(client, progress=False, agent_names=False))
        print(
            f"emulator: {total:,} sessions visible ({time.perf_counter() - t0:.1f} s to list)",
            file=sys.stderr,
        )
        full: list[float] = []
        store = Store(workdir / "sync")
        for _ in range(repeat):
            shutil.rmtree(store.path, ignore_errors=True)
            t0 = time.perf_counter()
            first = store.sync(client, progress=False)
            full.append(time.perf_counter() - t0)
        requests = client.stats["requests"]
        again_s, again = timed(lambda: store.sync(client, progress=False), repeat=repeat)
        again_requests = (client.stats["requests"] - requests) / repeat
        rows.append(
            (
                f"full sync, {total:,} sessions",
                f"{np.median(full):.2f} s",
                f"{first.pages:,} pages, {first.new:,} new",
            )
        )
        rows.append(
            (
                "second sync, nothing changed",
                f"{again_s:.3f} s",
                f"{again.pages} page(s) (10 min overlap), {again.refreshed} pending refreshed by "
                f"id; {again_requests:.0f} request(s) with 421 region hops",
            )
        )
        reload = _child("--reload-only", store.path, repeat)  # a fresh process, as a notebook
        first_s, load_s = reload["first"], reload["median"]
        fetch_s, fetched = timed(
            lambda: sk.load_sessions(client, progress=False), repeat=max(1, min(repeat, 2))
        )
        assert reload["rows"] == len(fetched), (reload["rows"], len(fetched))
        rows.append(
            (
                f"reload {reload['rows']:,} sessions from the store",
                f"{load_s:.3f} s",
                f"first load of a fresh process {first_s:.3f} s",
            )
        )
        rows.append(
            (
                f"re-fetch {len(fetched):,} sessions (sk.load_sessions)",
                f"{fetch_s:.2f} s",
                f"store is {fetch_s / load_s:.0f}x faster ({fetch_s / first_s:.0f}x for the first load)",
            )
        )
        client.close()


def bench_sql(rows_n: int, repeat: int, workdir: Path, rows: list[tuple[str, ...]]) -> None:
    store = Store(workdir / "sql")
    write_s = write_synthetic(store, rows_n)
    size = sum(p.stat().st_size for p in store.path.rglob("*.parquet")) / 2**20
    rows.append(
        (
            f"write {rows_n:,} synthetic sessions (365 days)",
            f"{write_s:.1f} s",
            f"{size:,.0f} MiB of Parquet",
        )
    )
    figures = _child("--sql-only", store.path, repeat)
    rows.append(
        (
            f"SQL cost by agent by day, {rows_n:,} sessions",
            f"{figures['seconds']:.2f} s",
            f"{figures['groups']:,} groups; peak RSS {figures['peak_rss_mib']:,.0f} MiB "
            f"({figures['baseline_rss_mib']:,.0f} MiB before the query)",
        )
    )
    rows.append(
        (
            "load_sessions, one week of it",
            f"{figures['week_seconds']:.2f} s",
            f"{figures['week_rows']:,} rows from {figures['week_files']} partition files",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sessions", type=int, default=20_000, help="emulator sessions (default %(default)s)"
    )
    parser.add_argument("--sql-rows", type=int, default=10_000_000, help="synthetic rows for SQL")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--dir", help="work directory (default: a temporary one, removed)")
    parser.add_argument("--skip-sync", action="store_true")
    parser.add_argument("--skip-sql", action="store_true")
    parser.add_argument("--sql-only", help=argparse.SUPPRESS)
    parser.add_argument("--reload-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sql_only:
        sql_only(args.sql_only, args.repeat)
        return
    if args.reload_only:
        reload_only(args.reload_only, args.repeat)
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        workdir = Path(tmp)
        rows: list[tuple[str, ...]] = []
        if not args.skip_sync:
            bench_sync(args.sessions, args.repeat, workdir, rows)
        if not args.skip_sql:
            bench_sql(args.sql_rows, args.repeat, workdir, rows)
    print(f"\nMachine: {machine()}; medians of {args.repeat} run(s).\n")
    print(table(rows, ("what", "time (median)", "notes")))


if __name__ == "__main__":
    main()
