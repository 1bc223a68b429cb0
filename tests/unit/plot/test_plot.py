"""Plot helpers, tested through their artists (bar sizes, line data, rectangles, labels) on small
hand-built frames whose aggregates are computed by hand here."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex, to_rgba
from matplotlib.figure import Figure

import sessionkit as sk
from sessionkit import plot
from sessionkit.plot._style import (
    MISSING,
    PALETTE,
    DurationLocator,
    bucket_label,
    count_label,
    money,
    money_tick,
    seconds_label,
)
from sessionkit.plot.logs import auto_freq
from tests.conftest import empty_sessions_with_agent


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


RNG_SEED = 20261101

# agent, day, cost, seconds, success, tokens
SPEC = [
    ("a", 1, 1.0, 0.5, True, 100),
    ("a", 1, 2.0, 2.0, False, 300),
    ("b", 1, 0.5, 10.0, True, 50),
    ("a", 2, 4.0, 1.0, True, 900),
    ("b", 2, 0.25, 20.0, True, 20),
    ("b", 2, 0.25, 30.0, False, 40),
]


def _sessions(spec: list[tuple[str, int, float, float, bool, int]] = SPEC) -> pd.DataFrame:
    rows = []
    for i, (_agent, day, cost, secs, ok, tokens) in enumerate(spec):
        t = f"2026-11-{day:02d}T{10 + i // 60:02d}:{i % 60:02d}:00Z"
        rows.append(
            {
                "id": f"sess_{i:032x}",
                "created_at": t,
                "updated_at": t,
                "start_time": t,
                "pending": False,
                "success": ok,
                "error": None if ok else f"ToolTimeoutError: tool 'search' timed out after {i}s",
                "total_cost": cost,
                "llm_cost": cost / 2,
                "duration": int(secs * 1e9),
                "cpu_time": int(secs * 5e8),
                "llm_prompt_token_count": tokens,
                "llm_completion_token_count": tokens // 10,
                "agent_ids": [],
            }
        )
    frame = sk.sessions_frame(rows)
    frame.insert(1, "agent", pd.Categorical([s[0] for s in spec]))
    return frame


TREE: dict[str, Any] = {
    "id": "r",
    "operation": "HTTP POST",
    "duration": 100.0,
    "children": [
        {
            "id": "a",
            "operation": "agent.run",
            "duration": 80.0,
            "attributes": {"@agentuity/agentName": "triage"},
            "children": [
                {"id": "k", "operation": "agentuity.keyvalue.get", "duration": 10.0},
                {"id": "l", "operation": "gen_ai.chat", "duration": 90.0, "error": "boom"},
            ],
        },
        {"id": "h", "operation": "HTTP GET", "duration": 15.0},
        {"id": "t", "operation": "agentuity.vector.search", "duration": 0.2},
    ],
}


def _spans() -> pd.DataFrame:
    return sk.spans_frame([("sess_1", TREE)])


def _runs() -> pd.DataFrame:
    spec = [  # session, eval, passed, score
        ("s1", "tone", True, 0.9),
        ("s2", "tone", False, 0.3),
        ("s3", "tone", True, 0.8),
        ("s1", "json-valid", True, 1.0),
        ("s2", "json-valid", True, 0.95),
    ]
    return sk.eval_runs_frame(
        (
            s,
            {
                "id": f"evalrun_{i:032x}",
                "eval_id": e,
                "created_at": "2026-11-01T10:00:00Z",
                "pending": False,
                "success": True,
                "result": {"success": True, "passed": p, "score": score},
            },
        )
        for i, (s, e, p, score) in enumerate(spec)
    )


def _logs() -> pd.DataFrame:
    lines = [
        ("s", {"body": "x", "severity": sev, "timestamp": f"2026-11-01T10:0{m}:0{i}Z"})
        for i, (m, sev) in enumerate(
            [(0, "INFO"), (0, "error"), (0, "INFO"), (1, "warning"), (1, "DEBUG"), (3, "INFO")]
        )
    ]
    return sk.logs_frame(lines)


def _texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def _legend(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def _ticks(ax: Axes, axis: str) -> list[str]:
    ax.figure.canvas.draw()
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_text() for t in labels if t.get_text()]


def _day(day: int) -> float:
    return float(mdates.date2num(np.datetime64(f"2026-11-{day:02d}T00:00:00")))


def _bars(ax: Axes) -> dict[str, list[tuple[float, float, float]]]:
    """Bar containers by label: (x, height, bottom) of each bar."""
    return {
        str(c.get_label()): [(p.get_x(), p.get_height(), p.get_y()) for p in c.patches]
        for c in ax.containers
    }


# --------------------------------------------------------------------------- formatters


def test_money_and_duration_formatters() -> None:
    assert [money(x) for x in (0, 0.0042, 0.05, 0.5, 12.345, 1234.5, 2.5e6, -3.0)] == [
        "$0.00",
        "$0.0042",
        "$0.05",
        "$0.50",
        "$12.35",
        "$1.2k",
        "$2.5M",
        "-$3.00",
    ]
    assert [money_tick(x) for x in (0, 20, 0.05, 1500)] == ["$0", "$20", "$0.05", "$1.5k"]
    assert [seconds_label(x) for x in (0.25, 3.2, 240, 7200, 0.0005)] == [
        "250 ms",
        "3.2 s",
        "4 min",
        "2 h",
        "500 µs",
    ]
    assert [count_label(x) for x in (950, 1500, 2e6)] == ["950", "1.5k", "2M"]
    assert [bucket_label(f) for f in ("D", "h", "W", "15min", "1s")] == [
        "day",
        "hour",
        "week",
        "15 minutes",
        "second",
    ]


def test_duration_locator_picks_human_ticks() -> None:
    locator = DurationLocator()
    assert list(locator.tick_values(0.3, 700)) == [1, 10, 60, 600]
    assert list(locator.tick_values(0.8, 25)) == [1, 2, 5, 10, 20]
    assert [seconds_label(t) for t in locator.tick_values(0.004, 0.3)] == [
        "5 ms",
        "10 ms",
        "20 ms",
        "50 ms",
        "100 ms",
        "200 ms",
    ]


# --------------------------------------------------------------------------- cost


def test_cost_over_time_stacks_each_agents_daily_cost() -> None:
    ax = plot.cost_over_time(_sessions(), freq="D", by="agent")
    bars = _bars(ax)
    assert [(x, h) for x, h, _b in bars["a"]] == [(_day(1), 3.0), (_day(2), 4.0)]
    assert [(x, h) for x, h, _b in bars["b"]] == [(_day(1), 0.5), (_day(2), 0.5)]
    assert [b for _x, _h, b in bars["b"]] == [3.0, 4.0]  # stacked on the larger group
    assert _legend(ax) == ["b", "a"]  # legend reads like the stack, top first
    assert ax.get_ylabel() == "Cost (USD)" and ax.get_xlabel() == "Start time (UTC)"
    assert ax.get_title() == "Cost per day by agent"
    assert all(t.startswith("$") for t in _ticks(ax, "y"))


def test_cost_over_time_merges_small_groups_into_other_and_fills_gaps() -> None:
    spec = [*SPEC, ("c", 4, 0.1, 1.0, True, 10), ("d", 4, 0.05, 1.0, True, 10)]
    ax = plot.cost_over_time(_sessions(spec), freq="D", top=2)
    bars = _bars(ax)
    assert set(bars) == {"a", "b", "other"}
    assert [h for _x, h, _b in bars["other"]] == pytest.approx([0, 0, 0, 0.15])
    assert [x for x, _h, _b in bars["a"]] == [_day(d) for d in (1, 2, 3, 4)]  # day 3: a gap
    assert [h for _x, h, _b in bars["a"]] == [3.0, 4.0, 0.0, 0.0]
    other = ax.containers[-1].patches[0]
    assert to_hex(other.get_facecolor()) == "#bbbbbb"


def test_cost_over_time_without_groups_and_by_week() -> None:
    ax = plot.cost_over_time(_sessions(), freq="W", by=None)
    (total,) = _bars(ax).values()
    # 2026-11-01 is a Sunday: it closes the week of Monday 26 October
    assert [(x, h) for x, h, _b in total] == [(_day(1) - 6, 3.5), (_day(2), 4.5)]
    assert ax.get_legend() is None and ax.get_title() == "Cost per week"
    assert "partly covered" in " ".join(_texts(ax))
    ax = plot.cost_over_time(_sessions(), freq="MS", by=None)  # date-range alias of a month
    (total,) = _bars(ax).values()
    assert [(x, h) for x, h, _b in total] == [(_day(1), 8.0)] and "per month" in ax.get_title()
    assert ax.containers[0].patches[0].get_width() == pytest.approx(30 * 0.85)


def test_cost_breakdown_bars_are_the_sums_largest_on_top() -> None:
    ax = plot.cost_breakdown(_sessions())
    names = [t.get_text() for t in ax.get_yticklabels()]
    widths = [p.get_width() for p in ax.patches]
    assert names == ["b", "a"] and widths == [1.0, 7.0]  # barh draws bottom-up
    assert _texts(ax) == ["$1.00", "$7.00"]
    assert ax.get_xlabel() == "Total cost (USD)" and ax.get_title() == "Total cost by agent"
    assert all(t.startswith("$") for t in _ticks(ax, "x"))


def test_cost_breakdown_per_successful_session() -> None:
    ax = plot.cost_breakdown(_sessions(), metric="cost_per_success")
    widths = dict(
        zip(
            [t.get_text() for t in ax.get_yticklabels()],
            [p.get_width() for p in ax.patches],
            strict=True,
        )
    )
    assert widths == {"a": 3.5, "b": 0.5}
    assert _texts(ax) == ["$0.50 · 2 successful", "$3.50 · 2 successful"]
    assert ax.get_title() == "Cost per successful session by agent"


def test_cost_breakdown_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"metric='cost'.*'total_cost'"):
        plot.cost_breakdown(_sessions(), metric="cost")
    with pytest.raises(ValueError, match=r"no column 'team'.*by="):
        plot.cost_breakdown(_sessions(), by="team")


def test_tokens_vs_cost_plots_every_session_or_says_it_sampled() -> None:
    frame = _sessions()
    ax = plot.tokens_vs_cost(frame)
    points = {str(c.get_label()): c.get_offsets() for c in ax.collections}
    assert sorted(points) == ["a", "b"]
    assert sorted(map(tuple, points["a"])) == [(110.0, 1.0), (330.0, 2.0), (990.0, 4.0)]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_ylabel() == "Cost per session (USD)"
    rng = np.random.default_rng(RNG_SEED)
    big = pd.concat([frame] * 50, ignore_index=True)
    big["total_cost"] = rng.uniform(0.01, 1.0, len(big))
    ax = plot.tokens_vs_cost(big, max_points=40)
    assert sum(len(c.get_offsets()) for c in ax.collections) == 40
    assert "random sample of 40 of 300 sessions" in ax.get_title()
    rare = _sessions([*[SPEC[0]] * 500, ("rare", 1, 0.5, 1.0, True, 10)])
    ax = plot.tokens_vs_cost(rare, max_points=100)
    points = {str(c.get_label()): len(c.get_offsets()) for c in ax.collections}
    assert points == {"a": 99, "rare": 1} and "kept whole" in ax.get_title()


def test_tokens_vs_cost_notes_sessions_it_cannot_place() -> None:
    frame = _sessions()
    frame.loc[0, "total_cost"] = 0.0
    ax = plot.tokens_vs_cost(frame)
    assert sum(len(c.get_offsets()) for c in ax.collections) == 5
    assert "1 sessions without tokens or cost not shown" in _texts(ax)


def test_an_agent_keeps_its_colour_across_charts() -> None:
    spec = [("zeta", 1, 5.0, 1.0, True, 10), *SPEC]  # zeta is the most expensive, sorted last
    frame = _sessions(spec)
    expected = {"a": PALETTE[0], "b": PALETTE[1], "zeta": PALETTE[2]}
    breakdown = plot.cost_breakdown(frame)
    names = [t.get_text() for t in breakdown.get_yticklabels()]
    colours = {n: to_hex(p.get_facecolor()) for n, p in zip(names, breakdown.patches, strict=True)}
    over_time = plot.cost_over_time(frame)
    stacked = {
        str(c.get_label()): to_hex(c.patches[0].get_facecolor()) for c in over_time.containers
    }
    scatter = plot.tokens_vs_cost(frame)
    points = {str(c.get_label()): to_hex(c.get_facecolor()[0]) for c in scatter.collections}
    for chart in (colours, stacked, points):
        assert {k: v.upper() for k, v in chart.items()} == expected


# --------------------------------------------------------------------------- latency


def test_duration_distribution_marks_percentiles_where_they_are() -> None:
    frame = _sessions()
    ax = plot.duration_distribution(frame)
    lines = {str(line.get_label()).split(" = ")[0]: line.get_xdata()[0] for line in ax.get_lines()}
    # durations 0.5 1 2 10 20 30 s: linear-interpolated quantiles
    assert lines == pytest.approx({"p50": 6.0, "p90": 25.0, "p99": 29.5})
    assert _texts(ax) == ["p50 6 s", "p90 25 s", "p99 29.5 s"]
    assert ax.get_xscale() == "log" and sum(p.get_height() for p in ax.patches) == len(frame)
    edges = [p.get_x() for p in ax.patches]
    assert np.allclose(np.diff(np.log(edges)), np.log(edges[1] / edges[0]))  # log-spaced bins
    assert set(_ticks(ax, "x")) <= {"500 ms", "1 s", "2 s", "5 s", "10 s", "20 s"}
    assert ax.get_xlabel() == "Duration (log scale)" and ax.get_ylabel() == "Sessions"
    assert ax.get_title() == "Duration of 6 completed sessions"


def test_duration_distribution_by_group_and_cpu_time() -> None:
    ax = plot.duration_distribution(_sessions(), by="agent")
    assert _legend(ax)[:2] == ["a (n=3)", "b (n=3)"]
    ax = plot.duration_distribution(_sessions(), column="cpu_time")
    p50 = next(line for line in ax.get_lines() if str(line.get_label()).startswith("p50"))
    assert p50.get_xdata()[0] == pytest.approx(3.0) and ax.get_title().startswith("CPU time")


def test_latency_over_time_lines_are_daily_percentiles() -> None:
    ax = plot.latency_over_time(_sessions(), freq="D")
    lines = {str(line.get_label()): line.get_xydata() for line in ax.get_lines()}
    assert list(lines["p50"][:, 0]) == [_day(1), _day(2)]
    assert list(lines["p50"][:, 1]) == pytest.approx([2.0, 20.0])
    assert list(lines["p90"][:, 1]) == pytest.approx([8.4, 28.0])
    assert _legend(ax) == ["p99", "p90", "p50"]
    assert all(t.endswith(("s", "min")) for t in _ticks(ax, "y"))
    assert ax.get_xlabel() == "Start time (UTC)" and ax.get_yscale() == "log"


# --------------------------------------------------------------------------- reliability


def test_success_rate_over_time_with_wilson_band_and_volume() -> None:
    ax = plot.success_rate_over_time(_sessions(), freq="D")
    rate = next(line for line in ax.get_lines() if line.get_label() == "success rate")
    assert list(rate.get_ydata()) == pytest.approx([2 / 3, 2 / 3])
    assert list(rate.get_xdata()) == pytest.approx([_day(1) + 0.5, _day(2) + 0.5])
    (volume,) = [a for a in ax.get_shared_x_axes().get_siblings(ax) if a is not ax]
    assert volume in ax.figure.axes and volume.get_position().bounds == ax.get_position().bounds
    assert [p.get_height() for p in volume.patches] == [3, 3]  # 3 completed sessions a day
    assert [p.get_x() + p.get_width() / 2 for p in volume.patches] == pytest.approx(
        [_day(1) + 0.5, _day(2) + 0.5]
    )
    assert {to_hex(p.get_facecolor()) for p in volume.patches} == {"#d9d9d9"}
    assert not ax.patches and volume.get_ylabel() == "Completed sessions"
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    ys = band.get_paths()[0].vertices[:, 1]
    low, high = sk_wilson(2, 3)
    assert ys.min() == pytest.approx(low) and ys.max() == pytest.approx(high)
    labels = _legend(ax)
    assert labels[:2] == ["success rate", "95% interval (Wilson)"]
    assert "< 20 sessions (noisy)" in labels and "completed sessions (right axis)" in labels
    assert all(t.endswith("%") for t in _ticks(ax, "y"))


def sk_wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_success_rate_over_time_by_agent() -> None:
    ax = plot.success_rate_over_time(_sessions(), by="agent")
    lines = {
        str(line.get_label()): list(line.get_ydata())
        for line in ax.get_lines()
        if not str(line.get_label()).startswith("_")
    }
    assert lines == {"a": pytest.approx([0.5, 1.0]), "b": pytest.approx([1.0, 0.5])}


def test_failure_families_chart_counts_families_keeps_full_text() -> None:
    frame = _sessions()
    long = "KeyNotFound: key 'cust:1:profile' not found in store 'a' " + "while loading " * 12
    frame.loc[1, "error"] = long
    frame.loc[5, "error"] = long.replace("cust:1", "cust:2")
    frame.loc[0, ["success", "error"]] = [False, "RateLimitError: 429 from api.openai.com"]
    ax = plot.failure_families_chart(frame)
    assert [p.get_width() for p in ax.patches] == [1, 2]  # largest on top
    top = ax.get_yticklabels()[1].get_text()
    assert top.startswith("KeyNotFound: key <str> not found in store <str>")
    assert top.endswith("…") and top.count("\n") == 1  # two lines, shortened
    assert _texts(ax) == ["1 (33%)  a", "2 (67%)  a, b"]
    assert {to_hex(p.get_facecolor()) for p in ax.patches} == {"#d55e00"}
    # the table behind the bars, full templates included, is analysis.failure_families
    families = sk.analysis.failure_families(frame).head(10)
    assert families["count"].tolist() == [p.get_width() for p in ax.patches][::-1]
    assert families.loc[0, "template"].endswith("while loading")
    assert top.replace("\n", " ")[:-1] in " ".join(families.loc[0, "template"].split())
    assert ax.get_xlabel() == "Failed sessions" and "3 failed of 6 completed" in ax.get_title()


# --------------------------------------------------------------------------- evals, logs


def test_eval_scores_two_panels_pass_rate_and_scores() -> None:
    fig = plot.eval_scores(_runs())
    assert isinstance(fig, Figure)
    rates, scores = fig.axes
    names = [t.get_text() for t in rates.get_yticklabels()]
    widths = [p.get_width() for p in rates.patches]
    assert dict(zip(names, widths, strict=True)) == pytest.approx(
        {"tone": 2 / 3, "json-valid": 1.0}
    )
    assert names == ["json-valid", "tone"]  # worst pass rate on top
    assert _texts(rates) == ["100% of 2", "67% of 3"]
    medians = [line.get_xdata()[0] for line in scores.lines if line.get_color() == "#08306B"]
    assert medians == pytest.approx([0.975, 0.8])
    assert rates.get_title() == "Eval pass rate by eval" and scores.get_xlabel().startswith("Score")


def test_eval_scores_on_a_given_axes_draws_one_panel() -> None:
    _fig, ax = plt.subplots()
    assert plot.eval_scores(_runs(), ax=ax) is ax
    assert len(ax.patches) == 2
    only = plot.eval_scores(_runs(), kind="scores")
    assert isinstance(only, Axes) and only.get_title() == "Eval scores by eval"
    empty = plot.eval_scores(sk.empty_frame("eval_runs"))  # no runs: still the two panels
    assert isinstance(empty, Figure) and [a.get_title() for a in empty.axes] == [
        "Eval pass rate by eval",
        "Eval scores by eval",
    ]
    with pytest.raises(ValueError, match="kind='both' draws two panels"):
        plot.eval_scores(_runs(), kind="both", ax=ax)  # type: ignore[call-overload]


def _verdicts(groups: dict[str, list[bool]]) -> pd.DataFrame:
    """Eval runs of a completed verdict each: ``{eval_id: [passed, ...]}``."""
    items = [(e, p) for e, verdicts in groups.items() for p in verdicts]
    return sk.eval_runs_frame(
        (
            f"s{i}",
            {
                "id": f"evalrun_{i:032x}",
                "eval_id": e,
                "created_at": "2026-11-01T10:00:00Z",
                "pending": False,
                "success": True,
                "result": {"success": True, "passed": p, "score": 1.0 if p else 0.0},
            },
        )
        for i, (e, p) in enumerate(items)
    )


@pytest.mark.parametrize(
    "groups",
    [
        {"never": [False] * 3},
        {"never": [False] * 7, "always": [True] * 10},
        {"always": [True] * 13},
        {"one-pass": [True], "one-fail": [False]},
        {"third": [True, False, False], "most": [True] * 99 + [False]},
        {"big-zero": [False] * 100, "big-one": [True] * 1000},
    ],
    ids=["0of3", "0of7-10of10", "13of13", "one-run", "1of3-99of100", "0of100-1000of1000"],
)
def test_eval_pass_rate_whiskers_are_a_valid_interval_at_the_edges(
    groups: dict[str, list[bool]],
) -> None:
    ax = plot.eval_scores(_verdicts(groups), kind="pass_rate")
    (bars,) = [c for c in ax.containers if hasattr(c, "patches") and c.patches]
    rates = {t.get_text(): p.get_width() for t, p in zip(ax.get_yticklabels(), bars, strict=True)}
    assert rates == pytest.approx({k: sum(v) / len(v) for k, v in groups.items()})
    (whiskers,) = [c for c in ax.collections if len(c.get_segments()) == len(groups)]
    for (x0, _y0), (x1, _y1) in (s for s in whiskers.get_segments()):
        low, high = sorted((x0, x1))
        assert 0.0 <= low <= high <= 1.0
    for segment, rate in zip(whiskers.get_segments(), [p.get_width() for p in bars], strict=True):
        low, high = sorted((segment[0][0], segment[1][0]))
        assert low <= rate <= high  # the interval holds the rate (exactly 0 or 1 at the edges)
        if rate == 0:
            assert low == 0.0 and high > 0
        if rate == 1:
            assert high == 1.0 and low < 1


def test_log_severity_over_time_stacks_counts_in_severity_order() -> None:
    ax = plot.log_severity_over_time(_logs(), freq="1min")
    assert _legend(ax) == ["ERROR", "WARN", "INFO", "DEBUG"]
    bars = _bars(ax)
    assert {k: [h for _x, h, _b in v] for k, v in bars.items()} == {
        "DEBUG": [0, 1, 0, 0],
        "INFO": [2, 0, 0, 1],
        "WARN": [0, 1, 0, 0],
        "ERROR": [1, 0, 0, 0],
    }
    assert [to_hex(c.patches[0].get_facecolor()) for c in ax.containers][-1] == "#d55e00"
    assert ax.get_title() == "Log lines by severity per minute (6 lines, one session)"
    auto = plot.log_severity_over_time(_logs())
    assert "per 10 seconds" in auto.get_title()
    assert auto_freq(pd.Timedelta("3min")) == "10s" and auto_freq(pd.Timedelta("2D")) == "1h"


def test_log_severity_colours_and_order_come_from_display_and_schema() -> None:
    from sessionkit.display import SEVERITY_COLOURS, UNKNOWN_SEVERITY

    logs = _logs()
    logs["severity"] = ["NOTICE", "AUDIT", "TRACE", "FATAL", "INFO", None]  # plain text
    ax = plot.log_severity_over_time(logs, freq="1min")
    # unknown after FATAL, the line without a severity on top as "(none)"
    assert _legend(ax) == ["(none)", "AUDIT", "FATAL", "NOTICE", "INFO", "TRACE"]
    colours = {str(c.get_label()): to_hex(c.patches[0].get_facecolor()) for c in ax.containers}
    assert colours == {
        **{k: SEVERITY_COLOURS[k].lower() for k in ("TRACE", "INFO", "NOTICE", "FATAL")},
        "AUDIT": UNKNOWN_SEVERITY.lower(),
        "(none)": MISSING.lower(),
    }
    assert not hasattr(plot.logs, "SEVERITY_COLOURS") or (
        plot.logs.SEVERITY_COLOURS is SEVERITY_COLOURS
    )


# --------------------------------------------------------------------------- spans


def _rectangles(ax: Axes) -> dict[str, list[tuple[float, float, float]]]:
    out: dict[str, list[tuple[float, float, float]]] = {}
    for c in ax.collections:
        rects = []
        for path in c.get_paths():
            v = path.vertices
            x0, x1, y0, y1 = v[:, 0].min(), v[:, 0].max(), v[:, 1].min(), v[:, 1].max()
            rects.append((float(x0), float(x1 - x0), round(float(y0 + y1) / 2, 9)))
        out[str(c.get_label())] = rects
    return out


def test_timeline_draws_each_span_as_a_rectangle_and_highlights_failures() -> None:
    ax = plot.timeline(_spans())
    rects = _rectangles(ax)
    np.testing.assert_allclose(
        rects["spans"], [(0, 100, 0), (0, 80, -1), (0, 10, -2), (80, 15, -1), (95, 0.2, -1)]
    )
    np.testing.assert_allclose(rects["failed"], [(10, 70, -2)])
    failed = next(c for c in ax.collections if c.get_label() == "failed")
    assert np.allclose(failed.get_edgecolor()[0], to_rgba("#D55E00")) and failed.get_hatch()
    assert "failed" in _legend(ax) and "LLM call" in _legend(ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1", "2"]
    assert ax.get_xlim() == (0.0, 100.0) and ax.get_xlabel().endswith("(ms)")
    labels = _texts(ax)
    assert "HTTP POST" in labels and "agent.run · triage" in labels
    assert not any("vector" in t or t == "search" for t in labels)  # 0.2 ms: no room for text
    assert ax.get_title() == "Timeline of sess_1\n6 spans, 100 ms total, 1 failed"
    fills = {str(c.get_label()): [to_hex(f) for f in c.get_facecolor()] for c in ax.collections}
    # r HTTP, a agent run, k storage, h HTTP, t storage; l (failed) an LLM call
    assert fills == {
        "spans": ["#56b4e9", "#0072b2", "#009e73", "#56b4e9", "#009e73"],
        "failed": ["#e69f00"],
    }


def test_timeline_picks_a_session_and_hides_deep_or_narrow_spans() -> None:
    spans = pd.concat(
        [_spans(), sk.spans_frame([("sess_2", {"id": "x", "operation": "cron", "duration": 3e3})])],
        ignore_index=True,
    )
    ax = plot.timeline(spans, session_id="sess_2")
    assert _rectangles(ax)["spans"] == [(0, 3, 0)] and ax.get_xlabel().endswith("(s)")
    with pytest.raises(sk.InvalidArgumentError, match=r"holds 2 sessions; pass session_id="):
        plot.timeline(spans)  # never a chart of an arbitrary one of them
    one = spans[spans["session_id"] != "sess_2"]
    ax = plot.timeline(one, max_depth=1, min_width=pd.Timedelta("1ms"))
    assert len(_rectangles(ax)["spans"]) == 3 and "failed" not in _rectangles(ax)
    assert "hidden: 2 spans deeper than 1; 1 spans narrower than 1 ms" in " ".join(_texts(ax))


def test_timeline_draws_a_10k_span_tree() -> None:
    """(Its drawing time is measured in benchmarks/bench_spans.py.)"""
    rng = np.random.default_rng(RNG_SEED)
    nodes: list[dict[str, Any]] = [{"id": "0", "operation": "HTTP POST", "duration": 6e4}]
    for i in range(1, 10_000):
        parent = nodes[int(rng.integers(max(0, i - 40), i))]
        node = {"id": str(i), "operation": "gen_ai.chat", "duration": float(rng.uniform(1, 500))}
        parent.setdefault("children", []).append(node)
        nodes.append(node)
    spans = sk.spans_frame([("big", nodes[0])])
    ax = plot.timeline(spans)
    ax.figure.canvas.draw()
    assert sum(len(c.get_paths()) for c in ax.collections) == 10_000


def test_operation_hotspots_chart_bars_are_total_and_self() -> None:
    ax = plot.operation_hotspots_chart(_spans())
    names = [t.get_text() for t in ax.get_yticklabels()]
    total, self_time = (
        dict(zip(names, [p.get_width() for p in c.patches], strict=True)) for c in ax.containers
    )
    assert total == pytest.approx(
        {
            "HTTP POST": 100,
            "gen_ai.chat": 90,
            "HTTP GET": 15,
            "agentuity.keyvalue.get": 10,
            "agentuity.vector.search": 0.2,
            "agent.run": 80,
        }
    )
    assert self_time["gen_ai.chat"] == pytest.approx(90) and self_time[
        "HTTP POST"
    ] == pytest.approx(4.8)
    assert names[-1] == "gen_ai.chat"  # largest self time on top
    assert _legend(ax) == ["total (incl. children)", "self"]
    assert ax.get_xlabel() == "Time summed over sessions (ms)"


# --------------------------------------------------------------------------- every helper

SESSION_HELPERS: dict[str, Callable[..., Any]] = {
    "cost_over_time": plot.cost_over_time,
    "cost_breakdown": plot.cost_breakdown,
    "tokens_vs_cost": plot.tokens_vs_cost,
    "duration_distribution": plot.duration_distribution,
    "latency_over_time": plot.latency_over_time,
    "success_rate_over_time": plot.success_rate_over_time,
    "failure_families_chart": plot.failure_families_chart,
}
ALL = [
    *[(name, f, _sessions) for name, f in SESSION_HELPERS.items()],
    ("eval_scores", plot.eval_scores, _runs),
    ("log_severity_over_time", plot.log_severity_over_time, _logs),
    ("timeline", plot.timeline, _spans),
    ("operation_hotspots_chart", plot.operation_hotspots_chart, _spans),
]
EMPTY = {
    "eval_scores": lambda: sk.empty_frame("eval_runs"),
    "log_severity_over_time": lambda: sk.empty_frame("logs"),
    "timeline": lambda: sk.empty_frame("spans"),
    "operation_hotspots_chart": lambda: sk.empty_frame("spans"),
}


def _all_axes(result: Axes | Figure) -> list[Axes]:
    return list(result.axes) if isinstance(result, Figure) else [result]


@pytest.mark.parametrize(("name", "helper", "_data"), ALL, ids=[a[0] for a in ALL])
def test_empty_input_draws_a_labelled_no_data_axes(
    name: str, helper: Callable[..., Any], _data: object
) -> None:
    frames = (
        [EMPTY[name]()]
        if name in EMPTY
        else [empty_sessions_with_agent(), sk.empty_frame("sessions")]
    )
    for empty in frames:
        for ax in _all_axes(helper(empty)):
            assert "No data" in _texts(ax) and ax.get_title()


@pytest.mark.parametrize("name", list(SESSION_HELPERS))
def test_nothing_to_show_is_no_data_too(name: str) -> None:
    pending = _sessions()
    pending["pending"] = True
    pending["duration"] = pending["cpu_time"] = pd.Series(pd.NaT, pending.index, "timedelta64[ns]")
    pending["success"] = pd.NA
    pending["total_cost"] = pending["llm_cost"] = float("nan")
    pending["start_time"] = pd.NaT
    ax = SESSION_HELPERS[name](pending)
    assert "No data" in _texts(ax)


@pytest.mark.parametrize(("name", "helper", "data"), ALL, ids=[a[0] for a in ALL])
def test_ax_is_respected(name: str, helper: Callable[..., Any], data: Callable[[], Any]) -> None:
    _fig, (other, ax) = plt.subplots(1, 2)
    assert helper(data(), ax=ax) is ax
    assert ax.patches or ax.lines or ax.collections
    assert not (other.patches or other.lines or other.collections)
    assert len(plt.get_fignums()) == 1 and ax.get_title()


def test_kwargs_reach_the_main_artist() -> None:
    ax = plot.cost_breakdown(_sessions(), alpha=0.5)
    assert {p.get_alpha() for p in ax.patches} == {0.5}


def test_rcparams_untouched_by_calls_and_theme_is_scoped() -> None:
    before = mpl.rcParams.copy()
    for _name, helper, data in ALL:
        helper(data())
    with plot.theme():
        assert mpl.rcParams["axes.spines.top"] is False
        plot.cost_breakdown(_sessions())
    assert dict(mpl.rcParams) == dict(before)


def test_importing_the_package_leaves_rcparams_alone() -> None:
    code = (
        "import matplotlib as mpl; before = mpl.rcParams.copy();"
        "import sessionkit.plot;"
        "assert dict(mpl.rcParams) == dict(before), 'rcParams changed on import'"
    )
    env = {**os.environ, "MPLBACKEND": "Agg"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_public_surface() -> None:
    assert plot.__all__ == sorted(plot.__all__)
    assert set(plot.__all__) == {
        "PALETTE",
        "cost_breakdown",
        "cost_over_time",
        "duration_distribution",
        "eval_scores",
        "failure_families_chart",
        "finding_chart",
        "latency_over_time",
        "log_severity_over_time",
        "operation_hotspots_chart",
        "success_rate_over_time",
        "theme",
        "timeline",
        "timeline_layout",
        "tokens_vs_cost",
    }
