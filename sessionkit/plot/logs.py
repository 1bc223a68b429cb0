"""Log severity over time, for one session or many."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from ..display import SEVERITY_COLOURS, UNKNOWN_SEVERITY
from ..errors import InvalidArgumentError
from ..schema import severity_dtype
from ._style import (
    COUNT,
    MISSING,
    NONE_LABEL,
    axes,
    bucket_grid,
    bucket_label,
    date_numbers,
    no_data,
    no_data_because,
    note,
    require,
    time_axis,
)

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
    require(logs, ["timestamp", "severity"], "logs")
    if len(logs) and not logs["timestamp"].notna().any():
        why = f"none of the {len(logs):,} log lines has a timestamp"
        return no_data_because(ax, title, why, "Time (UTC)", "Log lines")
    data = logs[logs["timestamp"].notna()]
    if not len(data):
        return no_data(ax, title, "Time (UTC)", "Log lines")
    if not pd.api.types.is_datetime64_any_dtype(data["timestamp"].dtype):
        try:  # e.g. object after concatenating frames of different time units
            data = data.assign(timestamp=pd.to_datetime(data["timestamp"], utc=True))
        except (ValueError, TypeError) as exc:
            raise InvalidArgumentError(
                f"the logs frame's column 'timestamp' holds {data['timestamp'].dtype} values, "
                "not times; convert it with pd.to_datetime(logs['timestamp'], utc=True)"
            ) from exc
    untimed = len(logs) - len(data)
    first, last = data["timestamp"].min(), data["timestamp"].max()
    freq = freq or auto_freq(max(last - first, pd.Timedelta("1ms")))
    try:
        bucket = data["timestamp"].dt.floor(freq)
    except ValueError as exc:
        raise InvalidArgumentError(
            f"freq={freq!r} cannot bucket log timestamps ({exc}); pass a fixed length such as "
            "'1s', '10min', 'h' or 'D', or freq=None to pick one"
        ) from exc
    severity = data["severity"]
    if not isinstance(severity.dtype, pd.CategoricalDtype):  # known order, then the unknown
        severity = severity.astype("string").astype(
            severity_dtype(severity.dropna().astype(str).unique())
        )
    # lines without a severity are their own layer, "(none)", on top
    if severity.isna().any():
        if NONE_LABEL not in severity.cat.categories:
            severity = severity.cat.add_categories([NONE_LABEL])
        severity = severity.fillna(NONE_LABEL)
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
            "color": MISSING
            if name == NONE_LABEL
            else SEVERITY_COLOURS.get(name, UNKNOWN_SEVERITY),
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
    if untimed:
        note(ax, f"{untimed:,} log lines without a timestamp not shown")
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
