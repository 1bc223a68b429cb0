"""One finding's chart: its metric over time, the change marked (before/after levels, the
change point, the window of a transient)."""

from __future__ import annotations

from typing import Any

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..analysis import Findings
from ._style import (
    FAILED,
    MUTED,
    NEUTRAL,
    SECONDS,
    axes,
    date_numbers,
    legend_outside,
    money_tick,
    no_data,
    no_data_because,
    note,
    shorten,
    time_axis,
)

_RATES = ("failure_rate", "call_error_rate", "pass_rate", "new_error_family")
_WORDS = {
    "failure_rate": "failure rate",
    "call_error_rate": "failing calls",
    "p50_duration": "median duration",
    "p95_duration": "p95 duration",
    "p50_call": "median time in the calls",
    "p95_call": "p95 time in the calls",
    "cost_per_session": "cost per session",
    "pass_rate": "pass rate",
    "mean_score": "mean score",
    "new_error_family": "share of sessions with the new family",
}


def finding_chart(
    findings: Findings,
    *,
    rank: int = 1,
    scope: str = "production",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Finding ``rank`` (of ``scope``: production or development) of ``findings``: its
    metric per time bucket (:meth:`Findings.chart_data`: the points, sized by how many
    observations they hold), the level before (grey) and during/after the change (orange), a
    vertical line where it started (a grey band where sparse data dates it only between two
    times) and, for a transient, where it ended (the window shaded).
    Rates are shown in %, durations in human units, costs in $. ``kwargs`` go to the points'
    :meth:`~matplotlib.axes.Axes.scatter`. Returns the Axes ("No data" when the finding has
    no series, such as a new error family seen only by count, or no such rank exists)."""
    ax = axes(ax)
    table = findings.table if scope == "production" else findings.development
    rows = table[table["rank"] == rank]
    if rows.empty:
        return no_data(ax, f"No finding ranked {rank}", "Start time (UTC)")
    row = rows.iloc[0]
    metric = str(row["metric"])
    title = shorten(f"{rank}. {row['subject']}: {_WORDS.get(metric, metric)}", 90)
    series = findings.chart_data(rank, scope=scope)
    ylabel = _WORDS.get(metric, metric)
    if series.empty:
        return no_data_because(ax, title, "no series for this finding", "Start time (UTC)", ylabel)
    x = date_numbers(series["bucket"])
    y = series["value"].to_numpy(dtype="float64")
    counts = series["count"].to_numpy(dtype="float64")
    size = 6 + 30 * counts / max(counts.max(), 1)
    options: dict[str, Any] = {"s": size, "color": NEUTRAL, "alpha": 0.7, "zorder": 3}
    options.update(kwargs)
    ax.scatter(x, y, **options)
    start = date_numbers(pd.Series([row["start"]]))[0]
    has_end = not pd.isna(row["end"])
    stop = date_numbers(pd.Series([row["end"]]))[0] if has_end else x.max()
    ax.axvspan(start, stop, color=FAILED, alpha=0.08, zorder=1)
    low, high = (date_numbers(pd.Series([row[k]]))[0] for k in ("start_low", "start_high"))
    if high > low:  # sparse data dates the start only this precisely
        ax.axvspan(low, high, color=MUTED, alpha=0.15, zorder=1, label="began between")
    ax.axvline(
        start, color=FAILED, linewidth=1.2, zorder=2, label=f"change {row['start']:%b %d %H:%M}"
    )
    if has_end:
        ax.axvline(
            stop,
            color=FAILED,
            linewidth=1.2,
            linestyle=":",
            zorder=2,
            label=f"recovered {row['end']:%b %d %H:%M}",
        )
    before, after = float(row["before"]), float(row["after"])
    if np.isfinite(before):
        ax.hlines(
            before,
            x.min(),
            start,
            colors=MUTED,
            linestyles="--",
            linewidth=1.5,
            zorder=4,
            label="before",
        )
        if has_end:
            ax.hlines(before, stop, x.max(), colors=MUTED, linestyles="--", linewidth=1.5, zorder=4)
    if np.isfinite(after):
        ax.hlines(
            after,
            start,
            stop,
            colors=FAILED,
            linestyles="-",
            linewidth=2,
            zorder=4,
            label="during" if has_end else "after",
        )
    if metric in _RATES:
        ax.yaxis.set_major_formatter(mticker.PercentFormatter(1.0, decimals=0))
        ax.set_ylim(bottom=0)
    elif "duration" in metric or "call" in metric:
        ax.yaxis.set_major_formatter(SECONDS)
        ax.set_ylim(bottom=0)
    elif "cost" in metric:
        ax.yaxis.set_major_formatter(mticker.FuncFormatter(money_tick))
        ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    time_axis(ax)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    legend_outside(ax, fontsize=8, frameon=False)
    note(
        ax,
        f"points: the metric per time bucket (size: observations); {int(row['sessions']):,} sessions",
    )
    return ax
