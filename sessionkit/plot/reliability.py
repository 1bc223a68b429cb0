"""Reliability charts: success rate over time with volume."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from ..analysis import bucket_start, wilson_interval
from ._style import axes, bucket_label, colour, no_data


def success_rate_over_time(
    sessions: pd.DataFrame, *, freq: str = "D", ax: Axes | None = None
) -> Axes:
    """Success rate of completed sessions per ``freq`` bucket (UTC) with its 95% Wilson band;
    session volume as grey bars on a twin axis (``ax.sessionkit_volume_ax``). Returns the main Axes."""
    ax = axes(ax)
    title = f"Success rate per {bucket_label(freq)}"
    done = sessions[sessions["pending"].fillna(False).eq(False)].dropna(subset=["start_time"])
    if not len(done):
        return no_data(ax, title, "Start time (UTC)", "Success rate")
    bucket = bucket_start(done["start_time"], freq).dt.tz_localize(None)
    ok = done["success"].fillna(False).astype(bool)
    table = pd.DataFrame({"n": ok.groupby(bucket).size(), "ok": ok.groupby(bucket).sum()})
    low, high = wilson_interval(table["ok"].to_numpy(), table["n"].to_numpy())
    volume = ax.twinx()
    width = (table.index[1] - table.index[0]) * 0.8 if len(table) > 1 else pd.Timedelta(freq) * 0.8
    volume.bar(
        table.index, table["n"].to_numpy(), width=width, color="#DDDDDD", label="completed sessions"
    )
    volume.set_ylabel("Completed sessions")
    ax.set_zorder(volume.get_zorder() + 1)
    ax.patch.set_visible(False)
    rate = table["ok"] / table["n"]
    ax.fill_between(table.index, low, high, color=colour(0), alpha=0.2, label="95% interval")
    ax.plot(
        table.index,
        rate.to_numpy(),
        color=colour(0),
        marker="o",
        markersize=3,
        label="success rate",
    )
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(max(0.0, float(np.nanmin(low)) - 0.05), 1.01)
    ax.set_title(title, pad=22)
    ax.set_xlabel("Start time (UTC)")
    ax.set_ylabel("Success rate")
    ax.figure.autofmt_xdate()
    handles = ax.get_legend_handles_labels()[0] + volume.get_legend_handles_labels()[0]
    ax.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=3,
        frameon=False,
        fontsize=8,
    )
    ax.sessionkit_volume_ax = volume  # type: ignore[attr-defined]
    return ax
