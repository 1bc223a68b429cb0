"""Why a selection matched nothing: the warning that names the filters as given and, for the
simple ones, the values the project's newest sessions do hold. One home for the loaders and
the store's sync, which both say it.

Imports: :mod:`sessionkit.client`, :mod:`sessionkit.agents`, :mod:`sessionkit.frames`,
:mod:`sessionkit.display`, :mod:`sessionkit.params`, :mod:`sessionkit.errors`.
"""

from __future__ import annotations

from . import frames
from .agents import page_rows
from .client import Client
from .display import format_timestamp
from .errors import SessionKitWarning
from .errors import warn as errors_warn
from .params import SessionFilters

__all__ = ["warn_no_match"]

_LISTED = ("env", "trigger", "deployment_id", "org_id", "project_id")


def warn_no_match(client: Client, filters: SessionFilters, *, stacklevel: int = 3) -> None:
    """Warn that ``filters`` selected nothing, when the project does have sessions: name the
    filters as the user gave them and, for the simple ones, the values one page of the newest
    sessions holds."""
    sample = next(iter(client.iter_session_pages({}, max_rows=100)), None)
    rows = page_rows(sample.body) if sample is not None else []
    if not rows:
        return  # an empty project: nothing to say beyond the empty frame
    asked = filters.described()
    hints = []
    for column in _LISTED:
        if column in asked:
            seen = sorted({str(r[column]) for r in rows if r.get(column) not in (None, "")})
            hints.append(f"{column} values in the newest {len(rows)} sessions: {seen[:10]}")
    if "metadata" in asked:
        hints.append(
            "metadata matches each given key's whole value exactly (a nested object must match "
            "as a whole); try one flattened key, e.g. metadata={'customer': 'acme'}"
        )
    if filters.windowed:
        newest = frames.sessions_frame(rows)["start_time"].max()
        hints.append(f"the newest session started at {format_timestamp(newest)}")
        if client.demo_span:
            hints.append(
                f"the demo dataset spans {client.demo_span[0]} to {client.demo_span[1]}; "
                "relative times such as since='7d' count back from the demo's now"
            )
    errors_warn(
        f"No sessions match {filters.described_text()}, although the project has sessions"
        + ("; " + "; ".join(hints) if hints else "")
        + ".",
        SessionKitWarning,
        stacklevel=stacklevel,
    )
