"""How fast the emulator serves a full walk of GET /session (it must not be the bottleneck).

The emulator runs in a child process (off this process's GIL); the client is plain httpx with
keep-alive, page size 100, no injected latency. Prints sessions/s for a cold walk (a fresh
emulator process: every record rendered on demand) with sequential pages and with 8 in flight,
then warm walks (the same process again) at concurrency 1 and 8. The target is the cold
sequential walk: what a first ``load_sessions`` of a large project meets.

    python benchmarks/bench_emulator.py [--sessions 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, table

from sessionkit.emulator import spawn_emulator_process

TARGET = 20_000  # sessions/s of the cold sequential walk


def walk(base: str, key: str, total: int, concurrency: int) -> float:
    """Seconds to fetch every page of ``total`` sessions with ``concurrency`` requests in flight."""
    offsets = list(range(0, total, 100))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60
    ) as http:

        def page(offset: int) -> int:
            r = http.get("/session", params={"limit": 100, "offset": offset})
            r.raise_for_status()
            return len(r.json()["data"])

        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            rows = sum(pool.map(page, offsets))
        elapsed = time.perf_counter() - t0
    assert rows == total, (rows, total)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=100_000)
    args = parser.parse_args()
    n = args.sessions
    rows: list[tuple[str, ...]] = []

    def row(label: str, seconds: float) -> None:
        rows.append((label, f"{n:,}", f"{seconds:.2f} s", f"{n / seconds:,.0f}"))

    with spawn_emulator_process(sessions=n) as emu:  # fresh process: nothing rendered yet
        row("cold, concurrency 1", walk(emu.catalyst_url, emu.key, n, 1))
    with spawn_emulator_process(sessions=n) as emu:
        row("cold, concurrency 8", walk(emu.catalyst_url, emu.key, n, 8))
        for label, concurrency in (("warm, concurrency 1", 1), ("warm, concurrency 8", 8)):
            row(label, walk(emu.catalyst_url, emu.key, n, concurrency))
    print(f"Emulator full walk, page size 100 — {machine()}")
    print(table(rows, ("walk", "sessions", "time", "sessions/s")))
    print(f"Target: >= {TARGET:,} sessions/s on the cold sequential walk.")


if __name__ == "__main__":
    main()
