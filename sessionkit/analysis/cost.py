"""What did this cost: spend per group and period, the most expensive sessions, and movers."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ..display import ReadableFrame
from ..errors import SessionKitWarning
from ..errors import warn as errors_warn
from ..status import done, failed, succeeded
from ._common import (
    KEY_DTYPE,
    NONE,
    TIMESTAMP,
    By,
    bucket_start,
    get_column,
    group_key,
    group_keys,
    grouped_sum,
    subset,
)

COST_COLUMNS = [
    "sessions",
    "successful",
    "total_cost",
    "llm_cost",
    "cost_per_session",
    "cost_per_success",
    "prompt_tokens",
    "completion_tokens",
    "cost_per_1k_tokens",
]
TOP_COLUMNS = ["id", "agent", "start_time", "duration", "total_cost", "success", "error"]
MOVER_COLUMNS = [
    "before_at",
    "after_at",
    "before",
    "after",
    "change",
    "change_pct",
    "n_before",
    "n_after",
]
Agg = Literal["mean", "sum", "median", "count"]


def cost_by(sessions: pd.DataFrame, by: By = None, *, freq: str | None = None) -> pd.DataFrame:
    """Spend per group (and per ``bucket`` of ``start_time``, UTC, when ``freq`` is a pandas
    offset alias such as ``"D"``, ``"W"``, ``"h"``).

    ``by`` is ``None``, a column or a list of columns (``agent``, ``env``, ``trigger``,
    ``deployment_id``, ``metadata.<key>``, ...). Missing or empty keys form a ``"(none)"`` group;
    only combinations that occur are listed.

    Returns one row per group with the keys (+ ``bucket``, a UTC timestamp), ``sessions``,
    ``successful`` (completed with success), ``total_cost`` and ``llm_cost`` (USD; a missing
    cost, e.g. of a pending session, counts 0), ``cost_per_session`` (USD: ``total_cost`` /
    ``sessions``), ``cost_per_success`` (USD: ``total_cost`` / ``successful`` — what a useful
    answer really costs once failures are paid for; NaN without successes), ``prompt_tokens``,
    ``completion_tokens`` (sums, exact: ``float64`` with a warning when a sum is past int64)
    and ``cost_per_1k_tokens`` (USD of ``llm_cost`` per 1000 tokens).
    Sorted by ``total_cost``, largest first (by ``bucket`` first when ``freq``).
    """
    tokens_in = {
        name: sessions[column].fillna(0).to_numpy(dtype="int64")
        for name, column in _TOKEN_COLUMNS.items()
    }
    values = pd.DataFrame(
        {
            "sessions": np.ones(len(sessions), dtype="int64"),
            "successful": succeeded(sessions).to_numpy(dtype="int64"),
            "total_cost": sessions["total_cost"].astype("float64").fillna(0.0).to_numpy(),
            "llm_cost": sessions["llm_cost"].astype("float64").fillna(0.0).to_numpy(),
            **tokens_in,
            **{f"{name}.float": v.astype("float64") for name, v in tokens_in.items()},
        },
        index=sessions.index,
    )
    keys = group_keys(sessions, by, freq)
    table = grouped_sum(values, keys, by, freq)
    for name in _TOKEN_COLUMNS:  # int64 sums wrap around past 2**63: check them against floats
        approx = table.pop(f"{name}.float")
        if len(table) and approx.abs().max() >= 2.0**62:
            table[name] = _exact_sums(values[name], keys, by, freq, name)
    sessions_n = table["sessions"].where(table["sessions"] > 0).astype("float64")
    successful_n = table["successful"].where(table["successful"] > 0).astype("float64")
    tokens = table["prompt_tokens"].astype("float64") + table["completion_tokens"].astype("float64")
    table["cost_per_session"] = table["total_cost"] / sessions_n
    table["cost_per_success"] = table["total_cost"] / successful_n
    table["cost_per_1k_tokens"] = table["llm_cost"] / (tokens.where(tokens > 0) / 1000)
    names = [k.name for k in keys] if keys else []
    table = table[[*names, *COST_COLUMNS]]
    if not len(table):
        return table.reset_index(drop=True)
    order = (["bucket"] if freq else []) + ["total_cost"]
    return table.sort_values(
        order, ascending=[True] * bool(freq) + [False], kind="stable", ignore_index=True
    )


_TOKEN_COLUMNS = {
    "prompt_tokens": "llm_prompt_token_count",
    "completion_tokens": "llm_completion_token_count",
}


def _exact_sums(
    values: pd.Series, keys: list[pd.Series], by: By, freq: str | None, name: str
) -> pd.Series:
    """Per-group sums of ``values`` (token counts) added as Python integers (exact): ``int64``
    when every sum fits, else ``float64`` (the nearest double) with a
    :class:`~sessionkit.errors.SessionKitWarning` naming the column — never a sum wrapped
    around to a negative number."""
    exact = grouped_sum(values.astype(object).to_frame(name), keys, by, freq)[name]
    fits = exact.map(lambda v: -(2**63) <= int(v) < 2**63)
    if fits.all():
        return exact.astype("int64")
    errors_warn(
        f"cost_by: {int((~fits).sum()):,} group total(s) of {name} are past what int64 holds "
        "(2**63 tokens); the column is float64 (each total the nearest double).",
        SessionKitWarning,
        stacklevel=3,
    )
    return exact.map(float).astype("float64")


def top_sessions(sessions: pd.DataFrame, n: int = 10, *, by: str = "total_cost") -> pd.DataFrame:
    """The ``n`` sessions with the largest ``by`` (``total_cost`` in USD, ``duration`` or
    ``cpu_time`` as timedeltas, token counts, ...), largest first; sessions missing ``by`` are
    left out. Columns: ``id``, ``agent``, ``start_time``, ``duration``, ``total_cost`` (USD),
    ``success``, ``error`` (those present in ``sessions``) and ``by`` if not among them.
    Shown with human units (a :class:`~sessionkit.display.ReadableFrame`), full precision kept."""
    columns = [c for c in TOP_COLUMNS if c in sessions.columns]
    if by not in columns:
        columns.append(by)
    values = sessions[by]
    if isinstance(values.dtype, np.dtype) and values.dtype.kind == "m":
        values = values.dt.total_seconds()
    order = pd.Series(values.to_numpy(dtype="float64", na_value=np.nan))
    picked = order.nlargest(max(n, 0), keep="first").index.to_numpy()
    return ReadableFrame(sessions.iloc[picked][columns].reset_index(drop=True))


def _metric_values(sessions: pd.DataFrame, metric: str) -> pd.Series:
    """The per-session values of ``metric`` as floats (timedeltas in seconds)."""
    values = sessions[metric]
    if isinstance(values.dtype, np.dtype) and values.dtype.kind == "m":
        return values.dt.total_seconds()
    return values.astype("float64")


def _aggregate(values: pd.Series, keys: list[pd.Series], agg: Agg) -> pd.Series:
    grouped = values.groupby(keys, observed=True)
    if agg == "count":
        return grouped.size().astype("float64")
    if agg == "sum":
        return grouped.sum()
    if agg == "median":
        return grouped.median()
    return grouped.mean()


def movers(
    sessions: pd.DataFrame,
    *,
    by: str = "agent",
    period: str = "D",
    metric: str = "total_cost",
    compare: str | None = None,
    agg: Agg = "mean",
    now: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Which groups changed most: one row per ``by`` group with ``before_at``/``after_at`` (what
    was compared), ``before`` and ``after`` (the ``agg`` — ``"mean"`` per session by default,
    ``"sum"``, ``"median"`` or ``"count"`` of sessions — of ``metric``, in its unit: USD for
    costs, seconds for durations), ``change`` (after − before), ``change_pct`` (change / before,
    a fraction: 0.5 is +50%; NaN when before is 0 or missing), ``n_before``/``n_after``
    (sessions).

    Default: the last complete ``period`` against the one before it, the same two periods for
    every group (a group absent from one counts 0 with ``agg="sum"``/``"count"``, else NaN). The
    period holding ``now`` — or, without ``now``, the latest period in the data, which is
    assumed to be still filling — is not complete. ``compare="deployment_id"`` (or another
    column): each group's latest value (by its first session) against its previous one; empty
    values are skipped. Ranked by the absolute change, biggest movers first (NaN last).
    """
    columns = [by, *MOVER_COLUMNS]
    if compare:
        table = _movers_by_column(sessions, by, metric, compare, agg)
    else:
        table = _movers_by_period(sessions, by, metric, period, agg, now)
    if not len(table):
        return _empty_movers(by, compare)
    table["change"] = table["after"] - table["before"]
    table["change_pct"] = table["change"] / table["before"].where(table["before"] != 0)
    table[by] = table[by].astype(KEY_DTYPE)
    table = table.sort_values(
        "change", key=lambda s: s.abs(), ascending=False, na_position="last", kind="stable"
    )
    return table[columns].reset_index(drop=True)


def _empty_movers(by: str, compare: str | None) -> pd.DataFrame:
    at_dtype: object = KEY_DTYPE if compare else TIMESTAMP
    return pd.DataFrame(
        {
            by: pd.Series(dtype=KEY_DTYPE),
            "before_at": pd.Series(dtype=at_dtype),
            "after_at": pd.Series(dtype=at_dtype),
            **{c: pd.Series(dtype="float64") for c in ("before", "after", "change", "change_pct")},
            "n_before": pd.Series(dtype="int64"),
            "n_after": pd.Series(dtype="int64"),
        }
    )


def _movers_by_period(
    sessions: pd.DataFrame, by: str, metric: str, period: str, agg: Agg, now: object
) -> pd.DataFrame:
    data = subset(sessions, sessions["start_time"].notna(), [by, metric, "start_time"])
    if not len(data):
        return pd.DataFrame()
    buckets = bucket_start(data["start_time"], period)
    if now is not None:
        stamp = pd.Timestamp(now)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        filling = bucket_start(pd.Series([stamp]), period).iloc[0]
    else:
        filling = buckets.max()
    after_at = bucket_start(pd.Series([filling - pd.Timedelta(1, "ns")]), period).iloc[0]
    before_at = bucket_start(pd.Series([after_at - pd.Timedelta(1, "ns")]), period).iloc[0]
    mask = (buckets == after_at) | (buckets == before_at)
    data, buckets = data[mask], buckets[mask]
    if not len(data):
        return pd.DataFrame()
    key = group_key(get_column(data, by), by)
    side = pd.Series(np.where(buckets == after_at, "after", "before"), index=data.index)
    values = _metric_values(data, metric)
    stats = _aggregate(values, [key, side], agg).unstack()
    counts = values.groupby([key, side], observed=True).size().unstack(fill_value=0)
    table = pd.DataFrame(index=stats.index)
    for name in ("before", "after"):
        column = stats[name] if name in stats else pd.Series(np.nan, index=stats.index)
        table[name] = column.fillna(0.0) if agg in ("sum", "count") else column
        n = counts[name] if name in counts else pd.Series(0, index=counts.index)
        table[f"n_{name}"] = n.reindex(table.index, fill_value=0).astype("int64")
    table["before_at"], table["after_at"] = before_at, after_at
    table.index.name = by
    return table.reset_index()


def _movers_by_column(
    sessions: pd.DataFrame, by: str, metric: str, compare: str, agg: Agg
) -> pd.DataFrame:
    at = group_key(get_column(sessions, compare), compare)
    mask = (at != NONE).to_numpy() & sessions["start_time"].notna().to_numpy()
    data = subset(sessions, mask, [by, metric, "start_time"])
    at = at[mask].cat.remove_unused_categories()
    if not len(data):
        return pd.DataFrame()
    key = group_key(get_column(data, by), by)
    values = _metric_values(data, metric)
    grouped = pd.DataFrame(
        {
            "value": _aggregate(values, [key, at], agg),
            "n": values.groupby([key, at], observed=True).size(),
            "first": data["start_time"].groupby([key, at], observed=True).min(),
        }
    ).reset_index()
    grouped = grouped.sort_values([by, "first"], kind="stable")
    grouped["rank"] = grouped.groupby(by, observed=True).cumcount(ascending=False)
    after = grouped[grouped["rank"] == 0].set_index(by)
    before = grouped[grouped["rank"] == 1].set_index(by)
    table = pd.DataFrame(
        {
            "before_at": before[compare].astype(KEY_DTYPE),
            "after_at": after[compare].astype(KEY_DTYPE).reindex(before.index),
            "before": before["value"],
            "after": after["value"].reindex(before.index),
            "n_before": before["n"].astype("int64"),
            "n_after": after["n"].reindex(before.index).astype("int64"),
        }
    )
    table.index.name = by
    return table.reset_index()


def summary_by_agent(sessions: pd.DataFrame, by: str = "agent") -> pd.DataFrame:
    """One row per ``by`` group (the index; missing names are ``"(none)"``): ``sessions``,
    ``completed``, ``failed``, ``failure_rate`` (0..1 of completed, 4 decimals), ``total_cost``
    and ``cost_per_session`` (USD), ``median_duration`` (timedelta, completed sessions).
    Sorted by total cost, largest first. Shown with human units (a
    :class:`~sessionkit.display.ReadableFrame`); the values keep full precision."""
    columns = [
        "sessions",
        "completed",
        "failed",
        "failure_rate",
        "total_cost",
        "cost_per_session",
        "median_duration",
    ]
    if not len(sessions):
        empty = pd.DataFrame(
            {
                "sessions": pd.Series(dtype="int64"),
                "completed": pd.Series(dtype="int64"),
                "failed": pd.Series(dtype="int64"),
                "failure_rate": pd.Series(dtype="float64"),
                "total_cost": pd.Series(dtype="float64"),
                "cost_per_session": pd.Series(dtype="float64"),
                "median_duration": pd.Series(dtype="timedelta64[ns]"),
            },
            index=pd.Index([], dtype=KEY_DTYPE, name=by),
        )
        return ReadableFrame(empty)
    key = group_key(get_column(sessions, by), by)
    is_done = done(sessions)
    frame = pd.DataFrame(
        {
            "done": is_done.to_numpy(dtype="int64"),
            "failed": failed(sessions).to_numpy(dtype="int64"),
            "cost": sessions["total_cost"].astype("float64").fillna(0.0).to_numpy(),
            "duration": sessions["duration"].where(is_done).to_numpy(),
        },
        index=sessions.index,
    )
    grouped = frame.groupby(key, observed=True)
    table = pd.DataFrame(
        {
            "sessions": grouped.size(),
            "completed": grouped["done"].sum(),
            "failed": grouped["failed"].sum(),
            "total_cost": grouped["cost"].sum(),
            "median_duration": grouped["duration"].median(),
        }
    )
    # not rounded here: a rate is rounded once, where it is shown (display.format_rate), so
    # the demo command and the report print the same figure (25 of 485: 5.2%, not 5.1%)
    table["failure_rate"] = table["failed"] / table["completed"].where(table["completed"] > 0)
    table["cost_per_session"] = table["total_cost"] / table["sessions"]
    table.index = table.index.astype(KEY_DTYPE).rename(by)
    return ReadableFrame(table[columns].sort_values("total_cost", ascending=False, kind="stable"))
