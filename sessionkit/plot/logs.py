"""Log severity over time, for one session or many."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from ..display import SEVERITY_COLOURS, UNKNOWN_SEVERITY
from ..schema import severity_dtype
from ._style import COUNT, axes, bucket_grid, bucket_label, date_numbers, no_data, time_axis

_STEPS = (
    "1ms",
    "10ms",
    "100ms",
    "1s",
    "10s",
    "1min",
    "10min",
    "1h",
    "6h",
    "1D",
    "7D",
    "30D",
)


def auto_freq(span: pd.Timedelta, buckets: int = 60) -> str:
    """The smallest step of 1 ms, 10 ms, ... 1 h, 6 h, 1 day, 7 days, 30 days giving at most
    ``buckets`` buckets over ``span``."""
    for step in _STEPS:
        if span / pd.Timedelta(step) <= buckets:
            return step
    return _STEPS[-1]


def log_severity_over_time(
    logs: pd.DataFrame, *, freq: str | None = None, ax: Axes | None = None, **kwargs: Any
) -> Axes:
    """Stacked bars of log lines per severity per time bucket (UTC): TRACE at the bottom up to
    FATAL, then any unrecognised spellings. Works for one session's logs or many sessions'.

    ``freq=None`` picks the bucket (1 ms … 30 days) giving at most ~60 bars over the logs' span.
    ``kwargs`` go to :meth:`~matplotlib.axes.Axes.bar`.
    """
    title = "Log lines by severity"
    ax = axes(ax)
    data = logs[logs["timestamp"].notna()] if "timestamp" in logs else logs
    if not len(data):
        return no_data(ax, title, "Time (UTC)", "Log lines")
    first, last = data["timestamp"].min(), data["timestamp"].max()
    freq = freq or auto_freq(max(last - first, pd.Timedelta("1ms")))
    bucket = data["timestamp"].dt.floor(freq)
    severity = data["severity"]
    if not isinstance(severity.dtype, pd.CategoricalDtype):  # known order, then the unknown
        severity = severity.astype(severity_dtype(severity.dropna().unique()))
    counts = data.groupby([bucket, severity], observed=True).size().unstack(fill_value=0)
    order = [str(s) for s in severity.cat.categories if s in counts.columns]
    counts.columns = [str(c) for c in counts.columns]
    starts, lengths = bucket_grid(counts.index.min(), counts.index.max(), freq)
    counts = counts.reindex(index=starts, columns=order, fill_value=0)
    x = date_numbers(starts)
    bottom = np.zeros(len(counts))
    for name in order:
        values = counts[name].to_numpy(dtype="float64")
        options: dict[str, Any] = {
            "width": lengths * 0.85,
            "align": "edge",
            "color": SEVERITY_COLOURS.get(name, UNKNOWN_SEVERITY),
            "label": name,
        }
        options.update(kwargs)
        ax.bar(x, values, bottom=bottom, **options)
        bottom += values
    sessions = data["session_id"].nunique() if "session_id" in data else 1
    scope = "one session" if sessions == 1 else f"{sessions:,} sessions"
    ax.set_title(f"{title} per {bucket_label(freq)} ({len(data):,} lines, {scope})")
    time_axis(ax, "Time (UTC)")
    ax.set_xlim(x[0] - 0.1 * lengths[0], x[-1] + lengths[-1] * 1.1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))
    ax.set_ylim(0, max(float(bottom.max()), 1.0) * 1.08)
    ax.yaxis.set_major_formatter(COUNT)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_ylabel("Log lines")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(
        handles[::-1],
        labels[::-1],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=8.5,
        title="severity",
    )
    return ax
