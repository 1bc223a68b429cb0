"""Every plot helper, the filter and the report on a large sessions frame (default 1M rows).

The frame is built from the emulator's generator through the fast page path (no HTTP), with
the ``agent`` column added from the dataset's agent table. Each figure is the median of
``--repeat`` runs.

    python benchmarks/bench_plots.py [--sessions 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import orjson
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, table, timed

from sessionkit import frames, plot, schema
from sessionkit.emulator import generate
from sessionkit.filtering import filter_frame
from sessionkit.report import build_report


def sessions_frame(n: int) -> pd.DataFrame:
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
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frame = sessions_frame(args.sessions)
    helpers = {
        "cost_over_time": lambda: plot.cost_over_time(frame),
        "cost_breakdown": lambda: plot.cost_breakdown(frame),
        "tokens_vs_cost (20k sample)": lambda: plot.tokens_vs_cost(frame),
        "duration_distribution": lambda: plot.duration_distribution(frame),
        "latency_over_time": lambda: plot.latency_over_time(frame),
        "success_rate_over_time": lambda: plot.success_rate_over_time(frame),
        "failure_families_chart": lambda: plot.failure_families_chart(frame),
        "filter_frame (agent + status + error text)": lambda: filter_frame(
            frame, agents=["support-triage"], statuses=["failed"], error_text="timeout"
        ),
    }
    rows = []
    for name, draw in helpers.items():
        seconds, _ = timed(lambda d=draw: (d(), plt.close("all")), repeat=args.repeat)
        rows.append((name, f"{seconds:.2f} s"))
    with tempfile.TemporaryDirectory() as tmp:
        seconds, _ = timed(lambda: build_report(frame, out=Path(tmp) / "r.html"), repeat=1)
    rows.append(("build_report (HTML, sessions only)", f"{seconds:.2f} s"))
    print(f"Plot helpers and report on {len(frame):,} sessions — {machine()}")
    print(table(rows, ("helper", "median time")))


if __name__ == "__main__":
    main()
