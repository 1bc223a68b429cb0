"""``sessionkit store check [--repair]``: what is wrong with a local store, and the repair.

``check`` reads every file of the store whole and prints what is wrong (or that it is
healthy); ``--repair`` puts it right (:meth:`sessionkit.store.Store.repair`: what cannot be
read is moved into ``<store>/quarantine/``, never deleted; the manifest is rebuilt) and prints
what it did and what is still wrong.

Exit status: 0 healthy (after the repair, with ``--repair``), 1 problems found (or left after
the repair) or an error, 2 bad usage (no store at ``--store``), 3 a sync holds the store (a
repair waits for no one), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse

from ..store import DEFAULT_PATH, Store, StoreLockedError
from ..store._layout import ENTITIES, MANIFEST, local_path
from ._common import Command, CommandError, nonempty


def configure(p: argparse.ArgumentParser) -> None:
    """Add the actions of ``sessionkit store`` (``check``) and their options to ``p``."""
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="report what is wrong with the store's files (--repair: put it right)",
        description=(
            "Read every file of a local store and report what is wrong: files that cannot be "
            "read, a manifest that cannot be read or that disagrees with the files, files of "
            "one dataset whose columns disagree, a session stored twice. With --repair, move "
            "what cannot be read into <store>/quarantine/ (never deleted) and rebuild the "
            "manifest, so the next sync fetches what was lost."
        ),
    )
    check.add_argument(
        "--store",
        type=nonempty,
        default=str(DEFAULT_PATH),
        help="store directory (default: %(default)s)",
    )
    check.add_argument(
        "--repair", action="store_true", help="put right what is wrong, then check again"
    )
    check.set_defaults(parser=check)  # its usage errors name `sessionkit store check`


def run(args: argparse.Namespace) -> int:
    """Check (or repair) the store and print the report; returns 0 when the store is healthy
    (after the repair), 1 when problems are found or left. Raises a :class:`CommandError`:
    status 2 when no action is given or there is no store at ``--store``, 3 when a sync holds
    it."""
    if args.action is None:
        raise CommandError(
            "which action? sessionkit store check [--repair] [--store PATH]", status=2
        )
    path = local_path(args.store)  # a URL (s3://...) is refused, exit 2
    if not path.is_dir() or not (
        (path / MANIFEST).exists() or any((path / e).is_dir() for e in ENTITIES)
    ):
        raise CommandError(
            f"no store at {path} (no {MANIFEST} and no dataset directory); give the "
            "directory a sync wrote with --store",
            status=2,
        )
    store = Store(path)
    if args.repair:
        try:
            report = store.repair()
        except StoreLockedError as exc:
            raise CommandError(str(exc), status=3) from exc
    else:
        report = store.check()
    print(report)
    return 0 if report.ok else 1


COMMAND = Command(
    name="store",
    help="look after a local store: check [--repair]",
    description=(
        "Look after a local Parquet store written by `sessionkit sync`. `sessionkit store "
        "check` reports what is wrong with its files; `--repair` puts it right."
    ),
    interrupted="files moved aside so far are in <store>/quarantine/; run it again",
    configure=configure,
    run=run,
)
