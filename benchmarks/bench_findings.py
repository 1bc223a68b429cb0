"""The findings engine on a large project: ``find_incidents`` over 1M sessions with the spans and
eval runs of 50k sampled sessions (``analysis.detail_sample``), time and peak memory.

The sessions frame is built from the emulator's generator through the fast page path (no
HTTP), the details rendered in process and flattened by the loaders' own code
(``details_frames``). Measured in the same run, as baselines: ``detect_changes`` (the
deployment comparison the engine runs among its detectors, the report's former "changes") on
the same frame, and the engine on the sessions alone (no details). Times are medians of
``--repeat`` runs; memory is the peak traced by ``tracemalloc`` during one run (numpy and pandas
report their buffers to it), beside the frames' own size.

    python benchmarks/bench_findings.py [--sessions 1000000] [--details 50000] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, table, timed

from sessionkit import analysis, frames, schema
from sessionkit.details import details_frames
from sessionkit.emulator import generate


def project(n: int, budget: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    """The sessions frame of a generated project of ``n`` sessions (the demo's planted
    incidents, scaled), and the spans and eval runs of a ``budget`` stratified sample; returns
    them and the number of planted incidents."""
    ds = generate(n, seed=2)
    tables = []
    for start in range(0, n, 5000):
        pages = [
            orjson.dumps(
                {"success": True, "data": ds.render_sessions(range(i, min(i + 100, n)), ds.now_ns)}
            )
            for i in range(start, min(start + 5000, n), 100)
        ]
        tables.append(frames.sessions_table_from_pages(pages))
    frame = frames.to_pandas(
        frames.concat_tables(tables, schema.SESSION_COLUMNS), schema.SESSION_COLUMNS
    )
    names = {a["identifier"]: a["name"] for a in ds.meta["agents"]}
    first_stable = frame["agent_ids"].map(
        lambda ids: next((names[x] for x in ids if x in names), None)
    )
    frame.insert(17, "agent", pd.Categorical(first_stable))
    ids = analysis.detail_sample(frame, budget=budget)
    pairs = [(str(i), ds.detail(int(ds.position(str(i))), ds.now_ns)) for i in ids]
    parts = details_frames(pairs, False, frozenset({"spans", "eval_runs"}))
    return frame, parts["spans"], parts["eval_runs"], len(ds.incidents)


def traced_peak(fn: Callable[[], Any]) -> float:
    """Peak memory (MiB) ``tracemalloc`` saw allocated during one run of ``fn``."""
    tracemalloc.start()
    try:
        fn()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def mib(frame: pd.DataFrame) -> float:
    return float(frame.memory_usage(deep=True).sum()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--details", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100k sessions, 5k details, 1 run")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.details, args.repeat = 100_000, 5_000, 1
    t0 = time.perf_counter()
    sessions, spans, evals, planted = project(args.sessions, args.details)
    built = time.perf_counter() - t0
    sampled = spans["session_id"].nunique()
    runs: dict[str, Callable[[], Any]] = {
        "detect_changes (deployments, 3 metrics: the baseline)": lambda: analysis.detect_changes(
            sessions
        ),
        "find_incidents, sessions only": lambda: analysis.find_incidents(sessions),
        "find_incidents, sessions + sampled details": lambda: analysis.find_incidents(
            sessions, spans, evals
        ),
    }
    rows = []
    baseline = None
    found = None
    for name, run in runs.items():
        seconds, result = timed(run, repeat=args.repeat)
        peak = traced_peak(run)
        baseline = baseline or seconds
        ratio = "1.0×" if seconds == baseline else f"{seconds / baseline:.1f}× the baseline"
        rows.append((name, f"{seconds:.2f} s", ratio, f"{peak:,.0f} MiB"))
        found = result
    assert isinstance(found, analysis.Findings)
    print(
        f"Findings on {len(sessions):,} sessions with the details of {sampled:,} sampled "
        f"({len(spans):,} spans, {len(evals):,} eval runs) — {machine()}"
    )
    print(
        table(
            rows, ("what", f"time (median of {args.repeat})", "vs baseline", "peak traced memory")
        )
    )
    print(
        f"\nFrames: sessions {mib(sessions):,.0f} MiB, spans {mib(spans):,.0f} MiB, eval runs "
        f"{mib(evals):,.0f} MiB (built in {built:.0f} s, not timed). {found.tests:,} segment × "
        f"metric tests; {len(found.table)} findings for {planted} planted incidents."
    )


if __name__ == "__main__":
    main()
