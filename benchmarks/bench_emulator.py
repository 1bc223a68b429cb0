"""How fast the emulator serves a full walk of GET /session (it must not be the bottleneck).

The emulator runs in a child process (off this process's GIL); the client is plain httpx with
keep-alive, page size 100, no injected latency. Prints sessions/s for the first (cold: records
rendered on demand) and a second (warm) walk, at concurrency 1 and 8.

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
    with spawn_emulator_process(sessions=n) as emu:
        for label, concurrency in (
            ("cold, concurrency 8", 8),
            ("warm, concurrency 1", 1),
            ("warm, concurrency 8", 8),
        ):
            seconds = walk(emu.catalyst_url, emu.key, n, concurrency)
            rows.append((label, f"{n:,}", f"{seconds:.2f} s", f"{n / seconds:,.0f}"))
    print(f"Emulator full walk, page size 100 — {machine()}")
    print(table(rows, ("walk", "sessions", "time", "sessions/s")))
    print("Target: >= 20,000 sessions/s.")


if __name__ == "__main__":
    main()
