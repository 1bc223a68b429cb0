"""The session-filter options of the commands, generated from :data:`sessionkit.params.FILTERS`.

One option per filter, named as the keyword is (``org_id`` → ``--org-id``), its argparse form
chosen by the filter's ``kind``:

* ``time`` → ``--since TIME`` (ISO time with a zone, a bare date, or relative ``30d``/``12h``);
* ``choice`` → ``--trigger NAME``, repeatable;
* ``text`` and ``agent`` → ``--env VALUE``;
* ``flag`` → ``--success`` / ``--no-success`` (``success=False`` is failed *and* pending
  sessions, as the API reads it, so there is no ``--failed`` spelling of it);
* ``metadata`` → ``--metadata '{"key": "value"}'`` (a JSON object);
* ``order`` → ``--sort``/``--direction`` with their choices; ``limit`` → ``--limit N``.

A filter added to the table gets its option in ``sessionkit sync`` and ``sessionkit report``
with no edit here. :func:`filter_values` reads them back as keywords and validates them with
:func:`sessionkit.params.session_filters` before any request: a bad value is a usage error
(exit 2) naming the option.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from .. import jsonparse
from ..errors import InvalidArgumentError
from ..params import FILTERS, SCOPE_NAMES, Filter, session_filters
from ..schema import DIRECTIONS, SORTS
from ._common import CommandError, nonempty, nonnegative_int

#: What a time option accepts (the help of every ``time`` filter ends with it).
TIME_FORMS = (
    "ISO time with a zone ('2026-11-01T00:00Z'), a bare date (that UTC day, '2026-11-01') "
    "or relative 30d, 12h"
)
#: Extra spellings of a flag's negative option (none: ``--failed`` for ``--no-success`` would
#: say "failed" of pending sessions too).
_NEGATIVE_ALIASES: dict[str, tuple[str, ...]] = {}


def option_of(name: str) -> str:
    """The command-line option of filter ``name``: ``org_id`` → ``--org-id``."""
    return "--" + name.replace("_", "-")


def json_object(text: str) -> dict[str, Any]:
    """argparse type: a JSON object (``'{"plan": "pro"}'``), read however deeply nested
    (:func:`sessionkit.jsonparse.loads`); what is refused is quoted cut to 80 characters."""
    shown = repr(text if len(text) <= 80 else text[:77] + "...")
    try:
        value = jsonparse.loads(text.encode("utf-8", "surrogatepass"))
    except (jsonparse.JSONDecodeError, UnicodeError, RecursionError) as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {shown} ({exc})") from None
    if not isinstance(value, dict) or not value:
        raise argparse.ArgumentTypeError(
            f'must be a non-empty JSON object such as \'{{"plan": "pro"}}\', not {shown}'
        )
    return value


def add_filter_options(
    p: argparse.ArgumentParser,
    *,
    names: Sequence[str] = SCOPE_NAMES,
    help: Mapping[str, str] | None = None,
    filters: Iterable[Filter] = FILTERS,
) -> None:
    """Add one option per filter of ``filters`` whose name is in ``names`` to ``p``, in the
    table's order; ``help`` replaces a filter's help text (the table's otherwise)."""
    texts = dict(help or {})
    for f in filters:
        if f.name not in names:
            continue
        option, text = option_of(f.name), texts.get(f.name, f.help)
        if f.kind == "time":
            p.add_argument(option, type=nonempty, metavar="TIME", help=f"{text}: {TIME_FORMS}")
        elif f.kind == "choice":
            p.add_argument(
                option, type=nonempty, action="append", metavar="NAME", help=f"{text}; repeatable"
            )
        elif f.kind in ("text", "agent"):
            p.add_argument(option, type=nonempty, help=text)
        elif f.kind == "flag":
            pair = p.add_mutually_exclusive_group()
            pair.add_argument(option, dest=f.name, action="store_true", default=None, help=text)
            pair.add_argument(
                f"--no-{option[2:]}",
                *_NEGATIVE_ALIASES.get(f.name, ()),
                dest=f.name,
                action="store_false",
                help=f.help_false or f"the opposite of {option}",
            )
        elif f.kind == "metadata":
            p.add_argument(option, type=json_object, metavar="JSON", help=text)
        elif f.kind == "order":
            choices = SORTS if f.name == "sort" else DIRECTIONS
            p.add_argument(option, choices=choices, help=text)
        elif f.kind == "limit":
            p.add_argument(option, type=nonnegative_int, metavar="N", help=text)
        else:  # pragma: no cover - a kind added to params.FilterKind without an option form
            raise AssertionError(f"no command-line form for filter kind {f.kind!r}")


def filter_values(
    args: argparse.Namespace,
    *,
    names: Sequence[str] = SCOPE_NAMES,
    filters: Iterable[Filter] = FILTERS,
    now: pd.Timestamp | None = None,
) -> dict[str, Any]:
    """The filter keywords the options of :func:`add_filter_options` were given (``None``
    left out), checked as the loaders will check them, relative times (``7d``) counted back
    from ``now`` — the client's :attr:`~sessionkit.Client.demo_now` on the demo, else the
    wall clock — so call it once the client is made. Raises a :class:`CommandError` with
    status 2 naming the option when a value is refused (an unknown trigger, a bad time, an
    ``--until`` before ``--since``)."""
    values = {
        f.name: getattr(args, f.name)
        for f in filters
        if f.name in names and getattr(args, f.name, None) is not None
    }
    for name, value in values.items():  # one at a time first, so the error names the option
        try:
            session_filters(now=now, **{name: value})
        except InvalidArgumentError as exc:
            raise CommandError(f"{option_of(name)}: {exc}", status=2) from exc
    try:
        session_filters(now=now, **values)  # then together (until before since)
    except InvalidArgumentError as exc:
        raise CommandError(str(exc), status=2) from exc
    return values
