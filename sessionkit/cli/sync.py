"""``sessionkit sync``: bring a local store up to date from the command line.

Exit status: 0 synced, 1 an error, 2 bad usage or a filter matching nothing, 3 when another
sync holds the store, 130 Ctrl-C (the store keeps what was written).
"""

from __future__ import annotations

import argparse

from ..connect import connect
from ..store import DEFAULT_PATH, Store, StoreLockedError, SyncResult
from ..store._layout import local_path
from ._common import (
    Command,
    CommandError,
    matching,
    nonempty,
    os_failure,
    require_writable_dir,
)
from ._filters import add_filter_options, filter_values


def configure(p: argparse.ArgumentParser) -> None:
    """Add the options of ``sessionkit sync`` to ``p``."""
    p.add_argument(
        "--store",
        type=nonempty,
        default=str(DEFAULT_PATH),
        help="store directory (default: %(default)s)",
    )
    add_filter_options(
        p,
        help={
            "since": "history bound of the first sync (default: the whole history)",
        },
    )
    p.add_argument(
        "--details",
        help="also store eval runs, spans and agents of: all, failed, none, or comma-separated "
        "session ids (default: none)",
    )
    p.add_argument(
        "--logs", action="store_true", help="also store the logs of the --details sessions"
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
    return not result.matched  # refreshed pending sessions are no match of the filters


def run(args: argparse.Namespace) -> int:
    """Sync the store and print the summary once (sync itself prints nothing); returns 0.
    Raises a :class:`CommandError`: status 2 for bad --details or a filter matching nothing,
    3 when another sync holds the store, 1 when the store cannot be written."""
    details = _details(args.details)
    local_path(args.store)  # a URL (s3://...) is refused, never made a local folder
    require_writable_dir(args.store, f"cannot create store at {args.store}", "--store")
    client = connect(demo=True if args.demo else None)
    # every sync filter has its option (since is passed apart); relative times from the
    # client's now (the demo's, on the demo)
    filters = filter_values(args, now=client.demo_now)
    since = filters.pop("since", None)
    try:
        result = matching(
            "sync",
            lambda: Store(args.store).sync(
                client,
                since=since,
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
