"""``sessionkit demo``: load the demo data through the emulator, say what changed (the
findings first), summarise it, write a report.

Exit status: 0 done, 1 when the report cannot be written, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from .. import status
from ..analysis import summary_by_agent
from ..connect import connect
from ..display import format_money, format_rate, format_timestamp, readable
from ..loaders import load_sessions
from ..report import render_from_client
from ._common import Command, nonempty, require_writable_dir, require_writable_file


def configure(p: argparse.ArgumentParser) -> None:
    """Add the options of ``sessionkit demo`` to ``p``."""
    p.add_argument(
        "--out",
        type=nonempty,
        default="reports/demo-report.html",
        help="where to write the HTML report (default: %(default)s)",
    )
    p.add_argument(
        "--csv",
        action="store_true",
        help="also write the report's tables as CSV, into a folder named like --out without "
        "its suffix (default: reports/demo-report/)",
    )


def run(args: argparse.Namespace) -> int:
    """Load the demo sessions through the client, print the findings (what changed), a short
    summary per agent, write the report and print where it is; returns 0. Raises a
    :class:`CommandError` when --out cannot be written."""
    out = Path(args.out)
    csv_dir = out.with_suffix("") if args.csv else None
    doing = f"cannot write report to {args.out}"
    require_writable_file(out, doing, "--out")
    if csv_dir is not None:
        require_writable_dir(csv_dir, doing, "--out")
    client = connect(demo=True)
    report = render_from_client(client, progress=False)
    findings = report.findings
    print("\nFindings (what changed, strongest first):")
    for rank, sentence in enumerate(report.incidents, start=1):
        print(f"  {rank}. {sentence}")
    if not report.incidents:
        print("  none above the threshold")
    sessions = load_sessions(client, progress=False)
    failed = int(status.failed(sessions).sum())
    completed = failed + int(status.succeeded(sessions).sum())
    print(
        f"\nLoaded {len(sessions):,} sessions in {len(sessions.columns)} typed columns "
        f"({sessions.memory_usage(deep=True).sum() / 2**20:.1f} MiB) from {client.backend}."
    )
    print(
        f"Span: {format_timestamp(sessions['start_time'].min())} to "
        f"{format_timestamp(sessions['start_time'].max())}; "
        f"{int(sessions['pending'].sum())} pending; total cost "
        f"{format_money(sessions['total_cost'].sum())}; failure rate "
        f"{format_rate(failed / max(completed, 1))} ({failed:,} of {completed:,} completed).\n"
    )
    table = readable(summary_by_agent(sessions))
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print(table.to_string())
    report = report.write(out, csv_dir=csv_dir)
    print(
        f"\nReport: {out.resolve()}  (open it in a browser; it needs no network; the findings "
        f"rest on {findings.sessions_analysed:,} sessions, {findings.details_sessions:,} with details)"
    )
    if csv_dir is not None:
        print(f"Tables as CSV: {csv_dir.resolve()}")
    return 0


COMMAND = Command(
    name="demo",
    help="load the demo data through the emulator, say what changed, write a report",
    description="Load the demo data through the bundled emulator, print what changed (the "
    "findings) and a summary per agent, and write a self-contained HTML report.",
    interrupted="nothing more was written; run demo again",
    configure=configure,
    run=run,
)
