"""``sessionkit sync``: bring a local store up to date from the command line.

Exit status: 0 synced, 1 an error, 2 bad usage or a filter matching nothing, 3 when another
sync holds the store, 130 Ctrl-C (the store keeps what was written).
"""

from __future__ import annotations

import argparse

from ..connect import connect
from ..store import DEFAULT_PATH, Store, StoreLockedError, SyncResult
from ..store._sync import _FILTER_NAMES
from ._common import (
    Command,
    CommandError,
    matching,
    nonempty,
    os_failure,
    require_writable_dir,
)


def configure(p: argparse.ArgumentParser) -> None:
    """Add the options of ``sessionkit sync`` to ``p``."""
    p.add_argument(
        "--store",
        type=nonempty,
        default=str(DEFAULT_PATH),
        help="store directory (default: %(default)s)",
    )
    p.add_argument(
        "--since",
        type=nonempty,
        help="history bound of the first sync: ISO time with a zone, a bare date (that UTC "
        "day) or 30d, 12h (default: the whole history)",
    )
    p.add_argument(
        "--until",
        type=nonempty,
        help="only sessions that started before this time (default: no bound)",
    )
    p.add_argument(
        "--details",
        help="also store eval runs, spans and agents of: all, failed, none, or comma-separated "
        "session ids (default: none)",
    )
    p.add_argument(
        "--logs", action="store_true", help="also store the logs of the --details sessions"
    )
    p.add_argument(
        "--trigger", type=nonempty, action="append", help="only this trigger (repeatable)"
    )
    p.add_argument("--env", type=nonempty, help="only this environment (e.g. production)")
    outcome = p.add_mutually_exclusive_group()
    outcome.add_argument(
        "--success",
        dest="success",
        action="store_true",
        default=None,
        help="only sessions the API marks success=true (default: all)",
    )
    outcome.add_argument(
        "--failed",
        dest="success",
        action="store_false",
        help="only sessions the API marks success=false — which includes still-pending ones",
    )
    p.add_argument(
        "--devmode",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="only (--devmode) or no (--no-devmode) developer-machine sessions (default: all)",
    )
    for name in ("org-id", "project-id", "deployment-id", "thread-id", "agent"):
        p.add_argument(
            f"--{name}",
            type=nonempty,
            help=(
                "only this agent: its name, stable id (agent_...) or a deployment id (agentid_...)"
                if name == "agent"
                else f"only this {name.replace('-', ' ')}"
            ),
        )
    p.add_argument("--demo", action="store_true", help="sync from the bundled emulator's demo data")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _details(text: str | None) -> str | list[str] | None:
    """``--details`` as :meth:`Store.sync` takes it: all, failed, none (which sync reads as
    None too) or a list of session ids; raises a usage :class:`CommandError` (status 2)."""
    if text is None or text in ("all", "failed", "none"):
        return text
    ids = [d.strip() for d in text.split(",") if d.strip()]
    if not ids or any(not d.startswith("sess_") for d in ids):
        raise CommandError(
            "--details takes all, failed, none or comma-separated session ids (sess_...); "
            f"got {text!r}",
            status=2,
        )
    return ids


def _nothing_synced(result: SyncResult) -> bool:
    return not (result.new or result.updated or result.unchanged)


def run(args: argparse.Namespace) -> int:
    """Sync the store and print the summary once (sync itself prints nothing); returns 0.
    Raises a :class:`CommandError`: status 2 for bad --details or a filter matching nothing,
    3 when another sync holds the store, 1 when the store cannot be written."""
    details = _details(args.details)
    filters = {  # every sync filter has an option of the same name, but metadata
        name: getattr(args, name)
        for name in _FILTER_NAMES
        if name != "metadata" and getattr(args, name) is not None
    }
    require_writable_dir(args.store, f"cannot create store at {args.store}", "--store")
    client = connect(demo=True if args.demo else None)
    try:
        result = matching(
            "sync",
            lambda: Store(args.store).sync(
                client,
                since=args.since,
                details=details,
                logs=bool(args.logs),
                progress=False if args.no_progress else None,
                **filters,
            ),
            is_empty=_nothing_synced,
        )
    except StoreLockedError as exc:
        raise CommandError(str(exc), status=3) from exc
    except OSError as exc:
        raise os_failure(exc, f"cannot write the store at {args.store}") from exc
    print(result)
    return 0


COMMAND = Command(
    name="sync",
    help="sync sessions (and optionally details) into a local store",
    description=(
        "Fetch new and changed sessions into a local Parquet store (the first run fetches the "
        "history, bounded by --since). Read it with sessionkit.store.Store, DuckDB, Polars, "
        "Dask or Spark."
    ),
    interrupted="the store keeps everything written so far, run sync again to resume",
    configure=configure,
    run=run,
)
