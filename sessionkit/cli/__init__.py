"""The ``sessionkit`` command: ``sessionkit check | demo | emulator | report | store | sync``.

Module map: :mod:`._common` (the convention every subcommand shares: :class:`Command`, exit
statuses, one-line errors and warnings, argparse types, writable-path checks), then one module
per subcommand — :mod:`.check`, :mod:`.demo`, :mod:`.emulator`, :mod:`.report`, :mod:`.store`,
:mod:`.sync` — each a ``configure(parser)``, a ``run(args) -> int`` and their ``COMMAND``. The
subcommand modules import the library (loaders, report, store, emulator); nothing in the library imports them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from . import check, demo, emulator, report, store, sync
from ._common import Command, Parser, add_command, run_command, run_standalone

#: The subcommands, in the order ``sessionkit --help`` lists them.
COMMANDS: tuple[Command, ...] = (
    check.COMMAND,
    demo.COMMAND,
    emulator.COMMAND,
    report.COMMAND,
    store.COMMAND,
    sync.COMMAND,
)


def _version() -> str:
    """The installed distribution's version ("unknown" in a bare source tree)."""
    try:
        return version("sessionkit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sessionkit`` command (one subparser per :data:`COMMANDS`;
    the parsed namespace holds the chosen :class:`Command` as ``handler``, its name as
    ``command``, its parser as ``parser``)."""
    parser = Parser(
        prog="sessionkit", description="Analyse Agentuity agent sessions (and emulate the API)."
    )
    parser.add_argument("--version", action="version", version=f"sessionkit {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        add_command(sub, command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sessionkit`` console script; returns the exit status."""
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # said by the subcommand's parser, which names it and its --help
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return run_command(args.handler, args)


__all__ = ["COMMANDS", "Command", "build_parser", "main", "run_standalone"]
