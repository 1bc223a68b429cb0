"""``sessionkit check``: what changed, as Markdown for a CI log, a pull-request comment or a cron
mail, and an exit status a pipeline can act on.

Exit status: 0 no finding of a selected kind, 1 at least one (production traffic only: a change
in development traffic is printed apart and never fails the check), 2 bad usage or no session
matching the filters, 3 the check could not run (the API or the store failed: not a finding, so
a pipeline can tell the two apart), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys

from ..analysis import DEFAULT_EVIDENCE, DETAIL_BUDGET, KINDS, Findings
from ..connect import connect
from ..display import format_timestamp
from ..errors import InvalidArgumentError, SessionKitError
from ..loaders import load_sessions
from ..report import findings_from_client
from ._common import Command, CommandError, matching, nonempty, nonnegative_float, nonnegative_int
from ._filters import add_filter_options, filter_values

#: ``--fail-on`` names: the kinds of finding; ``failure`` also selects new error families.
FAIL_ON = {**{k: (k,) for k in KINDS}, "failure": ("failure", "new_error_family")}


def fail_on(text: str) -> tuple[str, ...]:
    """argparse type: comma-separated kinds (``failure,latency``) → the kinds they select."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in FAIL_ON]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown kind {', '.join(map(repr, unknown)) or repr(text)}; choose from "
            f"{', '.join(KINDS)} (comma-separated)"
        )
    return tuple(dict.fromkeys(kind for name in names for kind in FAIL_ON[name]))


def configure(p: argparse.ArgumentParser) -> None:
    """Add the options of ``sessionkit check`` to ``p``."""
    add_filter_options(p)
    p.add_argument(
        "--fail-on",
        type=fail_on,
        default=KINDS,
        metavar="KINDS",
        help=f"kinds of finding that fail the check, comma-separated: {', '.join(KINDS)} "
        "('failure' includes new error families; default: all)",
    )
    p.add_argument(
        "--min-evidence",
        type=nonnegative_float,
        default=DEFAULT_EVIDENCE,
        metavar="E",
        help="the threshold, as -log10 of the q-value (false discovery rate): 3 means q <= "
        "0.001, 2 finds weaker changes (default: %(default)g)",
    )
    p.add_argument(
        "--details",
        type=nonnegative_int,
        default=DETAIL_BUDGET,
        metavar="N",
        help="sessions whose details (spans, eval runs) are read, a sample stratified by agent "
        "and day; 0 = none: calls and evals are not checked (default: %(default)s)",
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


def markdown(findings: Findings, selected: tuple[str, ...]) -> str:
    """The findings as Markdown: a heading with the count, what they rest on, one numbered
    item per production finding (its kind, sentence, example sessions; marked when its kind
    fails the check), development traffic apart; ends with a newline."""
    failing = findings.of_kind(selected)
    lines = [
        f"## sessionkit check: {len(findings.table)} finding(s), {len(failing)} failing "
        f"(q <= {10**-findings.min_evidence:g})",
        "",
    ]
    if findings.start is not None:
        lines.append(
            f"{findings.sessions_analysed:,} completed sessions started "
            f"{format_timestamp(findings.start)} to {format_timestamp(findings.end)}, "
            f"{findings.details_sessions:,} with details; {findings.tests:,} tests; "
            f"failing kinds: {', '.join(selected)}."
        )
        lines.append("")
    for _, row in findings.table.iterrows():
        mark = " (fails the check)" if row["kind"] in selected else ""
        lines.append(f"{int(row['rank'])}. **{row['kind']}**{mark}: {_text(str(row['sentence']))}")
        if len(row["examples"]):
            lines.append("   examples: " + ", ".join(f"`{i}`" for i in row["examples"]))
    if findings.table.empty:
        lines.append("No finding above the threshold.")
    if len(findings.development):
        lines += ["", "Development traffic (never fails the check):", ""]
        lines += [f"- {_text(str(s))}" for s in findings.development["sentence"]]
    return "\n".join(lines) + "\n"


def _text(text: str) -> str:
    """A sentence for Markdown: ``&`` and a ``<`` that opens a tag-like word (a template's
    ``<num>``) as entities, so no renderer takes them for HTML (``p < 1e-9`` stays)."""
    return _TAG.sub("&lt;", text.replace("&", "&amp;"))


_TAG = re.compile(r"<(?=[A-Za-z/!?])")


def run(args: argparse.Namespace) -> int:
    """Find what changed, print it as Markdown; returns 1 when a production finding of a
    ``--fail-on`` kind passes the threshold, else 0. Raises a :class:`CommandError`: status 2
    when no session matches, 3 when the check cannot run."""
    with contextlib.redirect_stdout(sys.stderr):  # stdout is the Markdown alone
        client = connect(demo=True) if args.demo else connect() if args.store is None else None
    now = client.demo_now if client is not None else None
    filters = filter_values(args, now=now)
    try:
        if client is not None:
            matching(
                "check",
                lambda: load_sessions(
                    client, limit=1, progress=False, agent_names=False, **filters
                ),
                is_empty=lambda probe: probe.empty,
                fallback="no session matches these filters.",
            )
        findings = findings_from_client(
            client,
            details=args.details,
            store=args.store,
            min_evidence=args.min_evidence,
            progress=False,
            **filters,
        )
    except InvalidArgumentError:
        raise  # bad usage: exit 2
    except (SessionKitError, OSError) as exc:
        raise CommandError(f"could not check: {exc}", status=3) from exc
    sys.stdout.write(markdown(findings, args.fail_on))
    return 1 if len(findings.of_kind(args.fail_on)) else 0


COMMAND = Command(
    name="check",
    help="find what changed (failures, latency, cost, evals) and exit 1 when it matters",
    description="Find what changed in the sessions (the findings engine behind the report) and "
    "print it as Markdown. Exit 0: no finding of a --fail-on kind; 1: at least one; 2: bad "
    "usage or no matching session; 3: the check could not run.",
    interrupted="nothing was checked; run check again",
    configure=configure,
    run=run,
)
