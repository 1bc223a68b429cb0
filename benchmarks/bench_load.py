"""``sk.load_sessions`` end to end with no network cost, against frame building alone and
against what users write by hand.

N API-shaped sessions (the emulator's generator) are rendered once into JSON bytes, served
by an in-process zero-latency ``httpx.MockTransport`` (the list query answered by bisection
over those bytes, no rendering while timed). In the same run, timed:

* **load_sessions**: the public API over that transport (``agent_names=False``), i.e. the time
  walk (concurrent slices, envelope and page checks) plus frame building and the final sort;
* **frames only**: ``frames.sessions_table_from_pages`` in batches of 50 + ``concat_tables`` +
  ``to_pandas`` on the same sessions in pages of 100 (what loading cannot go below);
* **hand-written**: ``json.loads`` per page (pages of 100 at offsets 0, 100, ...) +
  ``pd.json_normalize`` + ``pd.to_datetime`` / ``pd.to_timedelta`` (as in bench_frames.py).

Targets: load_sessions >= 5x faster than hand-written and within 1.5x of frames only.

    python benchmarks/bench_load.py [--sessions 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, table
from bench_frames import hand_written

import sessionkit as sk
from sessionkit import frames, schema, timestamps
from sessionkit.emulator import generate


class Pages:
    """The list endpoint over ``n`` sessions rendered once: each session's JSON bytes are made
    before timing, in ``start_time`` order, and a request's page is a slice of them joined
    (the time bounds, the sort and ``limit``/``offset`` applied by bisection), so the server
    costs microseconds and no rendering is timed."""

    def __init__(self, n: int) -> None:
        self.n, self.data = n, generate(n, seed=1)
        now = self.data.now_ns
        starts = self.data.columns["start_ns"][:n]
        order = np.argsort(starts, kind="stable")  # oldest first
        self.starts = starts[order]
        self.rows = self.data.render_sessions_json(order, now)
        self.requests = 0

    def slice(self, params: httpx.QueryParams) -> list[bytes]:
        """The rows of one request, in its order."""
        low = 0
        high = self.n
        if "startAfter" in params:
            low = int(np.searchsorted(self.starts, _ns(params["startAfter"]), side="right"))
        if "startBefore" in params:
            high = int(np.searchsorted(self.starts, _ns(params["startBefore"]), side="left"))
        offset, limit = int(params.get("offset", "0")), int(params.get("limit", "10"))
        if params.get("direction", "desc") == "asc":
            return self.rows[low + offset : min(high, low + offset + limit)]
        top = high - offset
        return self.rows[max(low, top - limit) : max(low, top)][::-1]

    def handler(self, request: httpx.Request) -> httpx.Response:
        """The list endpoint, for ``httpx.MockTransport`` (``sort=startTime``, as every walk
        without a limit asks)."""
        self.requests += 1
        params = request.url.params
        if params.get("sort", "created") != "startTime":
            return httpx.Response(400, json={"success": False, "message": "startTime only"})
        body = b'{"success":true,"data":[' + b",".join(self.slice(params)) + b"]}"
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    def aligned(self) -> list[bytes]:
        """The sessions in pages of 100, newest first (the frames-only and hand-written
        inputs: the same bytes the walk reads)."""
        newest = self.rows[::-1]
        return [
            b'{"success":true,"data":[' + b",".join(newest[i : i + 100]) + b"]}"
            for i in range(0, self.n, 100)
        ]


def _ns(text: str) -> int:
    value = timestamps.parse_one(text)
    assert value is not None, text
    return value


def frames_only(bodies: list[bytes]) -> object:
    """The typed sessions frame of ``bodies``, as a walk builds it (batches of 50)."""
    with frames.gc_paused():
        tables = [
            frames.sessions_table_from_pages(bodies[i : i + 50]) for i in range(0, len(bodies), 50)
        ]
        return frames.to_pandas(
            frames.concat_tables(tables, schema.SESSION_COLUMNS), schema.SESSION_COLUMNS
        )


def seconds(fn: object, repeat: int) -> float:
    """Median wall seconds of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20,000 sessions, one repeat")
    args = parser.parse_args()
    n, repeat = (20_000, 1) if args.quick else (args.sessions, args.repeat)
    pages = Pages(n)
    client = sk.Client(
        "bench-" + "0" * 26,
        base_url="http://127.0.0.1:9/bench",
        transport=httpx.MockTransport(pages.handler),
    )

    def load() -> object:
        frame = sk.load_sessions(client, progress=False, agent_names=False)
        assert len(frame) == n
        return frame

    load()  # warm up (imports, the first parse)
    before = pages.requests
    load()
    requests = pages.requests - before
    aligned = pages.aligned()
    walk = seconds(load, repeat)
    floor = seconds(lambda: frames_only(aligned), repeat)
    hand = seconds(lambda: hand_written(aligned), max(1, repeat // 2))
    rows = [
        (
            f"load_sessions, {n:,} sessions (in-process transport)",
            f"{walk:.2f} s",
            "requests",
            f"{requests:,} ({requests / (n / 100):.2f}× the pages)",
        ),
        (
            "frames only, same page bodies",
            f"{floor:.2f} s",
            "load / frames only",
            f"{walk / floor:.2f}× (target <= 1.5×)",
        ),
        (
            "hand-written (json + json_normalize)",
            f"{hand:.2f} s",
            "hand-written / load",
            f"{hand / walk:.1f}× faster (target >= 5×)",
        ),
    ]
    print(f"Loading with no network cost — {machine()}")
    print(table(rows, ("measure", "seconds (median)", "ratio", "value")))


if __name__ == "__main__":
    main()
