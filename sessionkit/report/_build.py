"""The report in one call: :func:`build_report` (frames → written files) and
:func:`report_from_client` (load → render → write), over :func:`render_report` and
:meth:`Report.write`."""

from __future__ import annotations

import os
from typing import Any, Unpack

import pandas as pd

from .. import status
from ..loaders import load_details, load_sessions
from ..params import FilterArgs
from ._document import Report
from ._render import render_report, worth_opening_ids


def build_report(
    sessions: pd.DataFrame,
    *,
    spans: pd.DataFrame | None = None,
    eval_runs: pd.DataFrame | None = None,
    title: str = "Agent sessions: cost & reliability",
    out: str | os.PathLike[str] = "report.html",
    fmt: str = "html",
    csv_dir: str | os.PathLike[str] | None = None,
) -> Report:
    """Render the report (:func:`render_report`) and write it to ``out`` (with ``csv_dir``:
    every table as CSV too) by :meth:`Report.write`; returns the written :class:`Report`."""
    report = render_report(sessions, spans=spans, eval_runs=eval_runs, title=title, fmt=fmt)
    return report.write(out, csv_dir=csv_dir)


def render_from_client(
    client: Any = None,
    *,
    fmt: str = "html",
    details: int = 300,
    progress: bool | None = None,
    **filters: Unpack[FilterArgs],
) -> Report:
    """Load sessions (``filters`` as for :func:`sessionkit.load_sessions`), the details of up to
    ``details`` completed sessions (a seeded sample, for hotspots and evals, plus the failed
    sessions the report singles out) and render the report; returns it unwritten."""
    sessions = load_sessions(client, progress=progress, **filters)
    done = sessions[status.done(sessions)]
    sample = (
        done.sample(min(details, len(done)), random_state=0)
        if details and len(done)
        else done.iloc[0:0]
    )
    # the sessions the report singles out for opening always have their timeline loaded
    opened = worth_opening_ids(sessions)
    sample = pd.concat([sample, done[done["id"].isin(opened) & ~done["id"].isin(sample["id"])]])
    extra = load_details(sample, client, progress=progress) if len(sample) else None
    return render_report(
        sessions,
        spans=extra.spans if extra else None,
        eval_runs=extra.eval_runs if extra else None,
        fmt=fmt,
    )


def report_from_client(
    client: Any = None,
    *,
    out: str | os.PathLike[str] = "report.html",
    fmt: str = "html",
    csv_dir: str | os.PathLike[str] | None = None,
    details: int = 300,
    progress: bool | None = None,
    **filters: Unpack[FilterArgs],
) -> Report:
    """:func:`render_from_client`, then :meth:`Report.write` to ``out`` (and ``csv_dir``);
    returns the written :class:`Report`."""
    report = render_from_client(client, fmt=fmt, details=details, progress=progress, **filters)
    return report.write(out, csv_dir=csv_dir)
