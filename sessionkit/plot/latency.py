"""Latency charts: the duration distribution and percentiles over time."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..analysis import bucket_start
from ._style import (
    axes,
    bucket_label,
    colour,
    duration_axis,
    legend_outside,
    no_data,
    seconds_label,
)

PERCENTILES = (0.5, 0.9, 0.99)


def _seconds(sessions: pd.DataFrame, column: str) -> pd.Series:
    done = (
        sessions[sessions["pending"].fillna(False).eq(False)] if "pending" in sessions else sessions
    )
    return done[column].dropna().dt.total_seconds()


def duration_distribution(
    sessions: pd.DataFrame, *, column: str = "duration", bins: int = 60, ax: Axes | None = None
) -> Axes:
    """Histogram of completed sessions' ``column`` on a log axis, p50/p90/p99 marked."""
    ax = axes(ax)
    label = column.replace("_", " ")
    title = f"{label.capitalize()} of completed sessions"
    values = _seconds(sessions, column)
    values = values[values > 0]
    if not len(values):
        return no_data(ax, title, f"{label.capitalize()} (log scale)", "Sessions")
    low, high = values.min(), values.max()
    edges = np.logspace(
        np.log10(low), np.log10(high * 1.0001) if high > low else np.log10(low) + 1, bins + 1
    )
    ax.hist(values, bins=list(edges), color=colour(0), alpha=0.85)
    ax.set_xscale("log")
    duration_axis(ax.xaxis)
    for q, style in zip(PERCENTILES, ("-", "--", ":"), strict=True):
        x = float(values.quantile(q))
        ax.axvline(
            x,
            color="#333333",
            linestyle=style,
            linewidth=1.2,
            label=f"p{int(q * 100)} = {seconds_label(x)}",
        )
    ax.set_title(title)
    ax.set_xlabel(f"{label.capitalize()} (log scale)")
    ax.set_ylabel("Sessions")
    legend_outside(ax)
    return ax


def latency_over_time(
    sessions: pd.DataFrame, *, freq: str = "D", column: str = "duration", ax: Axes | None = None
) -> Axes:
    """p50 / p90 / p99 of completed sessions' ``column`` per ``freq`` bucket of start time (UTC)."""
    ax = axes(ax)
    label = column.replace("_", " ")
    title = f"{label.capitalize()} percentiles per {bucket_label(freq)}"
    done = sessions.dropna(subset=[column, "start_time"])
    if not len(done):
        return no_data(ax, title, "Start time (UTC)", label.capitalize())
    bucket = bucket_start(done["start_time"], freq).dt.tz_localize(None)
    secs = done[column].dt.total_seconds()
    table = secs.groupby(bucket).quantile(list(PERCENTILES)).unstack()
    for i, q in enumerate(PERCENTILES):
        ax.plot(
            table.index,
            table[q].to_numpy(),
            marker="o",
            markersize=3,
            color=colour(i),
            label=f"p{int(q * 100)}",
        )
    ax.set_yscale("log")
    duration_axis(ax.yaxis)
    ax.set_title(title)
    ax.set_xlabel("Start time (UTC)")
    ax.set_ylabel(f"{label.capitalize()} (log scale)")
    ax.figure.autofmt_xdate()
    legend_outside(ax)
    return ax
