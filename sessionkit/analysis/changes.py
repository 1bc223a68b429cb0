"""Did a deployment change something: per-agent change detection between deployments (or
time windows) with a test statistic, so real incidents rank first and noise stays quiet.

Tests use the normal approximation (no scipy): a two-proportion z test for rates and Welch's
t statistic, read as z, on log values for costs and durations (their spread is multiplicative;
logs make the test robust to the long right tail). Sample sizes below ``min_sessions`` are
skipped, so the approximation holds where it is used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..status import done, failed
from ._common import (
    KEY_DTYPE,
    NONE,
    TIMESTAMP,
    bucket_start,
    get_column,
    group_key,
    subset,
    two_sided_p,
)

CHANGE_COLUMNS = [
    "started",
    "metric",
    "before",
    "after",
    "ratio",
    "change",
    "direction",
    "evidence",
    "p_value",
    "n_before",
    "n_after",
    "previous",
    "score",
]
METRICS_HELP = (
    "failure_rate, cost_per_session, llm_cost_per_session, tokens_per_session, "
    "p<q>_duration or p<q>_cpu_time (e.g. p50_duration, p95_cpu_time)"
)
_QUANTILE = re.compile(r"p(\d+(?:\.\d+)?)_(duration|cpu_time)")


@dataclass(frozen=True)
class _Metric:
    name: str
    kind: str  # "rate" | "mean" | "quantile"
    column: str = ""
    q: float = 0.5


def _parse_metric(name: str) -> _Metric:
    if name == "failure_rate":
        return _Metric(name, "rate")
    means = {
        "cost_per_session": "total_cost",
        "llm_cost_per_session": "llm_cost",
        "tokens_per_session": "_tokens",
    }
    if name in means:
        return _Metric(name, "mean", means[name])
    match = _QUANTILE.fullmatch(name)
    if match and 0 < float(match[1]) < 100:
        return _Metric(name, "quantile", match[2], float(match[1]) / 100)
    raise ValueError(f"unknown metric {name!r}; expected one of {METRICS_HELP}")


def _values(data: pd.DataFrame, metric: _Metric) -> pd.Series:
    """Per-session values of a mean/quantile metric as floats (seconds for durations)."""
    if metric.column == "_tokens":
        tokens = data["llm_prompt_token_count"].astype("float64").fillna(0.0) + data[
            "llm_completion_token_count"
        ].astype("float64").fillna(0.0)
        return tokens.where(data["llm_prompt_token_count"].notna())
    values = data[metric.column]
    if isinstance(values.dtype, np.dtype) and values.dtype.kind == "m":
        return values.dt.total_seconds()
    return values.astype("float64")


def _empty(by: str, at_column: str, time: bool) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            by: pd.Series(dtype=KEY_DTYPE),
            at_column: pd.Series(dtype=TIMESTAMP if time else KEY_DTYPE),
            "started": pd.Series(dtype=TIMESTAMP),
            "metric": pd.Series(dtype=KEY_DTYPE),
            **{
                c: pd.Series(dtype="float64")
                for c in ("before", "after", "ratio", "change", "evidence", "p_value")
            },
            "direction": pd.Series(dtype=KEY_DTYPE),
            "n_before": pd.Series(dtype="int64"),
            "n_after": pd.Series(dtype="int64"),
            "previous": pd.Series(dtype=TIMESTAMP if time else KEY_DTYPE),
            "score": pd.Series(dtype="float64"),
        }
    )
    return frame[[by, at_column, *CHANGE_COLUMNS]]


def detect_changes(
    sessions: pd.DataFrame,
    *,
    by: str = "agent",
    at: str = "deployment_id",
    metrics: Sequence[str] = ("failure_rate", "cost_per_session", "p50_duration"),
    min_sessions: int = 30,
    window: str = "D",
) -> pd.DataFrame:
    """Did a deployment change an agent's failure rate, cost per session or latency?

    For each ``by`` group (agent), every ``at`` value (deployment id; empty ids skipped) with at
    least ``min_sessions`` completed sessions is compared with the previous such value of the
    same group, in the order of their first session. With ``at="time"`` consecutive windows of
    ``window`` (a pandas offset alias: ``"D"``, ``"W"``, ``"6h"``) take the place of
    deployments, and the result's ``time`` column holds each window's start.

    ``metrics``: ``failure_rate`` (0..1 of completed sessions), ``cost_per_session`` and
    ``llm_cost_per_session`` (mean USD), ``tokens_per_session`` (mean),
    ``p<q>_duration``/``p<q>_cpu_time`` (percentile, in seconds).

    Returns one row per (group, deployment, metric): the group, the ``at`` value, ``started``
    (its first session, UTC), ``metric``, ``before``/``after`` (the metric on the previous and
    on this deployment, in the units above), ``ratio`` (after / before), ``change`` (after −
    before), ``evidence`` (a signed z score: two-proportion test for the failure rate, Welch's
    t on log values for the others; positive = went up), ``p_value`` (two-sided, normal
    approximation), ``n_before``/``n_after`` (completed sessions), ``previous`` (the ``at``
    value compared against), ``direction`` (``"worse"`` when the metric went up — every metric
    here is better lower —, ``"better"`` when it went down, ``"same"``) and ``score`` =
    |evidence| × effect size (Cohen's h for the rate, the |log ratio| of the geometric means
    otherwise). Rows are ranked regressions first (``worse``, then ``better``: the deployment
    that caused an incident comes before the one that fixed it), each by ``score``: strong
    evidence of a large change first, so a small shift on a huge sample does not outrank an
    incident.
    Each row is one test: with many agents × deployments × metrics expect about 1% of rows
    below p = 0.01 by chance alone.
    """
    specs = [_parse_metric(m) for m in metrics]
    time = at == "time"
    group_name = by
    at_column = "time" if time else at
    needed = [by, at, "start_time", "pending", "success"]
    needed += [s.column for s in specs] + ["llm_prompt_token_count", "llm_completion_token_count"]
    data = subset(sessions, done(sessions) & sessions["start_time"].notna(), needed)
    if not len(data) or not specs:
        return _empty(group_name, at_column, time)
    if time:
        at_key = bucket_start(data["start_time"], window)
    else:
        at_key = group_key(get_column(data, at), at)
        keep = (at_key != NONE).to_numpy()
        data, at_key = data[keep], at_key[keep].cat.remove_unused_categories()
        if not len(data):
            return _empty(group_name, at_column, time)
    frame = pd.DataFrame(
        {
            "g": group_key(get_column(data, by), by).array,
            "a": at_key.array,
            "t": data["start_time"].array,
            "failed": failed(data).to_numpy(dtype="int64"),
        },
        index=data.index,
    )
    aggregations: dict[str, tuple[str, str]] = {
        "n": ("t", "size"),
        "started": ("t", "min"),
        "failed": ("failed", "sum"),
    }
    quantiles: dict[str, float] = {}
    for spec in specs:
        if spec.kind == "rate":
            continue
        values = _values(data, spec).to_numpy(dtype="float64", na_value=np.nan)
        positive = values[values > 0]
        floor = 0.01 * float(np.median(positive)) if len(positive) else 1.0
        frame[f"{spec.name}:x"] = values
        frame[f"{spec.name}:log"] = np.log(np.where(values >= 0, values, np.nan) + floor)
        aggregations[f"{spec.name}:mean"] = (f"{spec.name}:x", "mean")
        aggregations[f"{spec.name}:lmean"] = (f"{spec.name}:log", "mean")
        aggregations[f"{spec.name}:lvar"] = (f"{spec.name}:log", "var")
        aggregations[f"{spec.name}:ln"] = (f"{spec.name}:log", "count")
        if spec.kind == "quantile":
            quantiles[spec.name] = spec.q
    grouped = frame.groupby(["g", "a"], observed=True, sort=False)
    stats = grouped.agg(**aggregations)
    for name, q in quantiles.items():
        stats[f"{name}:q"] = grouped[f"{name}:x"].quantile(q)
    stats = stats[stats["n"] >= min_sessions].reset_index()
    stats = stats.sort_values(["g", "started"], kind="stable", ignore_index=True)
    previous = stats.groupby("g", observed=True, sort=False).shift(1)
    pairs = previous["n"].notna().to_numpy()
    after, before = stats[pairs].reset_index(drop=True), previous[pairs].reset_index(drop=True)
    if not len(after):
        return _empty(group_name, at_column, time)
    parts = [_compare(spec, before, after) for spec in specs]
    table = pd.concat(parts, ignore_index=True)
    table.insert(0, at_column, pd.concat([after["a"]] * len(specs), ignore_index=True))
    table.insert(0, group_name, pd.concat([after["g"]] * len(specs), ignore_index=True))
    table["started"] = pd.concat([after["started"]] * len(specs), ignore_index=True)
    table["previous"] = pd.concat([before["a"]] * len(specs), ignore_index=True)
    table["n_before"] = np.tile(before["n"].to_numpy(dtype="int64"), len(specs))
    table["n_after"] = np.tile(after["n"].to_numpy(dtype="int64"), len(specs))
    table[group_name] = table[group_name].astype(KEY_DTYPE)
    for column in (at_column, "previous"):
        table[column] = table[column].astype(TIMESTAMP if time else KEY_DTYPE)
    table["started"] = table["started"].astype(TIMESTAMP)
    table["metric"] = table["metric"].astype(KEY_DTYPE)
    change = table["change"].to_numpy("float64")
    table["direction"] = pd.Series(
        np.where(change > 0, "worse", np.where(change < 0, "better", "same")), dtype=KEY_DTYPE
    )
    table = table[[group_name, at_column, *CHANGE_COLUMNS]]
    rank = table["direction"].map({"worse": 0, "better": 1, "same": 2}).astype("int64")
    order = np.lexsort((-table["score"].fillna(-np.inf).to_numpy("float64"), rank.to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def _compare(spec: _Metric, before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Before/after values, z and effect size of one metric for every compared pair."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if spec.kind == "rate":
            k1, n1 = before["failed"].to_numpy("float64"), before["n"].to_numpy("float64")
            k2, n2 = after["failed"].to_numpy("float64"), after["n"].to_numpy("float64")
            p1, p2 = k1 / n1, k2 / n2
            pooled = (k1 + k2) / (n1 + n2)
            se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
            z = np.where(se > 0, (p2 - p1) / se, 0.0)
            size = np.abs(2 * np.arcsin(np.sqrt(p2)) - 2 * np.arcsin(np.sqrt(p1)))
            b, a = p1, p2
        else:
            m1, m2 = (
                before[f"{spec.name}:lmean"].to_numpy("float64"),
                after[f"{spec.name}:lmean"].to_numpy("float64"),
            )
            v1, v2 = (
                before[f"{spec.name}:lvar"].to_numpy("float64"),
                after[f"{spec.name}:lvar"].to_numpy("float64"),
            )
            c1, c2 = (
                before[f"{spec.name}:ln"].to_numpy("float64"),
                after[f"{spec.name}:ln"].to_numpy("float64"),
            )
            se = np.sqrt(v1 / c1 + v2 / c2)
            enough = (c1 >= 2) & (c2 >= 2)
            z = np.where(
                enough & (se > 0),
                (m2 - m1) / se,
                np.where(
                    enough & (m2 != m1), np.sign(m2 - m1) * np.inf, np.where(enough, 0.0, np.nan)
                ),
            )
            column = f"{spec.name}:q" if spec.kind == "quantile" else f"{spec.name}:mean"
            b, a = before[column].to_numpy("float64"), after[column].to_numpy("float64")
            size = np.abs(m2 - m1)  # |log ratio| of the geometric means
        ratio = np.where(b != 0, a / b, np.nan)
    z = z.astype("float64")
    return pd.DataFrame(
        {
            "metric": spec.name,
            "before": b,
            "after": a,
            "ratio": ratio,
            "change": a - b,
            "evidence": z,
            "p_value": two_sided_p(z),
            "score": np.abs(z) * size,
        }
    )
