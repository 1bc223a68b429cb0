"""The filter panel's update time on a large sessions frame (default 100k rows).

Times one control change end to end (filter, summary, top-sessions table, and the chosen chart
drawn) with the debounce off, as the panel does after its 150 ms debounce.

    python benchmarks/bench_panel.py [--sessions 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, table, timed
from bench_plots import sessions_frame

from sessionkit.widgets import FilterPanel


def time_change(panel: FilterPanel, repeat: int) -> float:
    """Median seconds of one change of the agent selection (cycling through three values)."""
    choices = [("support-triage",), ("doc-extractor", "sms-concierge"), ()]
    state = {"i": 0}

    def change() -> None:
        state["i"] += 1
        with contextlib.redirect_stdout(io.StringIO()):  # no frontend: figures would print
            panel.controls["agents"].value = choices[state["i"] % len(choices)]

    seconds, _ = timed(change, repeat=repeat)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    frame = sessions_frame(args.sessions)
    rows = []
    for plot in ("(none)", "Cost over time", "Success rate over time"):
        seconds = time_change(FilterPanel(frame, debounce=0, plot=plot), args.repeat)
        rows.append((f"one control change, chart: {plot}", f"{seconds * 1000:.0f} ms"))
    print(f"Filter panel on {len(frame):,} sessions — {machine()}")
    print(table(rows, ("update", "median time")))
    print("Target: ~200 ms per change.")


if __name__ == "__main__":
    main()
