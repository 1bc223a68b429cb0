"""A wide project in the local store: thousands of distinct metadata keys (one column each).

N sessions spread over D days, each carrying 3 metadata keys drawn from K distinct keys (every
key is used), are served by an in-process zero-latency ``httpx.MockTransport`` (list pages by
offset, session details naming one agent), so the figures are sessionkit's own work. In the
same run, for K keys and for K/2 keys (same N), and for a narrow baseline of 3 keys:

* **load**: ``sk.load_sessions`` of the N sessions (``agent_names=False``): the walk and the
  frame, what the API path costs;
* **sync**: ``Store.sync`` of them into an empty store (walk, frames, agent names, one file per
  day with every column);
* **reload**: ``store.load_sessions()`` of them (a fresh ``Store`` object).

The ratios are sync / load and reload / load; "per 1k columns" divides the wide part of a
figure (its time minus the narrow baseline's) by the thousands of keys: when it stays flat from
K/2 to K keys, the cost is linear in the number of columns (#15 item 16: a sync of 5,000 keys
took 87-110 s, quadratic; the walk 4 s).

    python benchmarks/bench_wide.py [--sessions 10000] [--keys 10000] [--days 28] [--repeat 1]
    python benchmarks/bench_wide.py --quick       # 2,000 sessions, 2,000 keys
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import machine, table

import sessionkit as sk

AGENT = "agent_" + "a" * 40
DEPLOYED = "agentid_" + "b" * 40
DAY0 = pd.Timestamp("2026-10-01T00:00:00Z")


def sessions(n: int, keys: int, days: int) -> list[dict[str, Any]]:
    """``n`` sessions over ``days`` days, each with 3 of ``keys`` metadata keys (all used)."""
    rows = []
    for i in range(n):
        stamp = (DAY0 + pd.Timedelta(seconds=i * days * 86_400 // n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(
            {
                "id": f"sess_{i:032x}",
                "created_at": stamp,
                "updated_at": stamp,
                "start_time": stamp,
                "end_time": stamp,
                "duration": 1_000_000,
                "cpu_time": 1_000,
                "org_id": "org_1",
                "project_id": "proj_1",
                "deployment_id": "deploy_1",
                "agent_ids": [DEPLOYED, AGENT],
                "trigger": "api",
                "env": "production",
                "devmode": False,
                "pending": False,
                "success": True,
                "deleted": False,
                "llm_cost": 0.1,
                "total_cost": 0.2,
                "metadata": {f"key_{(3 * i + j) % keys:05d}": i + j for j in range(3)},
            }
        )
    rows.reverse()  # newest first, as a sync's walk (sort=updated desc) reads them
    return rows


class Server:
    """The list endpoint and session details over ``rows``, as pre-rendered bytes."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.details = {
            r["id"]: orjson.dumps(
                {
                    "success": True,
                    "data": {
                        "session": r,
                        "agents": [{"identifier": AGENT, "name": "alpha"}],
                        "evalRuns": [],
                    },
                }
            )
            for r in rows[:50]
        }
        self.pages: dict[tuple[int, int], bytes] = {}

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/session"):
            offset = int(request.url.params.get("offset", "0"))
            limit = int(request.url.params.get("limit", "10"))
            body = self.pages.get((offset, limit))
            if body is None:
                page = self.rows[offset : offset + limit]
                body = self.pages[(offset, limit)] = orjson.dumps({"success": True, "data": page})
            return httpx.Response(200, content=body, headers={"content-type": "application/json"})
        sid = path.rsplit("/", 1)[-1]
        if sid in self.details:
            return httpx.Response(200, content=self.details[sid])
        return httpx.Response(404, json={"success": False, "message": "not found"})


def client_of(server: Server) -> sk.Client:
    return sk.Client(
        "bench-" + "0" * 26,
        base_url="http://127.0.0.1:9/bench",
        transport=httpx.MockTransport(server.handler),
    )


def median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(n: int, keys: int, days: int, repeat: int, workdir: Path) -> dict[str, float]:
    """Seconds of load, sync (into an empty store) and reload for ``keys`` distinct keys."""
    server = Server(sessions(n, keys, days))
    client = client_of(server)
    out: dict[str, float] = {}

    def load() -> None:
        frame = sk.load_sessions(client, progress=False, agent_names=False)
        assert len(frame) == n, len(frame)

    load()  # renders the page bodies once (not timed)
    out["load"] = median(load, repeat)
    syncs, reloads = [], []
    for r in range(repeat):
        path = workdir / f"store-{keys}-{r}"
        started = time.perf_counter()
        result = sk.Store(path).sync(client, progress=False)
        syncs.append(time.perf_counter() - started)
        assert result.new == n, result
        started = time.perf_counter()
        frame = sk.Store(path).load_sessions()
        reloads.append(time.perf_counter() - started)
        assert len(frame) == n and frame.shape[1] > keys, frame.shape
        shutil.rmtree(path)
    out["sync"] = statistics.median(syncs)
    out["reload"] = statistics.median(reloads)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2,000 sessions and 2,000 keys")
    args = parser.parse_args()
    n, keys = (2_000, 2_000) if args.quick else (args.sessions, args.keys)
    warnings.simplefilter("ignore", sk.SessionKitWarning)
    workdir = Path(tempfile.mkdtemp(prefix="bench-wide-"))
    try:
        narrow = measure(n, 3, args.days, args.repeat, workdir)
        half = measure(n, keys // 2, args.days, args.repeat, workdir)
        full = measure(n, keys, args.days, args.repeat, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def per_k(figures: dict[str, float], what: str, count: int) -> str:
        return f"{(figures[what] - narrow[what]) / (count / 1000):.2f} s"

    rows = []
    for label, count, figures in (
        ("narrow (baseline)", 3, narrow),
        ("half", keys // 2, half),
        ("wide", keys, full),
    ):
        for what in ("load", "sync", "reload"):
            ratio = "1.0×" if what == "load" else f"{figures[what] / figures['load']:.1f}× load"
            wide = per_k(figures, what, count) if count > 3 else "—"
            rows.append((f"{what}, {label}", f"{count:,}", f"{figures[what]:.2f} s", ratio, wide))
    print(
        f"Wide store: {n:,} sessions over {args.days} days, 3 metadata keys each "
        f"(in-process transport, medians of {args.repeat}) — {machine()}"
    )
    print(
        table(
            rows, ("measure", "distinct keys", "seconds", "vs load", "per 1k columns (wide part)")
        )
    )
    flat = {
        what: (full[what] - narrow[what]) / (half[what] - narrow[what])
        for what in ("sync", "reload")
        if half[what] > narrow[what]
    }
    print(
        "Linear in columns when the wide part doubles with the keys: "
        + ", ".join(
            f"{what} ×{ratio:.2f} from {keys // 2:,} to {keys:,} keys"
            for what, ratio in flat.items()
        )
        + " (2.0 = linear; quadratic would be 4.0)."
    )


if __name__ == "__main__":
    main()
