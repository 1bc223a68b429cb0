"""Ranked bar charts built on :mod:`sessionkit.analysis`: failure families, operation hotspots,
eval pass rates."""

from __future__ import annotations

import textwrap

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from .. import analysis
from ._style import axes, colour, no_data


def _short(text: str, width: int = 70) -> str:
    return textwrap.shorten(text, width=width, placeholder=" …")


def failure_families_chart(
    sessions: pd.DataFrame, *, top: int = 10, ax: Axes | None = None
) -> Axes:
    """Horizontal bars of the ``top`` failure families (templates shortened; full text in
    :func:`sessionkit.analysis.failure_families`), annotated with counts and shares."""
    families = analysis.failure_families(sessions, top=top)
    ax = axes(ax, (11, 0.6 + 0.42 * max(len(families), 2)))
    title = f"Top {top} failure families"
    if not len(families):
        return no_data(ax, title, "Failed sessions")
    families = families.iloc[::-1]
    rows = list(range(len(families)))  # numeric rows: two templates may shorten to the same text
    bars = ax.barh(rows, families["count"], color=colour(3))
    ax.set_yticks(rows, [_short(t, 60) for t in families["template"]])
    ax.bar_label(
        bars,
        labels=[
            f"{c} ({s:.0%})" for c, s in zip(families["count"], families["share"], strict=True)
        ],
        padding=3,
        fontsize=8,
    )
    ax.set_xlim(0, families["count"].max() * 1.2)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(title)
    ax.set_xlabel("Failed sessions")
    return ax


def operation_hotspots_chart(
    spans: pd.DataFrame, *, by: str = "operation", top: int = 15, ax: Axes | None = None
) -> Axes:
    """Total and self time (summed over sessions) of the ``top`` operations by self time."""
    table = analysis.operation_hotspots(spans, by=by).head(top)
    ax = axes(ax, (9, 0.6 + 0.4 * max(len(table), 2)))
    title = f"Where the time goes: top {top} {by}s by self time"
    if not len(table):
        return no_data(ax, title, "Time (summed over sessions)")
    table = table.iloc[::-1]
    labels = [_short(str(i), 50) for i in table.index]
    positions = range(len(table))
    largest = float(table["total"].max().total_seconds())
    unit, per = next(
        ((u, d) for u, d in (("h", 3600.0), ("min", 60.0), ("s", 1.0)) if largest >= 2 * d),
        ("ms", 0.001),
    )
    ax.barh(
        [p + 0.2 for p in positions],
        table["total"].dt.total_seconds() / per,
        height=0.4,
        color="#BBBBBB",
        label="total (incl. children)",
    )
    ax.barh(
        [p - 0.2 for p in positions],
        table["self"].dt.total_seconds() / per,
        height=0.4,
        color=colour(0),
        label="self",
    )
    ax.set_yticks(list(positions), labels, fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(f"Time ({unit}, summed over sessions)")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    return ax


def eval_scores(eval_runs: pd.DataFrame, *, by: str = "eval_id", ax: Axes | None = None) -> Axes:
    """Pass rate per eval (bars, labelled with the mean score and run count)."""
    table = analysis.eval_summary(eval_runs, by=by)
    ax = axes(ax, (8, 0.6 + 0.45 * max(len(table), 2)))
    title = "Eval pass rate"
    if not len(table):
        return no_data(ax, title, "Pass rate")
    bars = ax.barh([str(i) for i in table.index], table["pass_rate"], color=colour(2))
    ax.bar_label(
        bars,
        labels=[
            f"{p:.0%} · mean score {m:.2f} · {r} runs"
            for p, m, r in zip(table["pass_rate"], table["mean_score"], table["runs"], strict=True)
        ],
        padding=3,
        fontsize=8,
    )
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(0, 1.45)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_title(title)
    ax.set_xlabel("Pass rate")
    return ax
