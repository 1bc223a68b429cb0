"""Per-session fan-out over real HTTP: details + logs of N sessions against a fixed latency.

An emulator (child process) answers every request after a fixed latency (default 100 ms).
The ids of N sessions are listed once, then ``load_details`` + ``load_logs`` fetch them
(2 × N requests) with a fresh client per run (completed details are cached per client, so a
reused client would send nothing):

* **sessionkit** at the client's default concurrency and at 8 (one row when they are equal);
* **sequential**: the same loaders on a client with ``concurrency=1`` (one request after
  another). It runs once by default (``--sequential-repeat``): it is ~2.2 × N latencies back to
  back, ~220 s at 1,000 sessions, and its spread over 3 runs was 0.2% (22.80–22.85 s at 100);
* **ideal**: ``requests × latency / concurrency``, what the latency alone costs.

One untimed concurrent run first warms the emulator (it renders records on first use). Every
run's frames are checked equal to the sequential run's (``assert_frame_equal``).

    python benchmarks/bench_fanout.py [--sessions 1000] [--latency 0.1] [--repeat 3]
                                      [--sequential-repeat 1] [--concurrency 8] [--quick]

``--quick``: 100 sessions. Targets: >= 6× faster than sequential at concurrency 8 and within
1.3× of the ideal.
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, table

import sessionkit as sk
from sessionkit.emulator import EmulatorProcess, Faults, spawn_emulator_process

PARTS = ("sessions", "eval_runs", "spans", "agents", "routes")
HEADER = (
    "fetch",
    "concurrency",
    "requests",
    "seconds (median, min–max)",
    "vs sequential",
    "vs ideal",
)
TARGET_SPEEDUP = 6.0
TARGET_IDEAL = 1.3


def default_concurrency() -> int:
    """The ``concurrency`` a :class:`sessionkit.Client` gets when none is given."""
    value = inspect.signature(sk.Client).parameters["concurrency"].default
    return int(value)


def _client(emu: EmulatorProcess, concurrency: int | None) -> sk.Client:
    options = {} if concurrency is None else {"concurrency": concurrency}
    return sk.Client(
        emu.key,
        base_url=emu.catalyst_url,
        logs_base_url=emu.api_url,
        region_urls=emu.region_urls,
        **options,  # type: ignore[arg-type]
    )


def fan_out(
    emu: EmulatorProcess, ids: list[str], concurrency: int | None
) -> tuple[float, int, dict[str, pd.DataFrame]]:
    """Seconds, requests sent and the frames of one details + logs fan-out (a fresh client)."""
    with _client(emu, concurrency) as client:
        t0 = time.perf_counter()
        details = sk.load_details(ids, client, progress=False)
        logs = sk.load_logs(ids, client, progress=False)
        seconds = time.perf_counter() - t0
        requests = client.stats["requests"]
    frames = {part: getattr(details, part) for part in PARTS}
    frames["logs"] = logs
    return seconds, requests, frames


def _spread(times: list[float]) -> str:
    median = statistics.median(times)
    if len(times) == 1:
        return f"{median:.2f} (1 run)"
    return f"{median:.2f} ({min(times):.2f}–{max(times):.2f}, {len(times)} runs)"


def run(
    *,
    sessions: int = 1_000,
    latency: float = 0.1,
    repeat: int = 3,
    sequential_repeat: int = 1,
    concurrencies: Sequence[int | None] = (None, 8),
    seed: int = 7,
) -> tuple[list[tuple[str, ...]], dict[int, tuple[float, float]]]:
    """The table rows and, per concurrency, ``(median seconds, ideal seconds)``. ``None`` in
    ``concurrencies`` means the client's default; a level listed twice is measured once."""
    default = default_concurrency()
    levels = list(dict.fromkeys(default if c is None else c for c in concurrencies))
    faults = Faults(latency=latency)
    with spawn_emulator_process(
        sessions=sessions, seed=seed, faults=faults, multi_region=True
    ) as emu:
        with _client(emu, None) as lister:
            listed = sk.load_sessions(lister, progress=False, agent_names=False)
        ids = list(listed["id"].head(sessions))
        fan_out(emu, ids, default)  # warm-up: the emulator renders records on first use
        timings: dict[int, list[float]] = {}
        requests: dict[int, int] = {}
        reference: dict[str, pd.DataFrame] | None = None
        for level, runs in [(1, sequential_repeat)] + [(c, repeat) for c in levels if c != 1]:
            for _ in range(runs):
                seconds, sent, frames = fan_out(emu, ids, level)
                timings.setdefault(level, []).append(seconds)
                requests[level] = sent
                if reference is None:
                    reference = frames
                else:  # the same data whatever the concurrency
                    for name, frame in frames.items():
                        pd.testing.assert_frame_equal(frame, reference[name], obj=name)
    assert reference is not None and len(reference["sessions"]) == len(ids)
    medians = {level: statistics.median(times) for level, times in timings.items()}
    sequential = medians[1]
    rows: list[tuple[str, ...]] = []
    results: dict[int, tuple[float, float]] = {}
    for level, times in timings.items():
        ideal = requests[level] * latency / level
        results[level] = (medians[level], ideal)
        if level == 1:
            name = "sequential (same loaders, concurrency 1)"
        else:
            name = "sessionkit loaders" + (" (default)" if level == default else "")
        rows.append(
            (
                name,
                str(level),
                f"{requests[level]:,}",
                _spread(times),
                "1.0×" if level == 1 else f"**{sequential / medians[level]:.1f}× faster**",
                f"{medians[level] / ideal:.2f}× the ideal ({ideal:.2f} s)",
            )
        )
    return rows, results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000, help="sessions fanned out to")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request")
    parser.add_argument("--repeat", type=int, default=3, help="runs per concurrent level")
    parser.add_argument("--sequential-repeat", type=int, default=1, help="sequential runs")
    parser.add_argument(
        "--concurrency",
        type=int,
        action="append",
        help="levels to measure besides sequential (repeatable; default: the client's default and 8)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="100 sessions")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions = 100
    rows, results = run(
        sessions=args.sessions,
        latency=args.latency,
        repeat=args.repeat,
        sequential_repeat=args.sequential_repeat,
        concurrencies=args.concurrency or (None, 8),
        seed=args.seed,
    )
    print(
        f"Fan-out: load_details + load_logs of {args.sessions:,} sessions, "
        f"{args.latency * 1000:.0f} ms latency per request (emulator in a child process, "
        f"a fresh client per run) — {machine()}"
    )
    print(table(rows, HEADER))
    if 8 in results:
        (seconds, ideal), sequential = results[8], results[1][0]
        met = sequential / seconds >= TARGET_SPEEDUP and seconds / ideal <= TARGET_IDEAL
        print(
            f"Targets at concurrency 8: >= {TARGET_SPEEDUP:g}× faster than sequential and within "
            f"{TARGET_IDEAL:g}× of the ideal — {'met' if met else 'MISSED'} "
            f"({sequential / seconds:.1f}×, {seconds / ideal:.2f}×)."
        )
    print(
        "Requests include the 421 redirects of sessions living in another region (each pays "
        "the latency too); every run returned the sequential run's frames (checked)."
    )


if __name__ == "__main__":
    main()
