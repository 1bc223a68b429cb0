"""The report: self-contained, names the planted incidents, links resolve, Markdown and CSV."""

from __future__ import annotations

import re
import stat
from functools import cache
from html import escape
from pathlib import Path

import pandas as pd

from sessionkit.emulator import load_demo
from sessionkit.report import build_report
from tests.conftest import demo_sessions
from tests.truth import project_frames


@cache
def _details() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The demo's sessions and the details of the stratified sample the report loads."""
    return project_frames(load_demo())


def test_html_report_is_self_contained_and_opens_with_the_findings(tmp_path: Path) -> None:
    sessions, spans, evals = _details()
    report = build_report(
        sessions,
        spans=spans,
        eval_runs=evals,
        out=tmp_path / "r.html",
        csv_dir=tmp_path / "csv",
    )
    html = report.path.read_text()
    assert not re.search(r"""(src|href)=['"]https?://""", html), (
        "external resource in a self-contained report"
    )
    assert html.count("src='data:image/png;base64,") >= 8 + 2 * 5
    # the page opens with the findings: the five planted incidents, each a linked sentence
    # whose section holds its chart and an example session's timeline
    first_section = html.split("<h2>", 2)[1]
    assert first_section.startswith("Findings</h2>")
    assert len(report.incidents) == 5 == len(report.findings.table)
    for rank, sentence in enumerate(report.incidents, start=1):
        assert f"<a href='#finding-{rank}'>{escape(sentence)}</a>" in html
        section = html.split(f"<h3 id='finding-{rank}'>", 1)[1].split("<h3", 1)[0].split("<h2>")[0]
        assert section.count("data:image/png;base64,") == 2, rank  # chart + timeline
        assert "Example session <code>sess_" in section
    for incident in load_demo().incidents:
        named = incident["deployment_id"] or incident["subject"]
        assert any(named in s for s in report.incidents), named
    assert any("failure rate" in s and "support-triage" in s for s in report.incidents)
    assert any("cost per session" in s and "doc-extractor" in s for s in report.incidents)
    assert any("calls to orders.example-shop.com" in s for s in report.incidents)
    assert "ToolTimeoutError: tool &lt;str&gt; did not respond" in html  # the top failure family
    cells = re.findall(r"<td>([^<]*)</td>", html)
    assert any(re.fullmatch(r"2026-11-\d\d \d\d:\d\d:\d\d UTC", c) for c in cells)
    # tables read like the bullets: money, rates, p-values, human durations; people's names
    assert any(re.fullmatch(r"\$\d[\d,]*\.\d{2,4}", c) for c in cells)
    assert any(re.fullmatch(r"\d+(\.\d)?%", c) for c in cells)
    assert any(re.fullmatch(r"\d\.\de-\d\d", c) for c in cells)
    assert not any(re.search(r"\d+ days \d\d:", c) for c in cells)
    assert "before_at" not in html and "previous deployment" in html
    # the details section shows failed sessions (with their error), not successful ones
    section = html.split("Failed sessions worth opening", 1)[1]
    assert "ToolTimeoutError" in section and section.count("<tr>") >= 4
    assert not any(re.search(r"\d\d:\d\d:\d\d\.\d+\+00:00", c) for c in cells)  # no ns noise
    targets = set(re.findall(r"href='#([^']+)'", html))
    assert all(f"id='{t}'" in html for t in targets)  # no link to nowhere
    assert stat.S_IMODE(report.path.stat().st_mode) == 0o600
    csvs = {p.stem for p in (tmp_path / "csv").glob("*.csv")}
    assert csvs == set(report.tables)
    again = pd.read_csv(tmp_path / "csv" / "cost_by_agent.csv")
    assert again["total_cost"].sum() == report.tables["cost_by_agent"]["total_cost"].sum()


def test_markdown_report(tmp_path: Path) -> None:
    sessions, spans, evals = _details()
    report = build_report(
        sessions, spans=spans, eval_runs=evals, out=tmp_path / "r.md", fmt="markdown"
    )
    text = report.path.read_text()
    assert text.startswith("# Agent sessions") and "## Findings" in text and "<img" not in text
    assert "deploy_" in text and "## Failure families" in text
    # the findings come first, each a link to its part (its numbers and example sessions)
    assert text.index("## Findings") < text.index("## Cost by agent")
    for rank in range(1, len(report.incidents) + 1):
        assert f"{rank}. [" in text and f"](#finding-{rank})" in text
        assert f'<a id="finding-{rank}"></a>Finding {rank}' in text
    assert "error family AuthError: &lt;num&gt; Unauthorized" in text  # templates stay text
    assert text.count("Example sessions: `sess_") == 5
    # found by a new user: raw reprs and floats of mixed units where a person reads
    head = text.split("## Findings", 1)[0]
    assert re.search(r"Sessions started 2026-10-28 \d\d:\d\d:\d\d UTC to ", head), head
    assert re.search(r"p50 / p99 duration\*\*: [\d.]+ s / ", head) and "00:00:" not in head
    lines = text.splitlines()
    rows = [x.split(" | ") for x in lines if " | failure_rate | " in x and "deploy_" in x]
    rows = [r for r in rows if r[1].startswith("deploy_")]  # the deployments compared
    assert rows and all(re.fullmatch(r"\d+\.\d%", r[4]) and r[7].endswith(" pp") for r in rows)
    assert any(" | cost_per_session | $" in line for line in text.splitlines())
    assert "['" not in text  # lists are text, not Python reprs
    assert "&lt;str&gt;" in text and " <str> " not in text  # templates survive Markdown
    assert " | worse | " in text  # deployments compared (regressions first)
    assert {"worse", "better"} <= set(report.tables["changes"]["direction"])


def test_report_of_nothing_still_renders(tmp_path: Path) -> None:
    empty = demo_sessions().iloc[0:0]
    report = build_report(empty, out=tmp_path / "empty.html")
    assert "No finding above the threshold." in report.path.read_text()
    text = build_report(empty, out=tmp_path / "empty.md", fmt="markdown").path.read_text()
    assert "No finding above the threshold." in text
