"""Latency charts: the duration distribution and percentiles over time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .. import analysis, status
from ._style import (
    BY_HINT,
    axes,
    bucket_grid,
    bucket_label,
    date_numbers,
    duration_axis,
    durations,
    group_colours,
    legend_outside,
    no_data,
    no_data_because,
    note,
    period_freq,
    require,
    seconds_label,
    time_axis,
    top_names,
)

PERCENTILES = (0.5, 0.9, 0.99)
#: Line style of each percentile: one hue, darker and more solid for the median.
PERCENTILE_STYLES: dict[str, dict[str, Any]] = {
    "p50": {"color": "#08306B", "linestyle": "-", "linewidth": 1.8},
    "p90": {"color": "#2171B5", "linestyle": "--", "linewidth": 1.5},
    "p99": {"color": "#6BAED6", "linestyle": ":", "linewidth": 1.8},
}
#: Percentile markers over the histogram: one dark colour, told apart by the dash.
MARKER_STYLES: dict[str, dict[str, Any]] = {
    "p50": {"color": "#08306B", "linestyle": "-", "linewidth": 1.6},
    "p90": {"color": "#08306B", "linestyle": "--", "linewidth": 1.4},
    "p99": {"color": "#08306B", "linestyle": ":", "linewidth": 1.8},
}


def _label(column: str) -> str:
    return {"cpu_time": "CPU time"}.get(column, column.replace("_", " ").capitalize())


def _only(sessions: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """The columns a percentile needs (copying a million-row frame's every column is slow)."""
    return sessions[
        [c for c in dict.fromkeys(("pending", "start_time", *columns)) if c in sessions]
    ]


def _completed_seconds(sessions: pd.DataFrame, column: str) -> pd.Series:
    done = status.done(sessions) if "pending" in sessions else slice(None)
    values = sessions.loc[done, column].dropna()
    return values.dt.total_seconds()


def duration_distribution(
    sessions: pd.DataFrame,
    *,
    column: str = "duration",
    by: str | None = None,
    top: int = 6,
    bins: int = 60,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Histogram of completed sessions' ``column`` (``duration`` or ``cpu_time``) on a log axis
    in human units, with p50 / p90 / p99 (of all completed sessions) as labelled vertical lines.

    ``by`` overlays one outlined histogram per group (the ``top`` largest). Zero durations
    cannot sit on a log axis and are counted in a note. ``kwargs`` go to
    :meth:`~matplotlib.axes.Axes.hist`.
    """
    label = _label(column)
    title = f"{label} of completed sessions" + (f" by {by}" if by else "")
    xlabel = f"{label} (log scale)"
    ax = axes(ax)
    if not len(sessions):
        return no_data(ax, title, xlabel, "Sessions")
    require(sessions, [column, by], "sessions", BY_HINT if by else "")
    sessions = durations(sessions, [column], "sessions")
    seconds = _completed_seconds(sessions, column)
    positive = seconds[seconds > 0]
    if not len(positive):
        what = column.replace("_", " ")
        why = (
            f"no completed sessions with a {what}"
            if not len(seconds)
            else f"{len(seconds):,} completed sessions, all of zero {what} (a log axis has no 0)"
        )
        return no_data_because(ax, title, why, xlabel, "Sessions")
    low, high = float(positive.min()), float(positive.max())
    if high <= low * 1.01:
        low, high = low / 1.5, high * 1.5
    edges = np.logspace(np.log10(low), np.log10(high * 1.0001), bins + 1)
    if by:
        groups = sessions.loc[positive.index, by].astype("string").fillna("(none)")
        names = top_names(groups.value_counts(), top)
        colours = group_colours(sessions[by], names)
        for name in names:
            options: dict[str, Any] = {
                "bins": edges,
                "histtype": "step",
                "linewidth": 1.6,
                "color": colours[name],
                "label": f"{name} (n={int((groups == name).sum()):,})",
            }
            options.update(kwargs)
            ax.hist(positive[groups == name].to_numpy(), **options)
    else:
        options = {"bins": edges, "color": "#56B4E9", "edgecolor": "white", "linewidth": 0.3}
        options.update(kwargs)
        ax.hist(positive.to_numpy(), **options)
    ax.set_xscale("log")
    duration_axis(ax.xaxis)
    ax.set_xlim(edges[0], edges[-1])
    _, top_y = ax.get_ylim()
    ax.set_ylim(0, top_y * 1.12)  # headroom for the percentile labels
    table = analysis.latency_percentiles(_only(sessions, column), column=column, q=PERCENTILES)
    for i, (name, style) in enumerate(MARKER_STYLES.items()):
        x = pd.Timedelta(table[name].iloc[0]).total_seconds()
        if not x > 0:  # a zero percentile (many zero durations) has no place on a log axis
            continue
        ax.axvline(x, label=f"{name} = {seconds_label(x)}", zorder=3, **style)
        ax.annotate(
            f"{name} {seconds_label(x)}",
            xy=(x, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -4 - 11 * i),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=8,
            color=style["color"],
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
            zorder=4,
        )
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title(title.replace(" of completed", f" of {len(seconds):,} completed"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Sessions")
    zeros = int((seconds <= 0).sum())
    if zeros:
        note(ax, f"{zeros:,} sessions of zero {column.replace('_', ' ')} not shown")
    if by:
        legend_outside(ax, title=by)
    return ax


def latency_over_time(
    sessions: pd.DataFrame,
    *,
    freq: str = "D",
    column: str = "duration",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """p50 / p90 / p99 of completed sessions' ``column`` per ``freq`` bucket of start time
    (UTC), on a log axis in human units. Buckets without sessions are gaps in the lines.
    ``kwargs`` go to :meth:`~matplotlib.axes.Axes.plot`."""
    label = _label(column)
    freq = period_freq(freq)
    title = f"{label} percentiles per {bucket_label(freq)} (completed sessions)"
    ylabel = f"{label} (log scale)"
    ax = axes(ax)
    if not len(sessions):
        return no_data(ax, title, "Start time (UTC)", ylabel)
    require(sessions, [column, "start_time"], "sessions")
    data = durations(sessions[sessions["start_time"].notna()], [column], "sessions")
    table = analysis.latency_percentiles(
        _only(data, column), freq=freq, column=column, q=PERCENTILES
    )
    what = column.replace("_", " ")
    if not len(table):
        why = f"no completed sessions with a {what} and a start time"
        return no_data_because(ax, title, why, "Start time (UTC)", ylabel)
    table = table.set_index("bucket")
    starts, _lengths = bucket_grid(table.index.min(), table.index.max(), freq)
    table = table.reindex(starts)
    values = {
        name: table[name].dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
        for name in PERCENTILE_STYLES
    }
    if not any((v > 0).any() for v in values.values()):
        why = f"every completed session has a zero {what} (a log axis has no 0)"
        return no_data_because(ax, title, why, "Start time (UTC)", ylabel)
    zero_buckets = int((values["p50"] <= 0).sum())
    x = date_numbers(starts)
    for name, style in PERCENTILE_STYLES.items():
        seconds = np.where(values[name] > 0, values[name], np.nan)  # a log axis has no 0
        options: dict[str, Any] = {"marker": "o", "markersize": 2.5, "label": name, **style}
        options.update(kwargs)
        ax.plot(x, seconds, **options)
    ax.set_yscale("log")
    duration_axis(ax.yaxis)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    time_axis(ax)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    small = int((table["count"].fillna(0) < 20).sum() - table["count"].isna().sum())
    notes = []
    if small:
        notes.append(f"{small} {bucket_label(freq)}s with < 20 sessions: their p99 is noisy")
    if zero_buckets:
        notes.append(f"{zero_buckets} {bucket_label(freq)}s with a zero p50 not shown (log axis)")
    if notes:
        note(ax, "; ".join(notes))
    legend_outside(ax, reverse=True)  # p99 on top, as in the chart
    return ax
