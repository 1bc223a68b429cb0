"""Where does the time go inside sessions: span self time by operation, and what failing
sessions spend their time on."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..status import failed, succeeded
from ._common import (
    KEY_DTYPE,
    TIMEDELTA,
    get_column,
    group_key,
    subset,
)

HOTSPOT_COLUMNS = ["count", "sessions", "total", "self", "mean", "p95", "share_of_self"]
CONTRAST_COLUMNS = [
    "failed",
    "successful",
    "difference",
    "ratio",
    "failed_sessions",
    "successful_sessions",
]


def _nanos(values: pd.Series) -> np.ndarray:
    """Timedeltas as float nanoseconds, NaN where missing (exact below 104 days)."""
    raw = values.to_numpy(dtype="timedelta64[ns]")
    out = raw.view("int64").astype("float64")
    out[np.isnat(raw)] = np.nan
    return out


def operation_hotspots(
    spans: pd.DataFrame, *, by: str = "operation", sessions: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Time spent per ``by`` (``"operation"`` or ``"path"``, or any span column) summed over
    the spans of all sessions — or only of ``sessions`` (a sessions frame, e.g. filtered) when
    given.

    Returns one row per value (the index, named ``by``; missing → ``"(none)"``): ``count``
    (spans), ``sessions`` (distinct sessions), ``total`` (summed span duration, children
    included) and ``self`` (summed self time, children excluded), ``mean`` and ``p95`` (span
    duration) — all ``timedelta64[ns]`` — and ``share_of_self`` (0..1 of all self time).
    Sorted by self time, largest first: where the time actually goes.
    """
    keep = spans["session_id"].isin(sessions["id"]) if sessions is not None else None
    spans = subset(spans, keep, [by, "session_id", "duration", "self_duration"])
    if not len(spans):
        return pd.DataFrame(
            {
                "count": pd.Series(dtype="int64"),
                "sessions": pd.Series(dtype="int64"),
                **{c: pd.Series(dtype=TIMEDELTA) for c in ("total", "self", "mean", "p95")},
                "share_of_self": pd.Series(dtype="float64"),
            },
            index=pd.Index([], dtype=KEY_DTYPE, name=by),
        )
    key = group_key(get_column(spans, by), by)
    frame = pd.DataFrame(
        {
            "duration": _nanos(spans["duration"]),
            "self": _nanos(spans["self_duration"]),
            "session": pd.factorize(spans["session_id"])[0],
        },
        index=spans.index,
    )
    grouped = frame.groupby(key, observed=True)
    table = pd.DataFrame(
        {
            "count": grouped.size().astype("int64"),
            "sessions": grouped["session"].nunique().astype("int64"),
            "total": grouped["duration"].sum(),
            "self": grouped["self"].sum(),
            "mean": grouped["duration"].mean(),
            "p95": grouped["duration"].quantile(0.95),
        }
    )
    for column in ("total", "self", "mean", "p95"):
        table[column] = pd.to_timedelta(table[column].astype("float64").round(), unit="ns").astype(
            TIMEDELTA
        )
    all_self = float(frame["self"].sum())
    table["share_of_self"] = (
        table["self"].to_numpy(dtype="int64") / all_self if all_self else np.nan
    )
    table.index = pd.Index(table.index.astype(str), dtype=KEY_DTYPE, name=by)
    return table.sort_values("self", ascending=False, kind="stable")[HOTSPOT_COLUMNS]


def failed_vs_successful(
    spans: pd.DataFrame, sessions: pd.DataFrame, *, by: str = "operation"
) -> pd.DataFrame:
    """What failing sessions spend their time on, against successful ones.

    Spans are split by their session's outcome (completed sessions in ``sessions``; spans of
    other sessions are left out). Returns one row per ``by`` value (the index): ``failed`` and
    ``successful`` (mean self time per session of that outcome that has spans — sessions
    without the operation count zero — ``timedelta64[ns]``), ``difference`` (failed −
    successful, timedelta), ``ratio`` (failed / successful; NaN when successful is zero),
    ``failed_sessions``/``successful_sessions`` (how many sessions each mean is over). Sorted
    by the difference, largest first.
    """
    ids = sessions["id"].astype("string")
    outcome = pd.Series(
        np.select([failed(sessions).to_numpy(), succeeded(sessions).to_numpy()], [1, 0], -1),
        index=pd.Index(ids),
    )
    outcome = outcome[~outcome.index.duplicated(keep="last")]
    status = spans["session_id"].astype("string").map(outcome).fillna(-1).to_numpy(dtype="int64")
    data = subset(spans, status >= 0, [by, "session_id", "self_duration"])
    status = status[status >= 0]
    if not len(data):
        return pd.DataFrame(
            {
                **{c: pd.Series(dtype=TIMEDELTA) for c in ("failed", "successful", "difference")},
                "ratio": pd.Series(dtype="float64"),
                "failed_sessions": pd.Series(dtype="int64"),
                "successful_sessions": pd.Series(dtype="int64"),
            },
            index=pd.Index([], dtype=KEY_DTYPE, name=by),
        )
    key = group_key(get_column(data, by), by)
    self_ns = pd.Series(_nanos(data["self_duration"]), index=data.index)
    side = pd.Series(np.where(status == 1, "failed", "successful"), index=data.index)
    totals = self_ns.groupby([key, side], observed=True).sum().unstack(fill_value=0.0)
    session_codes = pd.factorize(data["session_id"])[0]
    counts = pd.Series(session_codes).groupby(side.to_numpy()).nunique()
    table = pd.DataFrame(index=totals.index.astype(str))
    for name in ("failed", "successful"):
        n = int(counts.get(name, 0))
        column = totals[name].to_numpy(dtype="float64") if name in totals else np.zeros(len(totals))
        table[name] = pd.to_timedelta(
            np.round(column / n) if n else np.full(len(column), np.nan), unit="ns"
        ).astype(TIMEDELTA)
        table[f"{name}_sessions"] = n
    table["difference"] = table["failed"] - table["successful"]
    successful_ns = table["successful"].to_numpy(dtype="int64", na_value=0).astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        table["ratio"] = np.where(
            successful_ns > 0, table["failed"].dt.total_seconds() * 1e9 / successful_ns, np.nan
        )
    table.index = pd.Index(table.index, dtype=KEY_DTYPE, name=by)
    return table[CONTRAST_COLUMNS].sort_values("difference", ascending=False, kind="stable")
