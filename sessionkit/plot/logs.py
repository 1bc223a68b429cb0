"""Log severity over time, for one session or many."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from ..schema import SEVERITIES
from ._style import axes, legend_outside, no_data

SEVERITY_COLOURS = {
    "TRACE": "#BBBBBB",
    "DEBUG": "#56B4E9",
    "INFO": "#009E73",
    "WARN": "#E69F00",
    "ERROR": "#D55E00",
    "FATAL": "#CC79A7",
}
_STEPS = ("1ms", "10ms", "100ms", "1s", "10s", "1min", "10min", "1h", "6h", "1D", "7D")


def _auto_freq(span: pd.Timedelta, buckets: int = 40) -> str:
    for step in _STEPS:
        if span / pd.Timedelta(step) <= buckets:
            return step
    return "30D"


def log_severity_over_time(
    logs: pd.DataFrame, *, freq: str | None = None, ax: Axes | None = None
) -> Axes:
    """Stacked bars of log lines per severity (TRACE … FATAL, then unknown spellings) per time
    bucket (UTC). ``freq=None`` picks a bucket giving at most ~40 bars over the logs' span."""
    ax = axes(ax)
    title = "Log lines by severity"
    data = logs.dropna(subset=["timestamp"])
    if not len(data):
        return no_data(ax, title, "Time (UTC)", "Log lines")
    span = data["timestamp"].max() - data["timestamp"].min()
    freq = freq or _auto_freq(max(span, pd.Timedelta("1ms")))
    bucket = data["timestamp"].dt.floor(freq).dt.tz_localize(None)
    counts = data.groupby([bucket, data["severity"]], observed=True).size().unstack(fill_value=0)
    order = [s for s in data["severity"].cat.categories if s in counts.columns]
    counts = counts[order]
    width = pd.Timedelta(freq) * 0.85
    bottom = None
    for severity in order:
        values = counts[severity].to_numpy()
        ax.bar(
            counts.index,
            values,
            width=width,
            bottom=bottom,
            align="edge",
            label=str(severity),
            color=SEVERITY_COLOURS.get(str(severity), "#444444"),
        )
        bottom = values if bottom is None else bottom + values
    ax.set_title(f"{title} (per {freq})")
    ax.set_xlabel("Time (UTC)")
    ax.set_ylabel("Log lines")
    ax.figure.autofmt_xdate()
    legend_outside(ax, title="severity")
    return ax


__all__ = ["SEVERITIES", "log_severity_over_time"]
