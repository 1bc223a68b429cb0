"""Plot helpers, tested through their artists (data, labels), on small hand-built frames."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import sessionkit as sk
from sessionkit import plot
from sessionkit.plot._style import money, seconds_label
from sessionkit.plot.timeline import layout

from .test_filtering import _frame as small_frame


def _sessions() -> pd.DataFrame:
    rows = []
    spec = [  # agent, day, cost, seconds, success, tokens
        ("a", 1, 1.0, 0.5, True, 100),
        ("a", 1, 2.0, 2.0, False, 300),
        ("b", 1, 0.5, 10.0, True, 50),
        ("a", 2, 4.0, 1.0, True, 900),
        ("b", 2, 0.25, 20.0, True, 20),
        ("b", 2, 0.25, 30.0, False, 40),
    ]
    for i, (_agent, day, cost, secs, ok, tokens) in enumerate(spec):
        t = f"2026-11-0{day}T{10 + i}:00:00Z"
        rows.append(
            {
                "id": f"sess_{i:032x}",
                "created_at": t,
                "updated_at": t,
                "start_time": t,
                "pending": False,
                "success": ok,
                "total_cost": cost,
                "llm_cost": cost / 2,
                "duration": int(secs * 1e9),
                "llm_prompt_token_count": tokens,
                "llm_completion_token_count": tokens // 10,
                "agent_ids": [],
            }
        )
    frame = sk.sessions_frame(rows)
    frame.insert(1, "agent", pd.Categorical([s[0] for s in spec]))
    return frame


def test_formatters() -> None:
    assert [money(x) for x in (0, 0.0042, 0.05, 0.5, 12.345, 1234.5, 2.5e6)] == [
        "$0.00",
        "$0.0042",
        "$0.050",
        "$0.50",
        "$12.35",
        "$1.2k",
        "$2.5M",
    ]
    assert [seconds_label(x) for x in (0.25, 3.2, 240, 7200)] == ["250 ms", "3.2 s", "4 min", "2 h"]


def test_cost_breakdown_bars_are_the_sums() -> None:
    ax = plot.cost_breakdown(_sessions())
    widths = {
        t.get_text(): p.get_width() for t, p in zip(ax.get_yticklabels(), ax.patches, strict=True)
    }
    assert widths == {"a": 7.0, "b": 1.0}
    assert sorted(t.get_text() for t in ax.texts) == ["$1.00", "$7.00"]
    assert ax.get_xlabel() == "Cost (USD)" and "by agent" in ax.get_title()


def test_cost_over_time_stacks_per_day() -> None:
    ax = plot.cost_over_time(_sessions(), freq="D", by="agent")
    heights: dict[tuple[str, float], float] = {}
    for container in ax.containers:
        label = container.get_label()
        for patch in container.patches:
            heights[(label, round(patch.get_x(), 3))] = patch.get_height()
    days = sorted({x for _, x in heights})
    assert [heights[("a", d)] for d in days] == [3.0, 4.0]
    assert [heights[("b", d)] for d in days] == [0.5, 0.5]
    assert ax.get_ylabel() == "Cost (USD)" and "UTC" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_duration_distribution_marks_percentiles() -> None:
    frame = _sessions()
    ax = plot.duration_distribution(frame)
    secs = frame["duration"].dt.total_seconds()
    lines = {line.get_label().split(" = ")[0]: line.get_xdata()[0] for line in ax.get_lines()}
    assert lines["p50"] == pytest.approx(secs.quantile(0.5)) and lines["p99"] == pytest.approx(
        secs.quantile(0.99)
    )
    assert ax.get_xscale() == "log" and sum(p.get_height() for p in ax.patches) == len(frame)


def test_latency_over_time_lines_are_daily_quantiles() -> None:
    frame = _sessions()
    ax = plot.latency_over_time(frame, freq="D")
    p50 = next(line for line in ax.get_lines() if line.get_label() == "p50")
    assert list(p50.get_ydata()) == pytest.approx([2.0, 20.0])


def test_success_rate_over_time_with_volume() -> None:
    ax = plot.success_rate_over_time(_sessions(), freq="D")
    rate = next(line for line in ax.get_lines() if line.get_label() == "success rate")
    assert list(rate.get_ydata()) == pytest.approx([2 / 3, 2 / 3])
    volume = ax.sessionkit_volume_ax  # type: ignore[attr-defined]
    assert [p.get_height() for p in volume.patches] == [3, 3]


def test_tokens_vs_cost_plots_every_row_or_says_it_sampled() -> None:
    frame = _sessions()
    ax = plot.tokens_vs_cost(frame)
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(frame)
    big = pd.concat([frame] * 10, ignore_index=True)
    ax = plot.tokens_vs_cost(big, max_points=20)
    assert (
        sum(len(c.get_offsets()) for c in ax.collections) == 20 and "sample of 20" in ax.get_title()
    )


TREE = {
    "id": "r",
    "operation": "HTTP POST",
    "duration": 100.0,
    "children": [
        {
            "id": "a",
            "operation": "agent.run",
            "duration": 80.0,
            "children": [
                {"id": "k", "operation": "agentuity.keyvalue.get", "duration": 10.0},
                {"id": "l", "operation": "gen_ai.chat", "duration": 90.0, "error": "boom"},
            ],
        },
        {"id": "h", "operation": "HTTP GET", "duration": 15.0},
    ],
}


def test_timeline_layout_children_from_the_parents_left_edge_clipped() -> None:
    spans = sk.spans_frame([("s", TREE)])
    pos = layout(spans).assign(span=spans["span_id"]).set_index("span")
    assert pos.loc["r"].tolist() == [0.0, 100.0]
    assert pos.loc["a"].tolist() == [0.0, 80.0]
    assert pos.loc["k"].tolist() == [0.0, 10.0]
    assert pos.loc["l"].tolist() == [10.0, 70.0]  # clipped to its parent's end
    assert pos.loc["h"].tolist() == [80.0, 15.0]


def test_timeline_draws_rows_and_highlights_failures() -> None:
    spans = sk.spans_frame([("s", TREE)])
    ax = plot.timeline(spans)
    assert len(ax.collections) >= 4
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "failed span" in labels and "LLM call" in labels
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1", "2"]
    assert "ms" in ax.get_xlabel() and ax.get_xlim() == (0.0, 100.0)
    red = [
        c
        for c in ax.collections
        if np.allclose(c.get_edgecolor()[0][:3], mpl.colors.to_rgb("#D55E00"))
    ]
    assert len(red) == 1  # the failed LLM call (its ancestors carry no error in this tree)


@pytest.mark.parametrize(
    "draw",
    [
        lambda f: plot.cost_over_time(f),
        lambda f: plot.cost_breakdown(f),
        lambda f: plot.tokens_vs_cost(f),
        lambda f: plot.duration_distribution(f),
        lambda f: plot.latency_over_time(f),
        lambda f: plot.success_rate_over_time(f),
        lambda f: plot.timeline(sk.empty_frame("spans")),
        lambda f: plot.failure_families_chart(f),
        lambda f: plot.operation_hotspots_chart(sk.empty_frame("spans")),
        lambda f: plot.eval_scores(sk.empty_frame("eval_runs")),
    ],
)
def test_empty_input_draws_a_labelled_empty_axes(draw: object) -> None:
    empty = small_frame().iloc[0:0]
    ax = draw(empty)  # type: ignore[operator]
    assert any(t.get_text() == "No data" for t in ax.texts) and ax.get_title()


def test_ax_is_respected_and_rcparams_untouched() -> None:
    before = dict(mpl.rcParams)
    _fig, ax = plt.subplots()
    assert plot.cost_breakdown(_sessions(), ax=ax) is ax
    with plot.theme():
        assert mpl.rcParams["axes.spines.top"] is False
    assert dict(mpl.rcParams) == before


def test_failure_families_chart_counts_each_family_on_its_own_row() -> None:
    frame = _sessions()
    frame.loc[1, "error"] = "KeyNotFound: key 'cust:1:profile' not found in store 'a'"
    frame.loc[5, "error"] = "KeyNotFound: key 'cust:2:profile' not found in store 'b'"
    ax = plot.failure_families_chart(frame)
    assert [p.get_width() for p in ax.patches] == [2]
    assert ax.get_yticklabels()[0].get_text() == "KeyNotFound: key <str> not found in store <str>"
    assert [t.get_text() for t in ax.texts] == ["2 (100%)"]


def test_operation_hotspots_chart_bars_are_total_and_self() -> None:
    spans = sk.spans_frame([("s", TREE)])
    ax = plot.operation_hotspots_chart(spans)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    widths = [p.get_width() for p in ax.patches]
    n = len(labels)
    total, self_time = (
        dict(zip(labels, widths[:n], strict=True)),
        dict(zip(labels, widths[n:], strict=True)),
    )
    assert self_time["gen_ai.chat"] == pytest.approx(90.0) and total["HTTP POST"] == pytest.approx(
        100.0
    )
    assert "ms" in ax.get_xlabel()


def test_eval_scores_pass_rates() -> None:
    runs = sk.eval_runs_frame(
        [
            (
                "s1",
                {
                    "id": "evalrun_1",
                    "eval_id": "e1",
                    "pending": False,
                    "success": True,
                    "result": {"passed": True, "score": 0.9},
                },
            ),
            (
                "s2",
                {
                    "id": "evalrun_2",
                    "eval_id": "e1",
                    "pending": False,
                    "success": True,
                    "result": {"passed": False, "score": 0.3},
                },
            ),
        ]
    )
    ax = plot.eval_scores(runs)
    assert [p.get_width() for p in ax.patches] == [0.5] and "50%" in ax.texts[0].get_text()


def test_log_severity_over_time_stacks_counts_in_severity_order() -> None:
    lines = [
        ("s", {"body": "x", "severity": sev, "timestamp": f"2026-11-01T10:00:0{i}Z"})
        for i, sev in enumerate(["INFO", "error", "INFO", "warning", "DEBUG"])
    ]
    logs = sk.logs_frame(lines)
    ax = plot.log_severity_over_time(logs, freq="1min")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["DEBUG", "INFO", "WARN", "ERROR"]
    heights = {c.get_label(): sum(p.get_height() for p in c.patches) for c in ax.containers}
    assert heights == {"DEBUG": 1, "INFO": 2, "WARN": 1, "ERROR": 1}
    empty = plot.log_severity_over_time(sk.empty_frame("logs"))
    assert any(t.get_text() == "No data" for t in empty.texts)
