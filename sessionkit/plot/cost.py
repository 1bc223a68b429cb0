"""Cost charts: cost over time, cost breakdown, tokens vs cost (all money in USD)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import LogLocator, NullFormatter

from .. import analysis
from ._style import (
    BY_HINT,
    COUNT,
    MONEY,
    NEUTRAL,
    OTHER_LABEL,
    axes,
    bucket_grid,
    bucket_label,
    count_label,
    date_numbers,
    finite_costs,
    group_colours,
    left_out_note,
    legend_outside,
    make_room,
    money,
    no_data,
    no_data_because,
    note,
    period_freq,
    require,
    time_axis,
    top_names,
)

COSTS = ("total_cost", "llm_cost")

#: ``metric`` values of :func:`cost_breakdown` (columns of :func:`analysis.cost_by`) and their
#: axis wording.
METRICS: dict[str, str] = {
    "total_cost": "Total cost",
    "llm_cost": "LLM cost",
    "cost_per_session": "Cost per session",
    "cost_per_success": "Cost per successful session",
    "cost_per_1k_tokens": "LLM cost per 1k tokens",
}


#: In tokens_vs_cost's sample, groups with at most this many sessions are kept whole.
SMALL_GROUP = 200

#: Above this many time buckets cost_over_time draws stacked steps instead of bars.
MAX_BARS = 120


def _text_keys(table: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """``table`` with its ``by`` key column as plain text (however the analysis typed it)."""
    if by and by in table:
        table = table.assign(**{by: table[by].astype(str).to_numpy(dtype=object)})
    return table


def _basis(row: pd.Series, metric: str) -> str:
    """What a per-unit cost was divided by, for its bar label."""
    if metric == "cost_per_success":
        return f"{int(row['successful']):,} successful"
    if metric == "cost_per_1k_tokens":
        return f"{count_label(float(row['prompt_tokens'] + row['completion_tokens']))} tokens"
    return f"{int(row['sessions']):,} sessions"


def cost_over_time(
    sessions: pd.DataFrame,
    *,
    freq: str = "D",
    by: str | None = "agent",
    top: int = 6,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Stacked bars of total cost (USD) per ``freq`` bucket of ``start_time`` (UTC), by ``by``.

    The ``top`` most expensive groups keep their names (and colours); the rest are merged into
    "other" (grey, on top of the stack). Empty buckets are drawn as gaps. Above 120 buckets the
    bars become stacked steps (:meth:`~matplotlib.axes.Axes.stackplot`). ``kwargs`` go to
    :meth:`~matplotlib.axes.Axes.bar` (or ``stackplot``). Returns the Axes.
    """
    freq = period_freq(freq)
    title = f"Cost per {bucket_label(freq)}" + (f" by {by}" if by else "")
    ax = axes(ax)
    require(sessions, ["start_time", "total_cost"], "sessions")
    data, infinite = finite_costs(sessions[sessions["start_time"].notna()], COSTS)
    if not len(data) or not data["total_cost"].notna().any():
        if infinite:
            return no_data_because(
                ax, title, left_out_note(infinite), "Start time (UTC)", "Cost (USD)"
            )
        return no_data(ax, title, "Start time (UTC)", "Cost (USD)")
    require(data, [by], "sessions", BY_HINT)
    table = _text_keys(analysis.cost_by(data, by, freq=freq), by)
    if by:
        keep = top_names(table.groupby(by)["total_cost"].sum(), top)
        group = table[by].where(table[by].isin(keep), OTHER_LABEL)
        order = keep + ([OTHER_LABEL] if len(keep) < table[by].nunique() else [])
    else:
        group, order = pd.Series("all", index=table.index), ["all"]
    wide = (
        table.groupby([table["bucket"], group])["total_cost"]
        .sum()
        .unstack(fill_value=0.0)
        .reindex(columns=order, fill_value=0.0)
    )
    starts, lengths = bucket_grid(wide.index.min(), wide.index.max(), freq)
    wide = wide.reindex(starts, fill_value=0.0)
    x = date_numbers(starts)
    colours = group_colours(data[by], order) if by else {"all": NEUTRAL}
    if len(wide) <= MAX_BARS:
        bottom = np.zeros(len(wide))
        for name in order:
            values = wide[name].to_numpy(dtype="float64")
            options: dict[str, Any] = {
                "width": lengths * 0.85,
                "align": "edge",
                "color": colours[name],
                "label": name,
            }
            options.update(kwargs)
            ax.bar(x, values, bottom=bottom, **options)
            bottom += values
    else:  # too many buckets for readable bars: stacked steps, one polygon per group
        edges = np.append(x, x[-1] + lengths[-1])
        stacked = [np.append(wide[n].to_numpy(dtype="float64"), wide[n].iloc[-1]) for n in order]
        options = {"step": "post", "linewidth": 0, **kwargs}
        ax.stackplot(edges, *stacked, labels=order, colors=[colours[n] for n in order], **options)
    ax.yaxis.set_major_formatter(MONEY)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    time_axis(ax)
    ax.set_xlim(x[0] - 0.1 * lengths[0], x[-1] + lengths[-1] * 1.1)
    ax.set_ylabel("Cost (USD)")
    ax.set_title(title)
    partial = _partial(data["start_time"], starts, lengths)
    notes = [left_out_note(infinite)] if infinite else []
    if partial:
        notes.append(f"{partial} {bucket_label(freq)} only partly covered by the data")
    if notes:
        note(ax, "; ".join(notes))
    if by:
        legend_outside(ax, reverse=True, title=by)  # legend order = stack order, top first
    return ax


def _partial(times: pd.Series, starts: pd.DatetimeIndex, lengths: np.ndarray) -> str:
    """ "first", "last" or "first and last" when the data starts well after the first bucket's
    start or ends well before the last bucket's end (their sums are not comparable)."""
    day = pd.Timedelta(days=1)
    first = (times.min() - starts[0]) / day > 0.05 * lengths[0]
    last = (starts[-1] + lengths[-1] * day - times.max()) / day > 0.05 * lengths[-1]
    return " and ".join(w for w, flag in (("first", first), ("last", last)) if flag)


def cost_breakdown(
    sessions: pd.DataFrame,
    *,
    by: str = "agent",
    metric: str = "total_cost",
    top: int = 20,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Horizontal bars of ``metric`` (USD) per ``by`` group, largest on top, labelled in currency.

    ``metric`` is a column of :func:`sessionkit.analysis.cost_by`: ``total_cost``, ``llm_cost``,
    ``cost_per_session``, ``cost_per_success`` (all spend over successful sessions) or
    ``cost_per_1k_tokens``. Only the ``top`` groups are drawn (the title says so). ``kwargs`` go
    to :meth:`~matplotlib.axes.Axes.barh`.
    """
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} is not one of {', '.join(map(repr, METRICS))}")
    title = f"{METRICS[metric]} by {by}"
    xlabel = f"{METRICS[metric]} (USD)"
    source = "llm_cost" if metric in ("llm_cost", "cost_per_1k_tokens") else "total_cost"
    require(sessions, [source], "sessions")
    sessions, infinite = finite_costs(sessions, COSTS)
    if not len(sessions) or not sessions[source].notna().any():
        if infinite:
            return no_data_because(axes(ax, (8, 3)), title, left_out_note(infinite), xlabel)
        return no_data(axes(ax, (8, 3)), title, xlabel)
    require(sessions, [by], "sessions", BY_HINT)
    table = _text_keys(analysis.cost_by(sessions, by), by).set_index(by)
    values = table[metric].astype("float64")
    ranked = values.fillna(-np.inf).sort_values(ascending=False, kind="stable")
    shown = list(ranked.index[:top])
    if len(ranked) > top:
        title += f" (top {top} of {len(ranked)})"
    ax = axes(ax, (8, 0.9 + 0.38 * max(len(shown), 2)))
    rows = shown[::-1]  # barh draws bottom-up: largest on top
    heights = values.reindex(rows).fillna(0.0).to_numpy()
    colours = group_colours(sessions[by], shown)
    options: dict[str, Any] = {"color": [colours[r] for r in rows], "height": 0.7}
    options.update(kwargs)
    positions = np.arange(len(rows))
    bars = ax.barh(positions, heights, **options)
    ax.set_yticks(positions, rows)
    labels = []
    for name in rows:
        value = values[name]
        if np.isnan(value):
            why = "no successful session" if metric == "cost_per_success" else "no data"
            labels.append(f"n/a ({why})")
        elif metric in ("total_cost", "llm_cost"):
            labels.append(money(value))
        else:
            labels.append(f"{money(value)} · {_basis(table.loc[name], metric)}")
    texts = ax.bar_label(bars, labels=labels, padding=3, fontsize=8.5)
    largest = float(np.nanmax(heights)) if len(heights) else 0.0
    make_room(ax, texts, minimum=largest * 1.1 if largest > 0 else 1.0)
    ax.xaxis.set_major_formatter(MONEY)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(by)
    if infinite:
        note(ax, left_out_note(infinite))
    return ax


def tokens_vs_cost(
    sessions: pd.DataFrame,
    *,
    by: str | None = "agent",
    max_points: int = 20_000,
    seed: int = 0,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Scatter of total tokens (prompt + completion) against total cost (USD), log–log.

    Sessions without tokens or cost are left out (a log axis has no zero) and the note under the
    chart says how many. Above ``max_points`` sessions a random sample (``seed``) is drawn and
    the title says so: groups of at most 200 sessions are kept whole (so a rare agent does not
    vanish), the rest is sampled uniformly. ``kwargs`` go to :meth:`~matplotlib.axes.Axes.scatter`.
    """
    title = "Tokens vs cost per session"
    xlabel, ylabel = "Tokens per session (prompt + completion)", "Cost per session (USD)"
    ax = axes(ax, (8, 5))
    if not len(sessions):
        return no_data(ax, title, xlabel, ylabel)
    require(
        sessions,
        [by, "total_cost", "llm_prompt_token_count", "llm_completion_token_count"],
        "sessions",
        BY_HINT if by else "",
    )
    sessions, infinite = finite_costs(sessions, ["total_cost"])
    tokens = sessions["llm_prompt_token_count"].astype("Float64").fillna(0.0) + sessions[
        "llm_completion_token_count"
    ].astype("Float64").fillna(0.0)
    usable = ((tokens > 0) & (sessions["total_cost"] > 0)).fillna(False).to_numpy(dtype=bool)
    n_usable = int(usable.sum())
    if not n_usable:
        if infinite:
            return no_data_because(ax, title, left_out_note(infinite), xlabel, ylabel)
        return no_data(ax, title, xlabel, ylabel)
    rows = np.flatnonzero(usable)
    if n_usable > max_points:
        rng = np.random.default_rng(seed)
        whole = np.zeros(len(rows), dtype=bool)
        if by:  # small groups are kept whole, or sampling could erase them from the chart
            codes, _uniques = pd.factorize(sessions[by].iloc[rows], use_na_sentinel=False)
            sizes = np.bincount(codes)
            if int(sizes[sizes <= SMALL_GROUP].sum()) < max_points // 2:
                whole = np.isin(codes, np.flatnonzero(sizes <= SMALL_GROUP))
        budget = max_points - int(whole.sum())
        rows = np.sort(
            np.concatenate([rows[whole], rng.choice(rows[~whole], budget, replace=False)])
        )
        title += f"\nrandom sample of {max_points:,} of {n_usable:,} sessions"
        if whole.any():
            title += f" ({by} groups of ≤ {SMALL_GROUP} kept whole)"
    x = tokens.to_numpy(dtype="float64", na_value=np.nan)[rows]
    y = sessions["total_cost"].to_numpy(dtype="float64")[rows]
    if by:
        groups = sessions[by].astype("string").fillna("(none)").to_numpy(dtype=object)[rows]
        names = sorted(set(groups), key=lambda g: (-int((groups == g).sum()), g))
        colours = group_colours(sessions[by], names)
    else:
        groups = np.full(len(rows), "all", dtype=object)
        names, colours = ["all"], {"all": NEUTRAL}
    for name in names:  # largest group first, so small groups stay visible on top
        mask = groups == name
        options: dict[str, Any] = {
            "s": 7,
            "alpha": 0.45,
            "linewidths": 0,
            "color": colours[name],
            "label": name,
            "rasterized": True,
        }
        options.update(kwargs)
        ax.scatter(x[mask], y[mask], **options)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(COUNT)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_locator(LogLocator(base=10))
    ax.yaxis.set_major_formatter(MONEY)
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(which="major", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    left_out = len(sessions) - n_usable - infinite
    notes = [left_out_note(infinite)] if infinite else []
    if left_out:
        notes.append(f"{left_out:,} sessions without tokens or cost not shown")
    if notes:
        note(ax, "; ".join(notes))
    if by:
        legend_outside(ax, title=by, markerscale=2.5)
        legend = ax.get_legend()
        if legend is not None:
            for handle in legend.legend_handles:
                if handle is not None:
                    handle.set_alpha(1.0)
    return ax
