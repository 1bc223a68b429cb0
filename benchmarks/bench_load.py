"""``sk.load_sessions`` end to end with no network cost, against frame building alone and
against what users write by hand.

N API-shaped sessions (the emulator's generator) are rendered once into page bodies, served
by an in-process zero-latency ``httpx.MockTransport`` (bytes looked up by offset and limit,
no rendering while timed). In the same run, timed:

* **load_sessions**: the public API over that transport (``agent_names=False``), i.e. the walk
  (concurrent page requests, envelope check, guard) plus frame building;
* **frames only**: ``frames.sessions_table_from_pages`` in batches of 50 + ``concat_tables`` +
  ``to_pandas`` on the very bodies the walk was served (what loading cannot go below);
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
import orjson

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, table
from bench_frames import hand_written

import sessionkit as sk
from sessionkit import frames, schema
from sessionkit.emulator import generate
from sessionkit.loaders import _gc_paused


class Pages:
    """Page bodies of ``n`` sessions, rendered on first request and then served as bytes."""

    def __init__(self, n: int) -> None:
        self.n, self.data = n, generate(n, seed=1)
        self.bodies: dict[tuple[int, int], bytes] = {}

    def body(self, offset: int, limit: int) -> bytes:
        """The ``{success, data}`` page at ``offset`` of at most ``limit`` sessions."""
        key = (offset, limit)
        if key not in self.bodies:
            rows = range(offset, min(offset + limit, self.n))
            records = self.data.render_sessions(rows, self.data.now_ns)
            self.bodies[key] = orjson.dumps({"success": True, "data": records})
        return self.bodies[key]

    def handler(self, request: httpx.Request) -> httpx.Response:
        """The list endpoint, for ``httpx.MockTransport``."""
        params = request.url.params
        body = self.body(int(params.get("offset", "0")), int(params.get("limit", "10")))
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})


def frames_only(bodies: list[bytes]) -> object:
    """The typed sessions frame of ``bodies``, as a walk builds it (batches of 50)."""
    with _gc_paused():
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

    load()  # renders every page the walk asks for (not timed)
    served = list(pages.bodies.values())
    aligned = [pages.body(i, 100) for i in range(0, n, 100)]
    walk = seconds(load, repeat)
    floor = seconds(lambda: frames_only(served), repeat)
    hand = seconds(lambda: hand_written(aligned), max(1, repeat // 2))
    rows = [
        (f"load_sessions, {n:,} sessions (in-process transport)", f"{walk:.2f} s", "", ""),
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
