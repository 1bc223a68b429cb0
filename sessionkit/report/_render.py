"""The report's render step: frames in, a :class:`~sessionkit.report.Report` out, no file
touched. The tables come from :mod:`sessionkit.analysis`, the figures from
:mod:`sessionkit.plot` (matplotlib's Agg canvas, embedded as base64 PNG), the page from
:mod:`._page`."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd

from .. import analysis, status
from ..analysis import Findings
from ..display import format_duration, format_timestamp
from ._document import FORMATS, Report
from ._page import FindingSection, findings_html, findings_markdown, html_page, markdown_page

#: How many failure families the report shows; the latest failed session of each is "worth
#: opening" (and has its timeline loaded by :func:`~sessionkit.report.report_from_client`).
FAMILIES_SHOWN = 15


def _figure(draw: Callable[[Any], object], size: tuple[float, float] = (10, 4)) -> str:
    """``draw(ax)`` on a fresh ``size`` (inches) figure, as an ``<img>`` tag holding the PNG."""
    from matplotlib.figure import Figure  # matplotlib loads when a page is drawn, not on import

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


#: The columns of a finding's numbers in the report (one row per finding).
_NUMBERS = [
    "kind",
    "subject",
    "metric",
    "before",
    "after",
    "n_before",
    "n_after",
    "start",
    "end",
    "q_value",
    "sessions",
]


def _numbers(row: pd.Series) -> pd.DataFrame:
    """One finding's key numbers as a one-row table, values in their units (rates as %,
    durations in seconds shown humanly, money in $)."""
    metric = str(row["metric"])
    frame = pd.DataFrame([{c: row[c] for c in _NUMBERS}])
    for side in ("before", "after"):
        value = float(row[side])
        if "duration" in metric or ("call" in metric and metric != "call_error_rate"):
            frame[side] = [format_duration(value)]
        elif "cost" in metric:
            frame[side] = [f"${value:.4f}"]
        elif metric in ("failure_rate", "call_error_rate", "pass_rate", "new_error_family"):
            frame[side] = [f"{value:.1%}"]
        else:
            frame[side] = [f"{value:.3f}"]
    return frame


def _chart(findings: Findings, rank: int, ax: Any) -> object:
    from .. import plot  # matplotlib loads when a page's figures are drawn

    return plot.finding_chart(findings, rank=rank, ax=ax)


def _timeline(spans: pd.DataFrame, ax: Any) -> object:
    from .. import plot

    return plot.timeline(spans, ax=ax)


def finding_sections(
    findings: Findings, spans: pd.DataFrame | None, *, figures: bool
) -> list[FindingSection]:
    """One :class:`FindingSection` per production finding: its numbers and examples, and with
    ``figures`` its chart and the timeline of its first example session whose spans are in
    ``spans``."""
    out = []
    have = set(spans["session_id"].astype(str)) if spans is not None and len(spans) else set()
    for _, row in findings.table.iterrows():
        rank = int(row["rank"])
        examples = [str(i) for i in row["examples"]]
        section = FindingSection(rank, str(row["sentence"]), _numbers(row), examples)
        if figures:
            chart = _figure(partial(_chart, findings, rank), (10, 3.6))
            shown = next((i for i in examples if i in have), "")
            timeline = ""
            if shown and spans is not None:
                mine = spans[spans["session_id"].astype(str) == shown]
                timeline = _figure(partial(_timeline, mine), (10, 3.2))
            section = FindingSection(
                rank, section.sentence, section.numbers, examples, chart, timeline, shown
            )
        out.append(section)
    return out


def worth_opening_ids(sessions: pd.DataFrame) -> list[str]:
    """The id of the latest failed session of each shown failure family, largest first."""
    families = analysis.failure_families(sessions, top=FAMILIES_SHOWN)
    return [ids[0] for ids in families["example_ids"] if len(ids)]


def _worth_opening(sessions: pd.DataFrame, spans: pd.DataFrame | None) -> pd.DataFrame:
    """The latest failed session of each failure family (largest family first): id, agent,
    start, duration, cost, error and — when ``spans`` holds its timeline — the path of the
    deepest span that failed."""
    rows = sessions.set_index("id").loc[worth_opening_ids(sessions)].reset_index()
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


def _tables(
    sessions: pd.DataFrame,
    spans: pd.DataFrame | None,
    eval_runs: pd.DataFrame | None,
    findings: Findings,
) -> dict[str, pd.DataFrame]:
    """Every table the report shows (and writes as CSV), by name, in page order."""
    columns = [
        "rank",
        "kind",
        "subject",
        "metric",
        "before",
        "after",
        "ratio",
        "q_value",
        "start",
        "end",
        "sessions",
        "sentence",
    ]
    tables: dict[str, pd.DataFrame] = {
        "findings": findings.table[columns].assign(scope="production"),
        "cost_by_agent": analysis.cost_by(sessions, by="agent"),
        "cost_by_day": analysis.cost_by(sessions, freq="D"),
        "reliability_by_agent": analysis.reliability(sessions, by="agent"),
        "latency_by_agent": analysis.latency_percentiles(sessions, by="agent"),
        "failure_families": analysis.failure_families(sessions, top=FAMILIES_SHOWN),
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
    return tables


def _totals(sessions: pd.DataFrame) -> dict[str, str]:
    """The headline figures, formatted: sessions, total cost ($), cost per successful session
    ($), failure rate (% of completed sessions) and p50 / p99 duration of completed ones."""
    done = sessions[status.done(sessions)]
    failed = int(status.failed(sessions).sum())
    succeeded = int(status.succeeded(sessions).sum())
    spent = float(sessions["total_cost"].sum())
    return {
        "sessions": f"{len(sessions):,}",
        "total cost": f"${sessions['total_cost'].sum():,.2f}",
        "cost per successful session": f"${spent / succeeded:.4f}" if succeeded else "—",
        "failure rate": f"{failed / (failed + succeeded):.1%}" if failed + succeeded else "—",
        "p50 / p99 duration": " / ".join(
            format_duration(done["duration"].quantile(q)) for q in (0.5, 0.99)
        )
        if len(done)
        else "—",
    }


def _figures(
    sessions: pd.DataFrame, spans: pd.DataFrame | None, eval_runs: pd.DataFrame | None
) -> dict[str, str]:
    """The HTML page's charts as ``<img>`` tags, by section name."""
    from .. import plot  # matplotlib loads when a page is drawn, not on import

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
    return figures


def render_report(
    sessions: pd.DataFrame,
    *,
    spans: pd.DataFrame | None = None,
    eval_runs: pd.DataFrame | None = None,
    findings: Findings | None = None,
    title: str = "Agent sessions: cost & reliability",
    fmt: str = "html",
) -> Report:
    """The report of ``sessions`` (with ``agent``), optional ``spans`` and ``eval_runs``, as an
    unwritten :class:`Report` (write it with :meth:`Report.write`). Pure: no file is touched,
    and the same frames give the same text.

    It opens with the Findings (:func:`sessionkit.analysis.find_incidents` of the same frames,
    or ``findings`` when given): one sentence each, linking to a section with the chart of the
    change and an example session's timeline (when ``spans`` holds it).
    ``fmt="html"``: one self-contained page with charts; ``fmt="markdown"``: the findings and
    tables, for pasting into a ticket. Raises :class:`ValueError` for another ``fmt``.
    """
    if fmt not in FORMATS:
        raise ValueError("fmt must be 'html' or 'markdown'")
    if findings is None:
        findings = analysis.find_incidents(sessions, spans, eval_runs)
    tables = _tables(sessions, spans, eval_runs, findings)
    incidents = findings.sentences()
    development = findings.sentences(development=True)
    summary = _findings_summary(findings)
    start = format_timestamp(sessions["start_time"].min())
    end = format_timestamp(sessions["start_time"].max())
    totals = _totals(sessions)
    if fmt == "markdown":
        sections = finding_sections(findings, spans, figures=False)
        lines = findings_markdown(sections, development, summary)
        text = markdown_page(title, start, end, totals, lines, tables)
    else:
        sections = finding_sections(findings, spans, figures=True)
        figures = _figures(sessions, spans, eval_runs)
        worth = _worth_opening(sessions, spans)
        page = findings_html(sections, development, summary)
        text = html_page(title, start, end, totals, page, tables, figures, worth)
    return Report(text=text, fmt=fmt, tables=tables, incidents=incidents, findings=findings)


def _findings_summary(findings: Findings) -> str:
    """What the findings rest on, in one sentence."""
    details = (
        f", {findings.details_sessions:,} of them with spans and eval runs (a sample stratified "
        "by agent and day)"
        if findings.details_sessions
        else " (no session details: calls and evals not analysed)"
    )
    return (
        f"{len(findings.table)} finding(s) in {findings.sessions_analysed:,} completed sessions"
        f"{details}; {findings.tests:,} segment × metric tests, false discovery rate controlled "
        f"at q <= {10**-findings.min_evidence:g}; development traffic apart."
    )
