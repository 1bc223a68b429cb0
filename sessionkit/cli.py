"""The ``sessionkit`` command: ``sessionkit demo`` and ``sessionkit emulator``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd


def _demo(args: argparse.Namespace) -> int:
    """Load the demo sessions through the client and print a short summary."""
    from .analysis import summary_by_agent
    from .connect import connect
    from .display import format_money, format_rate, format_timestamp, readable
    from .loaders import load_sessions

    client = connect(demo=True)
    sessions = load_sessions(client, progress=False)
    done = sessions[sessions["pending"].eq(False)]
    failed = int(done["success"].eq(False).sum())
    print(
        f"\nLoaded {len(sessions):,} sessions in {len(sessions.columns)} typed columns "
        f"({sessions.memory_usage(deep=True).sum() / 2**20:.1f} MiB) from {client.backend}."
    )
    print(
        f"Span: {format_timestamp(sessions['start_time'].min())} to "
        f"{format_timestamp(sessions['start_time'].max())}; "
        f"{int(sessions['pending'].sum())} pending; total cost "
        f"{format_money(sessions['total_cost'].sum())}; failure rate "
        f"{format_rate(failed / max(len(done), 1))} ({failed:,} of {len(done):,} completed).\n"
    )
    table = readable(summary_by_agent(sessions))
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print(table.to_string())
    from .report import report_from_client

    out = Path(args.out)
    report = report_from_client(
        client, out=out, csv_dir=out.with_suffix("") if args.csv else None, progress=False
    )
    print("\nDetected changes:")
    for sentence in report.incidents:
        print(f"  - {sentence}")
    print(f"\nReport: {report.path.resolve()}  (open it in a browser; it needs no network)")
    if report.csv_dir:
        print(f"Tables as CSV: {report.csv_dir.resolve()}")
    return 0


def _emulator_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("emulator", help="run the local Agentuity Sessions API emulator")
    try:
        from .emulator import _cli
    except ImportError:  # pragma: no cover - the emulator ships with the package
        return
    _cli.configure_parser(parser)
    parser.set_defaults(func=_cli.run)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sessionkit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sessionkit`` command."""
    parser = argparse.ArgumentParser(
        prog="sessionkit", description="Analyse Agentuity agent sessions (and emulate the API)."
    )
    parser.add_argument("--version", action="version", version=f"sessionkit {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="load the demo data through the emulator, summarise it, write a report"
    )
    demo.add_argument(
        "--out",
        default="reports/demo-report.html",
        help="where to write the HTML report (default: %(default)s)",
    )
    demo.add_argument(
        "--csv",
        action="store_true",
        help="also write the report's tables as CSV, into a folder named like --out without "
        "its suffix (default: reports/demo-report/)",
    )
    demo.set_defaults(func=_demo)
    _emulator_parser(sub)
    from .report import configure_report_parser, run_report
    from .store._cli import configure_sync_parser, run_sync

    report = sub.add_parser("report", help="write a self-contained cost & reliability report")
    configure_report_parser(report)
    report.set_defaults(func=run_report)

    sync = sub.add_parser("sync", help="sync sessions (and optionally details) into a local store")
    configure_sync_parser(sync)
    sync.set_defaults(func=run_sync)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sessionkit`` console script."""
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
