"""Cost charts: cost over time, cost breakdown, tokens vs cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..analysis import bucket_start
from ._style import (
    MONEY,
    OTHER,
    axes,
    bucket_label,
    colour,
    legend_outside,
    money,
    no_data,
    top_groups,
)


def cost_over_time(
    sessions: pd.DataFrame,
    *,
    freq: str = "D",
    by: str | None = "agent",
    top: int = 6,
    ax: Axes | None = None,
) -> Axes:
    """Stacked bars of total cost (USD) per ``freq`` bucket of ``start_time`` (UTC), by ``by``.

    Groups beyond the ``top`` most expensive are merged into "other". Returns the Axes.
    """
    ax = axes(ax)
    title = f"Cost per {bucket_label(freq)}" + (f" by {by}" if by else "")
    data = sessions.dropna(subset=["start_time"])
    if not len(data):
        return no_data(ax, title, "Start time (UTC)", "Cost (USD)")
    bucket = bucket_start(data["start_time"], freq).dt.tz_localize(None)
    cost = data["total_cost"].fillna(0.0)
    if by:
        group, order = top_groups(data[by], cost, top)
    else:
        group, order = pd.Series("all", index=data.index), ["all"]
    table = (
        cost.groupby([bucket, group])
        .sum()
        .unstack(fill_value=0.0)
        .reindex(columns=order, fill_value=0.0)
    )
    full = pd.date_range(table.index.min(), table.index.max(), freq=freq)
    table = table.reindex(full, fill_value=0.0)
    width = (full[1] - full[0]) * 0.85 if len(full) > 1 else pd.Timedelta(freq) * 0.85
    bottom = np.zeros(len(table))
    for i, name in enumerate(table.columns):
        ax.bar(
            table.index,
            table[name].to_numpy(),
            width=width,
            bottom=bottom,
            label=str(name),
            color=OTHER if name == "other" else colour(i),
            align="edge",
        )
        bottom += table[name].to_numpy()
    ax.yaxis.set_major_formatter(MONEY)
    ax.set_title(title)
    ax.set_xlabel("Start time (UTC)")
    ax.set_ylabel("Cost (USD)")
    ax.figure.autofmt_xdate()
    if by:
        legend_outside(ax, title=by)
    return ax


def cost_breakdown(
    sessions: pd.DataFrame, *, by: str = "agent", metric: str = "total_cost", ax: Axes | None = None
) -> Axes:
    """Horizontal bars of the sum of ``metric`` (USD) per ``by`` group, largest on top, labelled."""
    ax = axes(ax, (8, 3.5))
    title = f"{'Total' if metric == 'total_cost' else metric} cost by {by}"
    if not len(sessions):
        return no_data(ax, title, "Cost (USD)")
    sums = (
        sessions[metric].fillna(0.0).groupby(sessions[by].astype("string").fillna("(none)")).sum()
    )
    sums = sums.sort_values()
    bars = ax.barh(
        sums.index.astype(str), sums.to_numpy(), color=[colour(i) for i in range(len(sums))][::-1]
    )
    ax.bar_label(bars, labels=[money(v) for v in sums.to_numpy()], padding=3, fontsize=9)
    ax.xaxis.set_major_formatter(MONEY)
    ax.set_xlim(0, sums.max() * 1.18 if sums.max() > 0 else 1)
    ax.set_title(title)
    ax.set_xlabel("Cost (USD)")
    return ax


def tokens_vs_cost(
    sessions: pd.DataFrame,
    *,
    by: str | None = "agent",
    max_points: int = 20_000,
    ax: Axes | None = None,
) -> Axes:
    """Scatter of total tokens (prompt + completion) against total cost (USD), log–log.

    Above ``max_points`` rows a random sample is drawn (seeded) and the title says so.
    """
    ax = axes(ax, (7, 4.5))
    data = sessions.dropna(subset=["total_cost", "llm_prompt_token_count"])
    data = data[data["total_cost"] > 0]
    title = "Tokens vs cost"
    if not len(data):
        return no_data(ax, title, "Tokens (prompt + completion)", "Cost (USD)")
    if len(data) > max_points:
        data = data.sample(max_points, random_state=0)
        title += f" (random sample of {max_points:,} of {len(sessions):,})"
    tokens = data["llm_prompt_token_count"].astype("float64") + data[
        "llm_completion_token_count"
    ].fillna(0).astype("float64")
    groups = (
        data[by].astype("string").fillna("(none)") if by else pd.Series("all", index=data.index)
    )
    for i, name in enumerate(sorted(groups.unique())):
        mask = (groups == name).to_numpy()
        ax.scatter(
            tokens[mask], data["total_cost"][mask], s=8, alpha=0.5, color=colour(i), label=str(name)
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(MONEY)
    ax.set_title(title)
    ax.set_xlabel("Tokens (prompt + completion)")
    ax.set_ylabel("Cost (USD)")
    if by:
        legend_outside(ax, title=by, markerscale=2)
    return ax
