"""What faults cost: a walk and a detail + logs fan-out at fault rates 0, 10% and 20%.

For each rate an emulator (child process) injects :meth:`Faults.mix` — 429 and 409 with their
headers, 502/503 with HTML or JSON bodies, dropped connections, truncated bodies,
``success: false`` at 200, and a few responses slower than the client's timeout — and the
same client code walks N sessions, then fetches the details and logs of M of them. Every
result is checked against the fault-free one (``assert_frame_equal``): a benchmark that
silently got wrong data would measure nothing. Reported: requests sent, retries, median
seconds and the ratio to the fault-free run.

    python benchmarks/bench_faults.py [--sessions 20000] [--fan-out 1000] [--rates 0,0.1,0.2]
                                      [--repeat 3] [--timeout 1.0] [--quick]

From Python: ``run(sessions=..., fan_out=..., rates=..., repeat=...)`` returns the table rows,
``main(argv)`` prints the table (``--quick``: 5,000 sessions, 300 fan-out, one repeat).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, table

import sessionkit as sk
from sessionkit.emulator import EmulatorProcess, Faults, spawn_emulator_process

T = TypeVar("T")
HEADER = ("fault rate", "measure", "requests", "retries", "seconds (median)", "× fault-free")


def _client(emu: EmulatorProcess, timeout: float) -> sk.Client:
    return sk.Client(
        emu.key,
        base_url=emu.catalyst_url,
        logs_base_url=emu.api_url,
        region_urls=emu.region_urls,
        timeout=timeout,
        max_retries=15,
        retry_budget=120.0,
    )


def _measure(
    emu: EmulatorProcess, timeout: float, repeat: int, fn: Callable[[sk.Client], T]
) -> tuple[float, dict[str, int], T]:
    """Median seconds of ``repeat`` runs of ``fn`` (a fresh client each: no cached detail),
    the last run's client stats and its result."""
    times: list[float] = []
    stats: dict[str, int] = {}
    result: Any = None
    for _ in range(repeat):
        with _client(emu, timeout) as client:
            t0 = time.perf_counter()
            result = fn(client)
            times.append(time.perf_counter() - t0)
            stats = dict(client.stats)
    return statistics.median(times), stats, result


def _walk(client: sk.Client) -> pd.DataFrame:
    return sk.load_sessions(client, progress=False, agent_names=False)


def _fan_out(ids: list[str]) -> Callable[[sk.Client], dict[str, pd.DataFrame]]:
    def run(client: sk.Client) -> dict[str, pd.DataFrame]:
        details = sk.load_details(ids, client, progress=False)
        frames = {p: getattr(details, p) for p in ("sessions", "eval_runs", "spans", "agents")}
        frames["logs"] = sk.load_logs(ids, client, progress=False)
        return frames

    return run


def _by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


def run(
    *,
    sessions: int = 20_000,
    fan_out: int = 1_000,
    rates: Sequence[float] = (0.0, 0.1, 0.2),
    repeat: int = 3,
    timeout: float = 1.0,
    seed: int = 7,
) -> list[tuple[str, ...]]:
    """The table rows; raises AssertionError if any faulty run's frames differ from the
    fault-free run's. The first rate should be 0 (the reference)."""
    if not rates or rates[0] != 0:
        raise ValueError("the first rate must be 0: it is the reference run")
    rows: list[tuple[str, ...]] = []
    reference: dict[str, Any] = {}
    ids: list[str] = []
    for rate in rates:
        faults = Faults.mix(rate, seed=seed) if rate else None
        with spawn_emulator_process(
            sessions=sessions, seed=seed, faults=faults, multi_region=True
        ) as emu:
            walk_s, walk_stats, walk = _measure(emu, timeout, repeat, _walk)
            if not rate:
                step = max(1, len(walk) // fan_out)
                ids = list(walk["id"].iloc[::step].head(fan_out))
            fan_s, fan_stats, fan = _measure(emu, timeout, repeat, _fan_out(ids))
        if not rate:
            reference = {"walk": (walk_s, walk), "fan": (fan_s, fan)}
        else:  # exactly the fault-free data: no row lost, repeated or changed
            assert walk["id"].is_unique, f"rate {rate}: a session appears twice"
            pd.testing.assert_frame_equal(_by_id(walk), _by_id(reference["walk"][1]))
            for name, frame in fan.items():
                pd.testing.assert_frame_equal(frame, reference["fan"][1][name], obj=name)
        for measure, seconds, stats, base in (
            (f"walk {sessions:,} sessions", walk_s, walk_stats, reference["walk"][0]),
            (f"details + logs of {len(ids):,}", fan_s, fan_stats, reference["fan"][0]),
        ):
            rows.append(
                (
                    f"{rate:.0%}",
                    measure,
                    f"{stats['requests']:,}",
                    f"{stats['retries']:,} ({stats['retries'] / max(stats['requests'], 1):.0%})",
                    f"{seconds:.2f}",
                    f"{seconds / base:.2f}×",
                )
            )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--fan-out", type=int, default=1_000)
    parser.add_argument("--rates", default="0,0.1,0.2", help="comma-separated, the first 0")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1.0, help="client timeout (s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="5,000 / 300, one repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.fan_out, args.repeat = 5_000, 300, 1
    rates = [float(r) for r in args.rates.split(",")]
    rows = run(
        sessions=args.sessions,
        fan_out=args.fan_out,
        rates=rates,
        repeat=args.repeat,
        timeout=args.timeout,
        seed=args.seed,
    )
    print(
        f"Faults: walk and fan-out under Faults.mix(rate) (slow responses stall 3 s; client "
        f"timeout {args.timeout:g} s, concurrency 8) — {machine()}"
    )
    print(table(rows, HEADER))
    print("Every faulty run returned exactly the fault-free frames (checked in the benchmark).")


if __name__ == "__main__":
    main()
