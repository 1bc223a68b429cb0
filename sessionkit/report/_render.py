"""A one-file cost & reliability report: self-contained HTML (or Markdown), plus CSV tables.

:func:`build_report` is pure apart from writing its files: frames in, a :class:`Report` out.
Figures are rendered with matplotlib's Agg backend and embedded as base64 PNG, styles are
inline, and nothing is fetched when the file is opened. :func:`report_from_client` loads the
data first; ``sessionkit report`` is the command-line form.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import analysis
from .display import format_duration, format_timestamp, readable

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.kpi{display:inline-block;margin:0 2em 1em 0}
.kpi b{display:block;font-size:1.6em}.note{color:#666;font-size:13px}img{max-width:100%}
.alert{background:#fff4e5;border-left:4px solid #D55E00;padding:.5em 1em}
"""


@dataclass
class Report:
    """A written report: ``path`` of the main file, the ``tables`` behind it, ``incidents``
    (the strongest detected changes, as sentences) and the ``csv_dir`` when CSVs were written."""

    path: Path
    tables: dict[str, pd.DataFrame]
    incidents: list[str] = field(default_factory=list)
    csv_dir: Path | None = None

    def _repr_html_(self) -> str:
        items = (
            "".join(f"<li>{escape(s)}</li>" for s in self.incidents)
            or "<li>no significant change</li>"
        )
        return (
            f"<p><b>sessionkit report</b> written to <code>{escape(str(self.path))}</code>"
            f" ({len(self.tables)} tables). Detected changes:</p><ul>{items}</ul>"
        )


def _figure(draw: Callable[[Any], object], size: tuple[float, float] = (10, 4)) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=90)
    ax = fig.add_subplot()
    draw(ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return (
        "<img alt='chart' src='data:image/png;base64,"
        + base64.b64encode(buffer.getvalue()).decode()
        + "'>"
    )


#: Column names a person reads in the report instead of the analysis' own names.
_PEOPLE_NAMES = {"before_at": "previous deployment", "after_at": "latest deployment"}


def _shown(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the report shows it: durations, times, money, rates and p-values formatted
    as in the bullets (:func:`sessionkit.display.readable`), lists as comma-separated text
    (empty: missing), columns named for people."""
    out = readable(frame)
    for name in out.columns:
        if out[name].dtype == object and any(
            isinstance(v, list | tuple | np.ndarray) for v in out[name]
        ):
            out[name] = out[name].map(_joined).astype(object)
    return out.rename(columns=_PEOPLE_NAMES)


def _joined(value: object) -> object:
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(map(str, value)) if len(value) else None
    return value


def _table_html(frame: pd.DataFrame, *, link_ids: bool = False, max_rows: int = 20) -> str:
    shown = _shown(frame.head(max_rows))
    if link_ids and "id" in shown:
        shown["id"] = [
            f"<a href='#session-{escape(str(i))}'>{escape(str(i))}</a>" for i in shown["id"]
        ]
    elif link_ids:
        link_ids = False
    if link_ids:  # the other cells are escaped here, since to_html must not escape the links
        for col in shown.columns:
            if col != "id":
                shown[col] = shown[col].map(
                    lambda v: (
                        v
                        if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v))
                        else escape(str(v))
                    )
                )
    table = shown.to_html(
        index=False, escape=not link_ids, na_rep="—", float_format=lambda x: f"{x:,.4g}"
    )
    return f"<div style='overflow-x:auto'>{table}</div>"


def _changes_sentences(changes: pd.DataFrame, limit: int = 5) -> list[str]:
    strong = changes[changes["p_value"] < 0.001].head(limit)
    out = []
    for row in strong.itertuples():
        if row.metric == "failure_rate":
            what = f"failure rate {row.before:.1%} → {row.after:.1%}"
        elif row.metric == "cost_per_session":
            what = f"cost per session ${row.before:.4f} → ${row.after:.4f} (×{row.ratio:.1f})"
        else:
            what = f"median duration {row.before:.1f} s → {row.after:.1f} s"
        tag = {"worse": "regression", "better": "improvement"}.get(str(row.direction), "")
        out.append(
            f"{row.agent}: {what}{f' ({tag})' if tag else ''} with deployment {row.deployment_id} "
            f"(from {pd.Timestamp(row.started):%Y-%m-%d %H:%M} UTC, p = {row.p_value:.1e})"
        )
    return out


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
    """Write the report of ``sessions`` (with ``agent``), optional ``spans`` and ``eval_runs``.

    ``fmt="html"``: one self-contained file with charts; ``fmt="markdown"``: tables only, for
    pasting into a ticket. ``csv_dir``: every underlying table as CSV too. Files are created
    readable by their owner only.
    """
    from . import plot

    if fmt not in ("html", "markdown"):
        raise ValueError("fmt must be 'html' or 'markdown'")
    done = sessions[sessions["pending"].fillna(False).eq(False)]
    failed = int(done["success"].fillna(True).eq(False).sum())
    tables: dict[str, pd.DataFrame] = {
        "cost_by_agent": analysis.cost_by(sessions, by="agent"),
        "cost_by_day": analysis.cost_by(sessions, freq="D"),
        "reliability_by_agent": analysis.reliability(sessions, by="agent"),
        "latency_by_agent": analysis.latency_percentiles(sessions, by="agent"),
        "failure_families": analysis.failure_families(sessions, top=15),
        "changes": analysis.detect_changes(sessions),
        # mean total cost per session: named, so the table shows it in dollars
        "movers": analysis.movers(sessions, compare="deployment_id").assign(
            metric="cost_per_session"
        ),
        "most_expensive": analysis.top_sessions(sessions, 15, by="total_cost"),
        "slowest": analysis.top_sessions(sessions, 15, by="duration"),
    }
    if spans is not None:
        tables["hotspots"] = analysis.operation_hotspots(spans).reset_index()
    if eval_runs is not None:
        tables["evals"] = analysis.eval_summary(eval_runs).reset_index()
        tables["succeeded_but_failed_eval"] = analysis.succeeded_but_failed_eval(
            sessions, eval_runs
        )
    incidents = _changes_sentences(tables["changes"])
    start = format_timestamp(sessions["start_time"].min())
    end = format_timestamp(sessions["start_time"].max())
    totals = {
        "sessions": f"{len(sessions):,}",
        "total cost": f"${sessions['total_cost'].sum():,.2f}",
        "cost per successful session": f"${sessions['total_cost'].sum() / max(len(done) - failed, 1):.4f}",
        "failure rate": f"{failed / max(len(done), 1):.1%}",
        "p50 / p99 duration": " / ".join(
            format_duration(done["duration"].quantile(q)) for q in (0.5, 0.99)
        )
        if len(done)
        else "—",
    }
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if fmt == "markdown":
        text = _markdown(title, start, end, totals, incidents, tables)
    else:
        figures = {
            "cost": _figure(lambda ax: plot.cost_over_time(sessions, ax=ax)),
            "breakdown": _figure(lambda ax: plot.cost_breakdown(sessions, ax=ax), (9, 3.5)),
            "latency": _figure(lambda ax: plot.latency_over_time(sessions, ax=ax)),
            "duration": _figure(lambda ax: plot.duration_distribution(sessions, ax=ax)),
            "success": _figure(lambda ax: plot.success_rate_over_time(sessions, ax=ax)),
            "families": _figure(lambda ax: plot.failure_families_chart(sessions, ax=ax), (11, 4.5)),
        }
        if spans is not None:
            figures["hotspots"] = _figure(
                lambda ax: plot.operation_hotspots_chart(spans, ax=ax), (10, 4.5)
            )
        if eval_runs is not None:
            figures["evals"] = _figure(lambda ax: plot.eval_scores(eval_runs, ax=ax), (9, 3.5))
        text = _html(title, start, end, totals, incidents, tables, figures, sessions, spans)
    _write_private(path, text)
    written_csv = None
    if csv_dir is not None:
        written_csv = Path(csv_dir)
        written_csv.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name, table in tables.items():
            _write_private(written_csv / f"{name}.csv", table.to_csv(index=False))
    return Report(path, tables, incidents, written_csv)


def _worth_opening(sessions: pd.DataFrame, spans: pd.DataFrame | None) -> pd.DataFrame:
    """The latest failed session of each failure family (largest family first): id, agent,
    start, duration, cost, error and — when ``spans`` holds its timeline — the path of the
    deepest span that failed."""
    families = analysis.failure_families(sessions, top=15)
    ids = [ids[0] for ids in families["example_ids"] if len(ids)]
    rows = sessions.set_index("id").loc[ids].reset_index()
    columns = [
        c for c in ("id", "agent", "start_time", "duration", "total_cost", "error") if c in rows
    ]
    out = rows[columns].copy()
    if spans is not None and len(spans):
        failing = spans[spans["error"].notna()].sort_values("depth", ascending=False)
        first = failing.drop_duplicates("session_id").set_index("session_id")
        out["failing span"] = out["id"].map(
            lambda i: str(first.at[i, "path"]) if i in first.index else "— (timeline not loaded)"
        )
    return out


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _markdown(
    title: str,
    start: object,
    end: object,
    totals: dict[str, str],
    incidents: list[str],
    tables: dict[str, pd.DataFrame],
) -> str:
    lines = [f"# {title}", "", f"Sessions started {start} to {end}.", ""]
    lines += [f"- **{k}**: {v}" for k, v in totals.items()] + ["", "## Detected changes", ""]
    lines += [f"- {s}" for s in incidents] or ["- none significant"]
    for name, table in tables.items():
        lines += ["", f"## {name.replace('_', ' ').capitalize()}", "", _md_table(table.head(15))]
        if len(table) > 15:
            lines += ["", f"*First 15 of {len(table):,} rows; all of them with --csv.*"]
    return "\n".join(lines) + "\n"


def _md_cell(value: object) -> str:
    if isinstance(value, float):
        text = "" if pd.isna(value) else f"{value:,.4g}"
    elif value is None or value is pd.NA or value is pd.NaT:
        text = ""
    else:
        text = str(value)
    # HTML-significant characters as entities: a template's <num> is text, not a tag
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped, newlines flattened), values
    formatted as in the HTML report."""
    frame = _shown(frame)
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = [
        "| " + " | ".join(_md_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])


def _html(
    title: str,
    start: object,
    end: object,
    totals: dict[str, str],
    incidents: list[str],
    tables: dict[str, pd.DataFrame],
    figures: dict[str, str],
    sessions: pd.DataFrame,
    spans: pd.DataFrame | None = None,
) -> str:
    t = tables
    kpis = "".join(
        f"<div class='kpi'>{escape(k)}<b>{escape(v)}</b></div>" for k, v in totals.items()
    )
    alerts = (
        "".join(f"<li>{escape(s)}</li>" for s in incidents)
        or "<li>No significant change detected.</li>"
    )
    detail_html = _table_html(_worth_opening(sessions, spans), link_ids=False, max_rows=15)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1><p class='note'>Sessions started {escape(str(start))} to {escape(str(end))}. "
        "Generated by sessionkit; this file needs no network.</p>",
        kpis,
        f"<h2>Detected changes</h2><div class='alert'><ul>{alerts}</ul></div>{_table_html(t['changes'], max_rows=8)}",
        f"<h2>Cost</h2>{figures['cost']}{figures['breakdown']}{_table_html(t['cost_by_agent'])}",
        f"<h3>Top movers (latest vs previous deployment)</h3>{_table_html(t['movers'])}",
        f"<h2>Latency</h2>{figures['duration']}{figures['latency']}{_table_html(t['latency_by_agent'])}",
        f"<h2>Reliability</h2>{figures['success']}{_table_html(t['reliability_by_agent'])}",
        f"<h2>Failure families</h2>{figures['families']}{_table_html(t['failure_families'].drop(columns=['example_ids']))}",
    ]
    if "hotspots" in t:
        parts.append(
            f"<h2>Where the time goes</h2>{figures['hotspots']}{_table_html(t['hotspots'])}"
        )
    if "evals" in t:
        parts.append(
            f"<h2>Eval quality</h2>{figures['evals']}{_table_html(t['evals'])}"
            f"<h3>Succeeded but failed an eval</h3>{_table_html(t['succeeded_but_failed_eval'], link_ids=False)}"
        )
    parts += [
        f"<h2>Most expensive sessions</h2>{_table_html(t['most_expensive'])}",
        f"<h2>Slowest sessions</h2>{_table_html(t['slowest'])}",
        "<h2>Failed sessions worth opening</h2><p class='note'>The latest failed session of "
        "each failure family, with the span that failed when its timeline was sampled; open "
        "one with <code>sk.load_session(id)</code> or the session inspector.</p>"
        f"{detail_html}</body></html>",
    ]
    return "\n".join(parts)


def report_from_client(
    client: Any = None,
    *,
    out: str | os.PathLike[str] = "report.html",
    fmt: str = "html",
    csv_dir: str | os.PathLike[str] | None = None,
    details: int = 300,
    progress: bool | None = None,
    **filters: Any,
) -> Report:
    """Load sessions (``filters`` as for :func:`sessionkit.load_sessions`), the details of up to
    ``details`` completed sessions (a seeded sample, for hotspots and evals), and build the report."""
    from .loaders import load_details, load_sessions

    sessions = load_sessions(client, progress=progress, **filters)
    done = sessions[sessions["pending"].fillna(False).eq(False)]
    sample = (
        done.sample(min(details, len(done)), random_state=0)
        if details and len(done)
        else done.iloc[0:0]
    )
    # the sessions the report singles out for opening always have their timeline loaded
    opened = [ids[0] for ids in analysis.failure_families(sessions, top=15)["example_ids"] if ids]
    sample = pd.concat([sample, done[done["id"].isin(opened) & ~done["id"].isin(sample["id"])]])
    extra = load_details(sample, client, progress=progress) if len(sample) else None
    return build_report(
        sessions,
        spans=extra.spans if extra else None,
        eval_runs=extra.eval_runs if extra else None,
        out=out,
        fmt=fmt,
        csv_dir=csv_dir,
    )


def configure_report_parser(p: argparse.ArgumentParser) -> None:
    """Options of ``sessionkit report``."""
    from .cli import nonempty, nonnegative_int

    times = (
        "ISO time with a zone ('2026-11-01T00:00Z'), a bare date (that UTC day, '2026-11-01') "
        "or a relative 30d, 12h (on the demo data: before the demo's now)"
    )
    p.add_argument("--since", type=nonempty, default=None, help=f"{times}; default: everything")
    p.add_argument("--until", type=nonempty, default=None, help=f"{times}; default: now")
    p.add_argument(
        "--trigger", type=nonempty, default=None, help="only this trigger (e.g. cron); default: all"
    )
    p.add_argument(
        "--env", type=nonempty, default=None, help="only this environment (e.g. production)"
    )
    p.add_argument(
        "--agent",
        type=nonempty,
        default=None,
        help="only this agent: its name (as the report shows it), its stable id agent_<40hex> "
        "or a deployment id agentid_<40hex>; default: all",
    )
    p.add_argument(
        "--out",
        type=nonempty,
        default=None,
        help="where to write the report (default: report.html, or report.md with "
        "--format markdown)",
    )
    p.add_argument(
        "--format", choices=("html", "markdown"), default="html", help="default: %(default)s"
    )
    p.add_argument(
        "--csv",
        type=nonempty,
        default=None,
        metavar="DIR",
        help="also write every table as CSV into DIR",
    )
    p.add_argument(
        "--details",
        type=nonnegative_int,
        default=300,
        metavar="N",
        help="completed sessions sampled for hotspots and evals, 0 or more; 0 = none "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--demo", action="store_true", help="use the bundled emulator even when a key is set"
    )


def run_report(args: argparse.Namespace) -> int:
    """``sessionkit report``: write the report and print where it is. Exit status 0 when
    written, 1 on an error (printed as one line on stderr), 2 when no session matches."""
    from .cli import error, os_error_text, writable_dir, writable_file
    from .connect import connect
    from .errors import SessionKitError, SessionKitWarning
    from .loaders import load_sessions

    out = args.out or ("report.md" if args.format == "markdown" else "report.html")
    why = writable_file(out)
    if why:
        error("report", f"cannot write report to {out}: {why}; choose another --out")
        return 1
    why = writable_dir(args.csv) if args.csv else None
    if why:
        error("report", f"cannot write CSV tables to {args.csv}: {why}; choose another --csv")
        return 1
    filters = {
        k: getattr(args, k)
        for k in ("since", "until", "trigger", "env", "agent")
        if getattr(args, k)
    }
    try:
        client = connect(demo=True) if args.demo else connect()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SessionKitWarning)
            probe = load_sessions(client, limit=1, progress=False, agent_names=False, **filters)
        if probe.empty:
            why = next((str(w.message) for w in caught), "no session matches these filters.")
            error("report", f"nothing to report — {why}")
            return 2
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        report = report_from_client(
            client, out=out, fmt=args.format, csv_dir=args.csv, details=args.details, **filters
        )
    except SessionKitError as exc:
        error("report", str(exc))
        return 1
    except OSError as exc:
        error("report", f"cannot write report to {exc.filename or out}: {os_error_text(exc)}")
        return 1
    print(f"Report written to {report.path.resolve()}")
    for sentence in report.incidents:
        print(f"  change: {sentence}")
    if report.csv_dir:
        print(f"Tables written as CSV to {report.csv_dir.resolve()}")
    return 0
