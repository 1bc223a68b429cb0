"""``sessionkit sync``: bring a local store up to date from the command line."""

from __future__ import annotations

import argparse
import warnings

from ..cli import error, nonempty, os_error_text, writable_dir
from ..errors import SessionKitError, SessionKitWarning
from ._files import StoreLockedError
from ._store import DEFAULT_PATH


def configure_sync_parser(p: argparse.ArgumentParser) -> None:
    """Add the options of ``sessionkit sync`` to ``p`` (the caller sets ``func=run_sync``)."""
    p.description = (
        "Fetch new and changed sessions into a local Parquet store (the first run fetches the "
        "history, bounded by --since). Read it with sessionkit.store.Store, DuckDB, Polars, "
        "Dask or Spark."
    )
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


def run_sync(args: argparse.Namespace) -> int:
    """Run ``sessionkit sync``; returns the exit status (3 when another sync holds the store)."""
    from ..connect import connect
    from ._store import Store
    from ._sync import _FILTER_NAMES

    details: object = args.details  # "none" is sync()'s word for None too
    if isinstance(details, str) and details not in ("all", "failed", "none"):
        details = [d.strip() for d in details.split(",") if d.strip()]
        wrong = [d for d in details if not d.startswith("sess_")]
        if wrong or not details:
            error(
                "sync",
                "--details takes all, failed, none or comma-separated session "
                f"ids (sess_...); got {args.details!r}",
            )
            return 2
    filters = {  # every sync filter has an option of the same name, but metadata
        name: getattr(args, name)
        for name in _FILTER_NAMES
        if name != "metadata" and getattr(args, name) is not None
    }
    progress = False if args.no_progress else None
    why = writable_dir(args.store)
    if why:
        error("sync", f"cannot create store at {args.store}: {why}; choose another --store")
        return 1
    try:
        client = connect(demo=True if args.demo else None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SessionKitWarning)
            result = Store(args.store).sync(
                client,
                since=args.since,
                details=details,  # type: ignore[arg-type]
                logs=bool(args.logs),
                progress=progress,
                **filters,
            )
        no_match = [w for w in caught if str(w.message).startswith("No sessions match")]
        if no_match and not (result.new or result.updated or result.unchanged):
            error("sync", f"nothing to sync — {no_match[0].message}")
            return 2
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    except StoreLockedError as exc:
        error("sync", str(exc))
        return 3
    except SessionKitError as exc:
        error("sync", str(exc))
        return 1
    except OSError as exc:
        where = exc.filename or args.store
        error("sync", f"cannot write the store at {args.store}: {os_error_text(exc)} ({where})")
        return 1
    print(result)  # the summary, once (sync itself prints nothing)
    return 0
