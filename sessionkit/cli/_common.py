"""What every ``sessionkit`` subcommand shares: the one convention for bad input and failures.

A subcommand is a :class:`Command`: a parser-builder (``configure(parser)``) and a
``run(args) -> int``. :func:`run_command` runs it and is the only place that turns a failure
into an exit status:

* ``0`` done; ``1`` a :class:`~sessionkit.errors.SessionKitError`, an :class:`OSError` or a
  :class:`CommandError` (one line on stderr: ``sessionkit COMMAND: message``);
* ``2`` bad usage — an option argparse refuses (one line, via :class:`Parser`), a value
  sessionkit refuses (an :class:`~sessionkit.errors.InvalidArgumentError`: an unknown
  ``--agent``, a bad time), or a :class:`CommandError` with ``status=2`` such as "nothing to
  report" (:func:`matching`);
* ``130`` Ctrl-C (one line saying what was kept);
* sessionkit's warnings: one ``sessionkit COMMAND: warning: ...`` line each, said once.

Also here: the argparse types (``nonempty``, ``nonnegative_int``, ...) and the "can this path
be written" checks a command runs before its slow part (:func:`require_writable_file`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from ..errors import InvalidArgumentError, SessionKitError, SessionKitWarning

T = TypeVar("T")

#: How the loaders' warning about a filter that selected nothing begins
#: (:func:`sessionkit.nomatch.warn_no_match`); :func:`matching` turns it into exit status 2.
NO_MATCH_PREFIX = "No sessions match"


@dataclass(frozen=True)
class Command:
    """One ``sessionkit`` subcommand: its ``name``, the one-line ``help`` of ``sessionkit
    --help``, the ``description`` atop its own ``--help``, what it says after "interrupted; "
    on Ctrl-C, the ``configure(parser)`` that adds its options and its ``run(args)``, which
    returns the exit status (0) or raises (see :func:`run_command`)."""

    name: str
    help: str
    description: str
    interrupted: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A failure a command reports as one line and exit ``status`` (1 unless given)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


#: Control characters (C0 but tab and newline, DEL, C1) shown as ``\\xNN``: a server's text
#: reaches the terminal in error lines, and escape sequences there could clear the screen,
#: fake output or write the clipboard (OSC 52).
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))}


def one_line(message: str) -> str:
    """``message`` as one line: its lines become sentences of it (a period added where a line
    ends without punctuation), runs of whitespace become one space, control characters are
    shown as ``\\xNN`` (never sent to the terminal as they are)."""
    message = message.replace("\r\n", "\n").translate(_CONTROLS)
    lines = [" ".join(line.split()) for line in message.splitlines()]
    lines = [line for line in lines if line]
    return " ".join(
        line if i == len(lines) - 1 or line[-1] in ".;:!?" else line + "."
        for i, line in enumerate(lines)
    )


def error(command: str, message: str) -> None:
    """Print ``sessionkit <command>: <message>`` as one line on stderr (:func:`one_line`)."""
    print(f"sessionkit {command}: {one_line(message)}", file=sys.stderr)


def os_error_text(exc: OSError) -> str:
    """``[Errno 20] Not a directory: '/dev/null/x'`` → ``Not a directory``."""
    return exc.strerror or str(exc)


def os_failure(exc: OSError, doing: str | None = None) -> CommandError:
    """The :class:`CommandError` (status 1) of ``exc``, met while ``doing`` (e.g. "cannot write
    report to r.html"): ``"<doing>: <strerror> (<file>)"``, the file only when the error names
    one, ``doing`` only when given."""
    where = f" ({exc.filename})" if exc.filename else ""
    text = f"{os_error_text(exc)}{where}"
    return CommandError(f"{doing}: {text}" if doing else text)


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit status 2, like
    every other failure of the command (argparse itself prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: <message>; see <prog> --help`` and exit 2."""
        print(f"{self.prog}: {one_line(message)}; see {self.prog} --help", file=sys.stderr)
        sys.exit(2)


# -- argparse types: a bad value is a usage error (exit 2) naming the option ------------------


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


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$")


def duration(text: str) -> float:
    """argparse type: ``"50ms"`` → 0.05, ``"0.5s"`` → 0.5, ``"2"`` → 2.0 (seconds)."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use 50ms, 0.5s or 2)")
    value = float(match.group(1))
    if value == float("inf"):
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (too large)")
    return value / 1000 if match.group(2) == "ms" else value


def nonempty(text: str) -> str:
    """argparse type: a non-blank string (leave the option out to mean "all")."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty (leave the option out for all)")
    return text


# -- paths: checked before the slow part, so a bad --out fails in a second, not after the load --


def unwritable_file(path: str | os.PathLike[str]) -> str | None:
    """Why a file cannot be written at ``path``, or None when it looks writable."""
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


def unwritable_dir(path: str | os.PathLike[str]) -> str | None:
    """Why a directory cannot be created or written at ``path``, or None when it looks fine."""
    target = Path(path)
    current = target
    while not current.exists():
        current = current.parent
    if not current.is_dir():
        return f"{current} is not a directory" if current != target else "it is a file"
    if not os.access(current, os.W_OK | os.X_OK):
        return f"{current} is not writable"
    return None


def require_writable_file(path: str | os.PathLike[str], doing: str, option: str) -> None:
    """Raise ``CommandError("<doing>: <why>; choose another <option>")`` when a file cannot be
    written at ``path`` (:func:`unwritable_file`); return None when it can."""
    why = unwritable_file(path)
    if why:
        raise CommandError(f"{doing}: {why}; choose another {option}")


def require_writable_dir(path: str | os.PathLike[str], doing: str, option: str) -> None:
    """As :func:`require_writable_file`, for a directory (:func:`unwritable_dir`)."""
    why = unwritable_dir(path)
    if why:
        raise CommandError(f"{doing}: {why}; choose another {option}")


# -- warnings ----------------------------------------------------------------------------------


def matching(
    command: str,
    load: Callable[[], T],
    *,
    is_empty: Callable[[T], bool],
    fallback: str | None = None,
) -> T:
    """``load()``, with sessionkit's warnings held back until it is known whether anything
    matched.

    When ``is_empty(result)`` and a reason is known — the loaders' "No sessions match ..."
    warning, else ``fallback`` — raises ``CommandError("nothing to <command> — <reason>",
    status=2)`` and the held warnings are dropped (the reason says it all). Otherwise the held
    warnings are shown again (one line each, by :func:`run_command`) and ``result`` returned.
    ``fallback=None``: an empty result without that warning is a success.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SessionKitWarning)
        result = load()
    if is_empty(result):
        why = next(
            (str(w.message) for w in caught if str(w.message).startswith(NO_MATCH_PREFIX)),
            fallback,
        )
        if why is not None:
            raise CommandError(f"nothing to {command} — {why}", status=2)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


@contextmanager
def _warnings_as_lines(command: str) -> Iterator[None]:
    """Inside: each sessionkit warning is one ``sessionkit COMMAND: warning: ...`` line on
    stderr, said once, no source line; other warnings show as Python shows them."""
    shown = warnings.showwarning
    said: set[str] = set()

    def show(message: Warning | str, category: type[Warning], *rest: Any, **kw: Any) -> None:
        if issubclass(category, SessionKitWarning):
            text = " ".join(str(message).translate(_CONTROLS).split())
            if text not in said:
                said.add(text)
                print(f"sessionkit {command}: warning: {text}", file=sys.stderr, flush=True)
        else:
            shown(message, category, *rest, **kw)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


# -- running -----------------------------------------------------------------------------------


def run_command(command: Command, args: argparse.Namespace) -> int:
    """``command.run(args)``'s exit status, every failure reported as one line on stderr
    instead of a traceback: Ctrl-C → 130, a :class:`CommandError` → its status, a
    refused value (:class:`~sessionkit.errors.InvalidArgumentError`, such as an unknown
    ``--agent``) → 2, another :class:`SessionKitError` or an :class:`OSError` → 1 (see the
    module docstring)."""
    with _warnings_as_lines(command.name):
        try:
            return command.run(args)
        except KeyboardInterrupt:
            error(command.name, f"interrupted; {command.interrupted}")
            return 130
        except CommandError as exc:
            error(command.name, str(exc))
            return exc.status
        except InvalidArgumentError as exc:  # a refused value (an unknown agent, ...): usage
            error(command.name, str(exc))
            return 2
        except SessionKitError as exc:
            error(command.name, str(exc))
            return 1
        except OSError as exc:
            failure = os_failure(exc)
            error(command.name, str(failure))
            return failure.status


def add_command(sub: argparse._SubParsersAction[Parser], command: Command) -> Parser:
    """Add ``command`` as a subcommand parser of ``sub`` and return that parser; a namespace it
    parses holds ``command`` as ``handler`` and the subcommand parser as ``parser``."""
    parser = sub.add_parser(command.name, help=command.help, description=command.description)
    command.configure(parser)
    parser.set_defaults(handler=command, parser=parser)
    return parser


def run_standalone(command: Command, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` with ``command``'s options alone (prog ``sessionkit NAME``) and run it:
    ``python -m sessionkit.emulator`` is ``sessionkit emulator``. Returns the exit status."""
    parser = Parser(prog=f"sessionkit {command.name}", description=command.description)
    command.configure(parser)
    return run_command(command, parser.parse_args(argv))
