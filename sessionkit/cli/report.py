"""``sessionkit report``: write the self-contained cost & reliability report.

Exit status: 0 written, 1 an error (nothing written), 2 bad usage or no session matching the
filters, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..analysis import DEFAULT_EVIDENCE, DETAIL_BUDGET
from ..connect import connect
from ..loaders import load_sessions
from ..report import FORMATS, render_from_client
from ._common import (
    Command,
    matching,
    nonempty,
    nonnegative_float,
    nonnegative_int,
    os_failure,
    require_writable_dir,
    require_writable_file,
)
from ._filters import add_filter_options, filter_values


def configure(p: argparse.ArgumentParser) -> None:
    """Add the options of ``sessionkit report`` to ``p``."""
    add_filter_options(p)
    p.add_argument(
        "--out",
        type=nonempty,
        default=None,
        help="where to write the report (default: report.html, or report.md with "
        "--format markdown)",
    )
    p.add_argument("--format", choices=FORMATS, default="html", help="default: %(default)s")
    p.add_argument(
        "--csv",
        type=nonempty,
        default=None,
        metavar="DIR",
        help="also write every table as CSV into DIR",
    )
    p.add_argument(
        "--details",
        type=nonnegative_int,
        default=DETAIL_BUDGET,
        metavar="N",
        help="sessions whose details (spans, eval runs) are read for the findings, hotspots "
        "and evals: a sample stratified by agent and day; 0 = none (default: %(default)s)",
    )
    p.add_argument(
        "--min-evidence",
        type=nonnegative_float,
        default=DEFAULT_EVIDENCE,
        metavar="E",
        help="the findings' threshold, as -log10 of the q-value: 3 means q <= 0.001 "
        "(default: %(default)g)",
    )
    p.add_argument(
        "--store",
        type=nonempty,
        default=None,
        metavar="DIR",
        help="read sessions from this local store and reuse its details (the rest of the "
        "sample is fetched from the API)",
    )
    p.add_argument(
        "--demo", action="store_true", help="use the bundled emulator even when a key is set"
    )


def run(args: argparse.Namespace) -> int:
    """Write the report and print where it is (and the findings); returns 0. Raises a
    :class:`CommandError`: status 1 when a path cannot be written, 2 when no session matches."""
    out = args.out or ("report.md" if args.format == "markdown" else "report.html")
    require_writable_file(out, f"cannot write report to {out}", "--out")
    if args.csv:
        require_writable_dir(args.csv, f"cannot write CSV tables to {args.csv}", "--csv")
    client = connect(demo=True) if args.demo else connect() if args.store is None else None
    now = client.demo_now if client is not None else None
    filters = filter_values(args, now=now)  # relative times from the client's now
    if client is not None:
        matching(  # one session says whether there is anything to report, before the long load
            "report",
            lambda: load_sessions(client, limit=1, progress=False, agent_names=False, **filters),
            is_empty=lambda probe: probe.empty,
            fallback="no session matches these filters.",
        )
    report = render_from_client(
        client,
        fmt=args.format,
        details=args.details,
        store=args.store,
        min_evidence=args.min_evidence,
        **filters,
    )
    try:
        report = report.write(out, csv_dir=args.csv)
    except OSError as exc:
        raise os_failure(exc, f"cannot write report to {out}") from exc
    print(f"Report written to {Path(out).resolve()}")
    for rank, sentence in enumerate(report.incidents, start=1):
        print(f"  finding {rank}: {sentence}")
    if report.csv_dir:
        print(f"Tables written as CSV to {report.csv_dir.resolve()}")
    return 0


COMMAND = Command(
    name="report",
    help="write a self-contained cost & reliability report",
    description="Write a self-contained cost & reliability report (HTML with charts, or "
    "Markdown), optionally with every table as CSV.",
    interrupted="no report was written; run report again",
    configure=configure,
    run=run,
)
