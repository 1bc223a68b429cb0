"""The report's page templates: ready pieces (totals, sentences, tables, figures) → HTML or
Markdown text. Pure string building; nothing is computed from the sessions here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd

from ..display import readable

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.kpi{display:inline-block;margin:0 2em 1em 0}
.kpi b{display:block;font-size:1.6em}.note{color:#666;font-size:13px}img{max-width:100%}
.alert{background:#fff4e5;border-left:4px solid #D55E00;padding:.5em 1em}.alert li{margin:.3em 0}
"""

#: Column names a person reads in the report instead of the analysis' own names.
_PEOPLE_NAMES = {"before_at": "previous deployment", "after_at": "latest deployment"}

#: Rows of each table the Markdown page shows (the CSV files hold all of them).
MARKDOWN_ROWS = 15


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
    """A list-like ``value`` as comma-separated text (None when empty); others unchanged."""
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(map(str, value)) if len(value) else None
    return value


def table_html(frame: pd.DataFrame, *, link_ids: bool = False, max_rows: int = 20) -> str:
    """The first ``max_rows`` of ``frame`` as an HTML table in a scrolling ``<div>``, cells
    escaped; ``link_ids``: the ``id`` cells link to ``#session-<id>``."""
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


def _md_cell(value: object) -> str:
    """One Markdown table cell: numbers as in the HTML page, missing as empty, HTML-significant
    characters as entities, pipes escaped, newlines flattened."""
    if isinstance(value, float):
        text = "" if pd.isna(value) else f"{value:,.4g}"
    elif value is None or value is pd.NA or value is pd.NaT:
        text = ""
    else:
        text = str(value)
    # HTML-significant characters as entities: a template's <num> is text, not a tag
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped, newlines flattened), values
    formatted as in the HTML report."""
    frame = _shown(frame)
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = [
        "| " + " | ".join(_md_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])


@dataclass(frozen=True)
class FindingSection:
    """What the report shows of one finding: its ``rank`` and ``sentence``, its key numbers
    (``numbers``: a one-row table), its example session ids, and — in HTML — its chart and an
    example session's timeline (``<img>`` tags, empty when there is none)."""

    rank: int
    sentence: str
    numbers: pd.DataFrame
    examples: list[str]
    chart: str = ""
    timeline: str = ""
    example: str = ""


def findings_markdown(
    sections: list[FindingSection], development: list[str], summary: str
) -> list[str]:
    """The Markdown of the Findings: a numbered list of sentences linking to a part per
    finding (its numbers and example sessions), development traffic apart."""
    lines = ["## Findings", "", summary, ""]
    lines += [f"{f.rank}. [{_md_text(f.sentence)}](#finding-{f.rank})" for f in sections] or [
        "No finding above the threshold."
    ]
    if development:
        lines += ["", "Development traffic (not production incidents):", ""]
        lines += [f"- {_md_text(s)}" for s in development]
    for f in sections:
        lines += [
            "",
            f'### <a id="finding-{f.rank}"></a>Finding {f.rank}',
            "",
            _md_text(f.sentence),
            "",
        ]
        lines += [md_table(f.numbers), ""]
        if f.examples:
            lines.append("Example sessions: " + ", ".join(f"`{i}`" for i in f.examples))
    return lines


def _md_text(text: str) -> str:
    """Prose for a Markdown page: ``&`` and a ``<`` that opens a tag-like word as entities (a
    template's ``<num>`` is text, not a tag; ``p < 1e-9`` stays), brackets escaped."""
    text = re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text.replace("&", "&amp;"))
    return text.replace("[", "\\[").replace("]", "\\]")


def findings_html(sections: list[FindingSection], development: list[str], summary: str) -> str:
    """The HTML of the Findings: a numbered list of sentences, each linking to its section
    (the chart, an example session's timeline, the numbers), development traffic apart."""
    items = "".join(
        f"<li><a href='#finding-{f.rank}'>{escape(f.sentence)}</a></li>" for f in sections
    )
    body = f"<ol>{items}</ol>" if items else "<p>No finding above the threshold.</p>"
    dev = ""
    if development:
        dev = (
            "<p class='note'>Development traffic (not production incidents):</p><ul>"
            + "".join(f"<li>{escape(s)}</li>" for s in development)
            + "</ul>"
        )
    parts = [
        f"<h2>Findings</h2><p class='note'>{escape(summary)}</p><div class='alert'>{body}</div>{dev}"
    ]
    for f in sections:
        example = (
            f"<h4>Example session <code>{escape(f.example)}</code></h4>{f.timeline}"
            if f.timeline
            else ""
        )
        ids = ", ".join(f"<code>{escape(i)}</code>" for i in f.examples)
        parts.append(
            f"<h3 id='finding-{f.rank}'>Finding {f.rank}</h3><p>{escape(f.sentence)}</p>"
            f"{f.chart}{table_html(f.numbers)}"
            + (f"<p class='note'>Example sessions: {ids}</p>" if ids else "")
            + example
        )
    return "\n".join(parts)


def markdown_page(
    title: str,
    start: object,
    end: object,
    totals: dict[str, str],
    findings: list[str],
    tables: dict[str, pd.DataFrame],
) -> str:
    """The Markdown report: title, time span, totals, the Findings (``findings``: its lines,
    :func:`findings_markdown`) and the first :data:`MARKDOWN_ROWS` rows of every table (no
    figures); ends with a newline."""
    lines = [f"# {title}", "", f"Sessions started {start} to {end}.", ""]
    lines += [f"- **{k}**: {v}" for k, v in totals.items()] + [""]
    lines += findings
    for name, table in tables.items():
        lines += [
            "",
            f"## {name.replace('_', ' ').capitalize()}",
            "",
            md_table(table.head(MARKDOWN_ROWS)),
        ]
        if len(table) > MARKDOWN_ROWS:
            lines += [
                "",
                f"*First {MARKDOWN_ROWS} of {len(table):,} rows; all of them with --csv.*",
            ]
    return "\n".join(lines) + "\n"


def html_page(
    title: str,
    start: object,
    end: object,
    totals: dict[str, str],
    findings: str,
    tables: dict[str, pd.DataFrame],
    figures: dict[str, str],
    worth_opening: pd.DataFrame,
) -> str:
    """The self-contained HTML report: inline styles, the Findings first (``findings``: its
    HTML, :func:`findings_html`), ``figures`` (``<img>`` tags with data URLs, by section name)
    and the sections of ``tables`` present (hotspots and evals only when given);
    ``worth_opening``: the failed sessions the last section lists."""
    t = tables
    kpis = "".join(
        f"<div class='kpi'>{escape(k)}<b>{escape(v)}</b></div>" for k, v in totals.items()
    )
    detail_html = table_html(worth_opening, link_ids=False, max_rows=15)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1><p class='note'>Sessions started {escape(str(start))} to {escape(str(end))}. "
        "Generated by sessionkit; this file needs no network.</p>",
        kpis,
        findings,
        f"<h2>Deployments compared</h2><p class='note'>Each deployment of each agent against "
        f"the one before it (one of the detectors behind the Findings).</p>"
        f"{table_html(t['changes'], max_rows=8)}",
        f"<h2>Cost</h2>{figures['cost']}{figures['breakdown']}{table_html(t['cost_by_agent'])}",
        f"<h3>Top movers (latest vs previous deployment)</h3>{table_html(t['movers'])}",
        f"<h2>Latency</h2>{figures['duration']}{figures['latency']}{table_html(t['latency_by_agent'])}",
        f"<h2>Reliability</h2>{figures['success']}{table_html(t['reliability_by_agent'])}",
        f"<h2>Failure families</h2>{figures['families']}{table_html(t['failure_families'].drop(columns=['example_ids']))}",
    ]
    if "hotspots" in t:
        parts.append(
            f"<h2>Where the time goes</h2>{figures['hotspots']}{table_html(t['hotspots'])}"
        )
    if "evals" in t:
        parts.append(
            f"<h2>Eval quality</h2>{figures['evals']}{table_html(t['evals'])}"
            f"<h3>Succeeded but failed an eval</h3>{table_html(t['succeeded_but_failed_eval'], link_ids=False)}"
        )
    parts += [
        f"<h2>Most expensive sessions</h2>{table_html(t['most_expensive'])}",
        f"<h2>Slowest sessions</h2>{table_html(t['slowest'])}",
        "<h2>Failed sessions worth opening</h2><p class='note'>The latest failed session of "
        "each failure family, with the span that failed when its timeline was sampled; open "
        "one with <code>sk.load_session(id)</code> or the session inspector.</p>"
        f"{detail_html}</body></html>",
    ]
    return "\n".join(parts)
