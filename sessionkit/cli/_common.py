"""The ``sessionkit`` command: ``sessionkit demo`` and ``sessionkit emulator``.

Also the one home of what every subcommand shares about bad input: argparse types that turn
a bad value into a usage error (exit 2), :func:`error` for a one-line message on stderr, and
:func:`run_command`, which turns Ctrl-C, a :class:`SessionKitError` or an :class:`OSError`
into one line and an exit status instead of a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: What each subcommand says after "interrupted; " when Ctrl-C stops it.
_INTERRUPTED = {
    "sync": "the store keeps everything written so far, run sync again to resume",
    "report": "no report was written; run report again",
    "demo": "nothing more was written; run demo again",
    "emulator": "the emulator stopped",
}


def error(command: str, message: str) -> None:
    """Print ``sessionkit <command>: <message>`` as one line on stderr (the message's lines
    become sentences of it)."""
    lines = [" ".join(line.split()) for line in message.splitlines()]
    lines = [line for line in lines if line]
    text = " ".join(
        line if i == len(lines) - 1 or line[-1] in ".;:!?" else line + "."
        for i, line in enumerate(lines)
    )
    print(f"sessionkit {command}: {text}", file=sys.stderr)


def os_error_text(exc: OSError) -> str:
    """``[Errno 20] Not a directory: '/dev/null/x'`` → ``Not a directory``."""
    return exc.strerror or str(exc)


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = nonnegative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def nonnegative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text}")
    return value


def rate(text: str) -> float:
    """argparse type: a probability, 0..1."""
    value = nonnegative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a rate between 0 and 1, not {text}")
    return value


def nonempty(text: str) -> str:
    """argparse type: a non-blank string (leave the option out to mean "all")."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty (leave the option out for all)")
    return text


def writable_file(path: str | os.PathLike[str]) -> str | None:
    """Why a file cannot be written at ``path`` (None when it looks writable): checked before
    the slow part of a command, so a bad ``--out`` fails in a second, not after the load."""
    target = Path(path)
    if target.is_dir():
        return "it is a directory"
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{parent} is not writable"
    return None


def writable_dir(path: str | os.PathLike[str]) -> str | None:
    """Why a directory cannot be created or written at ``path`` (None when it looks fine)."""
    target = Path(path)
    current = target
    while not current.exists():
        current = current.parent
    if not current.is_dir():
        return f"{current} is not a directory" if current != target else "it is a file"
    if not os.access(current, os.W_OK | os.X_OK):
        return f"{current} is not writable"
    return None


def run_command(
    command: str, func: Callable[[argparse.Namespace], int], args: argparse.Namespace
) -> int:
    """``func(args)``, with Ctrl-C (exit 130), a :class:`SessionKitError` (exit 1) and an
    :class:`OSError` (exit 1) reported as one line on stderr instead of a traceback, and
    sessionkit's warnings as one ``sessionkit COMMAND: warning: ...`` line each."""
    from .errors import SessionKitError, SessionKitWarning

    shown = warnings.showwarning
    said: set[str] = set()

    def one_line(message: Warning | str, category: type[Warning], *rest: Any, **kw: Any) -> None:
        if issubclass(category, SessionKitWarning):  # ours: one line, no source line, once
            text = " ".join(str(message).split())
            if text not in said:
                said.add(text)
                print(f"sessionkit {command}: warning: {text}", file=sys.stderr, flush=True)
        else:
            shown(message, category, *rest, **kw)

    warnings.showwarning = one_line
    try:
        return func(args)
    except KeyboardInterrupt:
        error(command, f"interrupted; {_INTERRUPTED.get(command, 'run it again')}")
        return 130
    except SessionKitError as exc:
        error(command, str(exc))
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        error(command, f"{os_error_text(exc)}{where}")
        return 1
    finally:
        warnings.showwarning = shown


def _demo(args: argparse.Namespace) -> int:
    """Load the demo sessions through the client and print a short summary."""
    import pandas as pd

    from .analysis import summary_by_agent
    from .connect import connect
    from .display import format_money, format_rate, format_timestamp, readable
    from .loaders import load_sessions

    why = writable_file(args.out) or (
        writable_dir(Path(args.out).with_suffix("")) if args.csv else None
    )
    if why:
        error("demo", f"cannot write report to {args.out}: {why}; choose another --out")
        return 1
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
        type=nonempty,
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
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:  # while modules were still loading
        print("sessionkit: interrupted", file=sys.stderr)
        return 130
    return run_command(args.command, args.func, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
