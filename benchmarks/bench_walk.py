"""Walks over real HTTP: concurrency against latency, and peak memory against the frame's size.

1. A walk of N sessions from an emulator (child process) answering every request after a fixed
   latency (default 100 ms): sessionkit at concurrency 8 vs the same client at concurrency 1
   (sequential) vs the ideal ``pages × latency / concurrency``. One untimed walk first warms
   the emulator (it renders records on first use), so the figures measure the client.
2. Peak memory of a walk of M sessions (no latency), measured in a fresh child process as the
   growth of its peak RSS over its RSS after imports, against the final frame's deep size.

    python benchmarks/bench_walk.py [--sessions 10000] [--latency 0.1] [--memory-sessions 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, table

import sessionkit as sk
from sessionkit.emulator import Faults, spawn_emulator_process

MEMORY_CHILD = r"""
import json, resource, sys
import sessionkit as sk
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
client = sk.Client(sys.argv[1], base_url=sys.argv[2], logs_base_url=sys.argv[3])
frame = sk.load_sessions(client, progress=False, agent_names=False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": len(frame), "frame": int(frame.memory_usage(deep=True).sum()),
                  "growth": (peak - base) * 1024}))
"""


def timed_walk(emu: object, concurrency: int) -> tuple[float, int]:
    client = sk.Client(
        emu.key,
        base_url=emu.catalyst_url,
        logs_base_url=emu.api_url,  # type: ignore[attr-defined]
        concurrency=concurrency,
    )
    t0 = time.perf_counter()
    sk.load_sessions(client, progress=False, agent_names=False)
    return time.perf_counter() - t0, client.stats["requests"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--memory-sessions", type=int, default=1_000_000)
    args = parser.parse_args()
    rows: list[tuple[str, ...]] = []
    with spawn_emulator_process(sessions=args.sessions, faults=Faults(latency=args.latency)) as emu:
        timed_walk(emu, 8)  # warm-up: the emulator renders records on first use (not timed)
        fast, requests = timed_walk(emu, 8)
        slow, _ = timed_walk(emu, 1)
    pages = args.sessions // 100 + 1  # the pages a walk needs: full ones and the final short one
    ideal = pages * args.latency / 8
    wasted = requests - pages  # speculative requests past the end
    rows.append(
        (
            f"walk {args.sessions:,} sessions, {args.latency * 1000:.0f} ms latency, concurrency 8",
            f"{fast:.2f} s",
            f"{slow / fast:.1f}× faster than sequential ({slow:.2f} s)",
            f"{fast / ideal:.2f}× the ideal ({ideal:.2f} s); {wasted} speculative requests past the end",
        )
    )
    with spawn_emulator_process(sessions=args.memory_sessions) as emu:
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, emu.key, emu.catalyst_url, emu.api_url],
            capture_output=True,
            text=True,
            check=True,
        )
    mem = json.loads(out.stdout.strip().splitlines()[-1])
    rows.append(
        (
            f"peak memory of a walk of {mem['rows']:,} sessions",
            f"{mem['growth'] / 2**20:,.0f} MiB",
            f"frame {mem['frame'] / 2**20:,.0f} MiB",
            f"{mem['growth'] / mem['frame']:.2f}× the frame",
        )
    )
    print(f"Walks over loopback HTTP — {machine()}")
    print(table(rows, ("measure", "value", "comparison", "ratio")))
    print(
        "Targets: >= 6x faster than sequential and within 1.3x of the ideal; peak memory < 3x the frame."
    )


if __name__ == "__main__":
    main()
