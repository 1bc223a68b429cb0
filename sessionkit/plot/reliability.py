"""Reliability charts: success rate over time (with volume) and failure families."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from .. import analysis, status
from ._style import (
    BY_HINT,
    COUNT,
    FAILED,
    axes,
    bucket_grid,
    bucket_label,
    date_numbers,
    group_colours,
    make_room,
    no_data,
    period_freq,
    require,
    time_axis,
    top_names,
)

VOLUME = "#D9D9D9"


def success_rate_over_time(
    sessions: pd.DataFrame,
    *,
    freq: str = "D",
    by: str | None = None,
    top: int = 6,
    band: bool | None = None,
    min_sessions: int = 20,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Success rate of completed sessions per ``freq`` bucket of start time (UTC), with its 95%
    Wilson interval as a band, and the number of completed sessions as grey bars on a twin axis.

    ``by`` draws one line per group, the ``top`` groups by volume. ``band`` (default: only when
    there are at most two lines, where it stays readable) draws each line's interval. Points of
    buckets with fewer than ``min_sessions`` completed sessions are hollow: their rate is noisy.
    Returns the main Axes (rate lines and bands). The volume bars are on a twin made by
    :meth:`~matplotlib.axes.Axes.twinx` (same position, x axis shared with the main Axes; when
    ``ax`` shares its x axis with nothing else, the twin is the other Axes of
    ``ax.get_shared_x_axes().get_siblings(ax)``). The numbers behind both are
    :func:`sessionkit.analysis.reliability`. ``kwargs`` go to :meth:`~matplotlib.axes.Axes.plot`.
    """
    freq = period_freq(freq)
    title = f"Success rate per {bucket_label(freq)}" + (f" by {by}" if by else "")
    ax = axes(ax)
    data = sessions[sessions["start_time"].notna()] if "start_time" in sessions else sessions
    if not len(data):
        return no_data(ax, title, "Start time (UTC)", "Success rate")
    require(data, [by], "sessions", BY_HINT)
    table = analysis.reliability(data, by, freq=freq)
    if by:
        table[by] = table[by].astype(str).to_numpy(dtype=object)
    if not int(table["completed"].sum()):
        return no_data(ax, title, "Start time (UTC)", "Success rate")
    starts, lengths = bucket_grid(table["bucket"].min(), table["bucket"].max(), freq)
    x = date_numbers(starts)
    centres = x + lengths / 2
    volume = table.groupby("bucket")["completed"].sum().reindex(starts, fill_value=0)

    twin = ax.twinx()
    twin.bar(centres, volume.to_numpy(), width=lengths * 0.8, color=VOLUME, zorder=1)
    twin.set_ylim(0, max(float(volume.max()), 1.0) * 3.0)  # bars stay in the lower third
    twin.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    twin.yaxis.set_major_formatter(COUNT)
    twin.set_ylabel("Completed sessions", color="#777777")
    twin.tick_params(axis="y", colors="#777777")
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)

    if by:
        names = top_names(table.groupby(by)["completed"].sum(), top)
        colours = group_colours(data[by], names)
        series = [(name, table[table[by] == name], colours[name]) for name in names]
    else:
        series = [("success rate", table, "#0072B2")]
    band = len(series) <= 2 if band is None else band
    floor: list[float] = []
    any_small = False
    for name, rows, col in series:
        rows = rows.set_index("bucket").reindex(starts)
        done = rows["completed"].fillna(0).to_numpy(dtype="float64")
        ok = rows["succeeded"].fillna(0).to_numpy(dtype="float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(done > 0, ok / done, np.nan)
        if band:  # the success rate's interval is one minus the failure rate's
            low = 1.0 - rows["failure_rate_high"].to_numpy(dtype="float64", na_value=np.nan)
            high = 1.0 - rows["failure_rate_low"].to_numpy(dtype="float64", na_value=np.nan)
            ax.fill_between(centres, low, high, color=col, alpha=0.18, lw=0)
            floor.append(float(np.nanmin(low)) if np.isfinite(low).any() else 0.0)
        else:
            floor.append(float(np.nanmin(rate)) if np.isfinite(rate).any() else 0.0)
        options: dict[str, Any] = {"marker": "o", "markersize": 3.5, "color": col, "label": name}
        options.update(kwargs)
        ax.plot(centres, rate, **options)
        small = (done > 0) & (done < min_sessions)
        if small.any():
            any_small = True
            ax.plot(
                centres[small],
                rate[small],
                linestyle="none",
                marker="o",
                markersize=4.5,
                markerfacecolor="white",
                markeredgecolor=col,
                label="_small",
            )

    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(max(0.0, min(floor) - 0.05), 1.02)
    ax.grid(axis="y", alpha=0.3)
    time_axis(ax)
    ax.set_xlim(x[0] - 0.1 * lengths[0], x[-1] + lengths[-1] * 1.1)
    ax.set_ylabel("Success rate (completed sessions)")
    handles, labels = ax.get_legend_handles_labels()
    if band:
        handles.append(Patch(facecolor="#0072B2" if not by else "#999999", alpha=0.25))
        labels.append("95% interval (Wilson)")
    if any_small:
        handles.append(
            Line2D([], [], linestyle="none", marker="o", markerfacecolor="white", color="#555555")
        )
        labels.append(f"< {min_sessions} sessions (noisy)")
    handles.append(Patch(facecolor=VOLUME))
    labels.append("completed sessions (right axis)")
    ncol = min(len(handles), 4)
    ax.legend(
        handles,
        labels,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.01),
        ncol=ncol,
        frameon=False,
        fontsize=8,
        title=by,
        title_fontsize=8,
        alignment="left",
    )
    rows_of_legend = -(-len(handles) // ncol) + (1 if by else 0)
    ax.set_title(title, pad=8 + 13 * rows_of_legend)
    return ax


def _wrap(text: str, width: int = 52, lines: int = 2) -> str:
    parts = textwrap.wrap(text, width=width, break_long_words=True, break_on_hyphens=False)
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 1].rstrip() + "…"
    return "\n".join(parts)


def failure_families_chart(
    sessions: pd.DataFrame, *, top: int = 10, ax: Axes | None = None, **kwargs: Any
) -> Axes:
    """Horizontal bars of the ``top`` failure families (from
    :func:`sessionkit.analysis.failure_families`), largest on top, annotated with the count, the
    share of failures and the agents. Templates are wrapped and shortened to two lines; the full
    table (templates, example ids and errors) is ``analysis.failure_families(sessions).head(top)``
    (:func:`sessionkit.analysis.failure_families`), one row per bar from the top down. Returns
    the Axes. ``kwargs`` go to :meth:`~matplotlib.axes.Axes.barh`."""
    title = "Failure families (errors with ids and numbers masked)"
    every = analysis.failure_families(sessions) if len(sessions) else None
    families = None if every is None else every.head(top)
    n = 0 if families is None else len(families)
    if every is not None and len(every) > n:
        title = f"Top {n} of {len(every)} failure families (errors with ids and numbers masked)"
    ax = axes(ax, (11, 1.0 + 0.55 * max(n, 2)))
    if families is None or not n:
        return no_data(ax, title, "Failed sessions")
    rows = families.iloc[::-1].reset_index(drop=True)  # barh draws bottom-up
    positions = np.arange(n)
    options: dict[str, Any] = {"color": FAILED, "height": 0.7}
    options.update(kwargs)
    bars = ax.barh(positions, rows["count"].to_numpy(), **options)
    ax.set_yticks(positions, [_wrap(str(t)) for t in rows["template"]], fontsize=8)
    labels = []
    for count, share, agents in zip(rows["count"], rows["share"], rows["agents"], strict=True):
        who = ", ".join(agents[:2]) + (f" +{len(agents) - 2}" if len(agents) > 2 else "")
        labels.append(f"{count:,} ({share:.0%})  {who}")
    texts = ax.bar_label(bars, labels=labels, padding=4, fontsize=8)
    make_room(ax, texts, minimum=float(rows["count"].max()) * 1.1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    failed = int(status.failed(sessions).sum())
    completed = failed + int(status.succeeded(sessions).sum())
    ax.set_title(f"{title}\n{failed:,} failed of {completed:,} completed sessions")
    ax.set_xlabel("Failed sessions")
    return ax
