"""The report: self-contained, names the planted incidents, links resolve, Markdown and CSV."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pandas as pd

import sessionkit as sk
from sessionkit.emulator import load_demo
from sessionkit.report import build_report
from tests.conftest import demo_sessions


def _details() -> tuple[pd.DataFrame, pd.DataFrame]:
    ds = load_demo()
    pairs = [(str(ds.columns["id"][i]), ds.detail(i, ds.now_ns)) for i in range(200)]
    spans = sk.spans_frame((s, d["session"]["timeline"]) for s, d in pairs)
    evals = sk.eval_runs_frame((s, r) for s, d in pairs for r in d["eval_runs"])
    return spans, evals


def test_html_report_is_self_contained_and_names_the_incidents(tmp_path: Path) -> None:
    spans, evals = _details()
    report = build_report(
        demo_sessions(),
        spans=spans,
        eval_runs=evals,
        out=tmp_path / "r.html",
        csv_dir=tmp_path / "csv",
    )
    html = report.path.read_text()
    assert not re.search(r"""(src|href)=['"]https?://""", html), (
        "external resource in a self-contained report"
    )
    assert html.count("src='data:image/png;base64,") >= 8
    for incident in load_demo().incidents:
        assert incident["agent"] in html and incident["deployment_id"] in html
    assert any("failure rate" in s and "support-triage" in s for s in report.incidents)
    assert any("cost per session" in s and "doc-extractor" in s for s in report.incidents)
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
    report = build_report(demo_sessions(), out=tmp_path / "r.md", fmt="markdown")
    text = report.path.read_text()
    assert (
        text.startswith("# Agent sessions") and "## Detected changes" in text and "<img" not in text
    )
    assert "deploy_" in text and "## Failure families" in text
    # found by a new user: raw reprs and floats of mixed units where a person reads
    head = text.split("## Detected changes", 1)[0]
    assert re.search(r"Sessions started 2026-10-28 \d\d:\d\d:\d\d UTC to ", head), head
    assert re.search(r"p50 / p99 duration\*\*: [\d.]+ s / ", head) and "00:00:" not in head
    lines = text.splitlines()
    rows = [x.split(" | ") for x in lines if " | failure_rate | " in x and "deploy_" in x]
    assert rows and all(re.fullmatch(r"\d+\.\d%", r[4]) and r[7].endswith(" pp") for r in rows)
    assert any(" | cost_per_session | $" in line for line in text.splitlines())
    assert "['" not in text  # lists are text, not Python reprs
    assert "&lt;str&gt;" in text and " <str> " not in text  # templates survive Markdown
    assert "(regression)" in text and "(improvement)" in text


def test_report_of_nothing_still_renders(tmp_path: Path) -> None:
    empty = demo_sessions().iloc[0:0]
    report = build_report(empty, out=tmp_path / "empty.html")
    assert "No significant change detected." in report.path.read_text()
