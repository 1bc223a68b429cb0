"""Analysis helpers: pure pandas in, pandas out (no I/O, no plotting).

Units: costs in USD (``float``), durations as ``timedelta64[ns]``, rates in 0..1. Group keys
that are missing are labelled ``"(none)"``. Empty input gives an empty frame with the same
columns. Everything is vectorised; :func:`error_template` runs once per *distinct* message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

__all__ = [
    "bucket_start",
    "cost_by",
    "detect_changes",
    "error_template",
    "eval_summary",
    "failed_vs_successful",
    "failure_families",
    "latency_percentiles",
    "movers",
    "operation_hotspots",
    "reliability",
    "succeeded_but_failed_eval",
    "summary_by_agent",
    "top_sessions",
    "wilson_interval",
]

NONE = "(none)"
Z95 = 1.959963984540054


def bucket_start(times: pd.Series, freq: str) -> pd.Series:
    """The start (UTC) of the ``freq`` period holding each time: fixed frequencies ("h", "D")
    and calendar ones ("W", "MS") alike."""
    try:
        return times.dt.floor(freq)
    except ValueError:  # non-fixed frequencies (weeks, months): through periods
        naive = times.dt.tz_convert("UTC").dt.tz_localize(None)
        return naive.dt.to_period(freq).dt.start_time.dt.tz_localize("UTC")


def _keys(
    sessions: pd.DataFrame, by: str | Sequence[str] | None, freq: str | None
) -> list[pd.Series]:
    keys: list[pd.Series] = []
    for name in [by] if isinstance(by, str) else list(by or []):
        keys.append(sessions[name].astype("string").fillna(NONE).rename(name))
    if freq:
        keys.append(bucket_start(sessions["start_time"], freq).rename("bucket"))
    return keys


def _done(sessions: pd.DataFrame) -> pd.Series:
    return sessions["pending"].fillna(False).eq(False)


def _succeeded(sessions: pd.DataFrame) -> pd.Series:
    return _done(sessions) & sessions["success"].fillna(False).astype(bool)


def _failed(sessions: pd.DataFrame) -> pd.Series:
    return _done(sessions) & sessions["success"].fillna(True).eq(False)


def _grouped_sum(values: pd.DataFrame, keys: list[pd.Series]) -> pd.DataFrame:
    if not len(values):
        return pd.DataFrame(columns=[k.name for k in keys] + list(values.columns)).astype(
            dict(values.dtypes.items())
        )
    if not keys:
        return values.sum().to_frame().T
    return values.groupby(keys, observed=True, dropna=False).sum().reset_index()


def cost_by(
    sessions: pd.DataFrame, by: str | Sequence[str] | None = None, *, freq: str | None = None
) -> pd.DataFrame:
    """Cost per group (and ``bucket`` of ``start_time`` when ``freq``), USD.

    Columns: the keys, ``sessions``, ``successful``, ``total_cost``, ``llm_cost``,
    ``cost_per_session``, ``cost_per_success`` (all spend divided by successful sessions: what a
    useful answer really costs), ``prompt_tokens``, ``completion_tokens``, ``cost_per_1k_tokens``.
    Sorted by ``total_cost``, largest first (by bucket first when ``freq``).
    """
    values = pd.DataFrame(
        {
            "sessions": 1,
            "successful": _succeeded(sessions).astype("int64"),
            "total_cost": sessions["total_cost"].fillna(0.0),
            "llm_cost": sessions["llm_cost"].fillna(0.0),
            "prompt_tokens": sessions["llm_prompt_token_count"].fillna(0).astype("int64"),
            "completion_tokens": sessions["llm_completion_token_count"].fillna(0).astype("int64"),
        },
        index=sessions.index,
    )
    table = _grouped_sum(values, _keys(sessions, by, freq))
    table["cost_per_session"] = table["total_cost"] / table["sessions"].where(table["sessions"] > 0)
    table["cost_per_success"] = table["total_cost"] / table["successful"].where(
        table["successful"] > 0
    )
    tokens = table["prompt_tokens"] + table["completion_tokens"]
    table["cost_per_1k_tokens"] = table["llm_cost"] / (tokens.where(tokens > 0) / 1000)
    order = (["bucket"] if freq else []) + ["total_cost"]
    return table.sort_values(order, ascending=[True] * bool(freq) + [False], ignore_index=True)


def top_sessions(sessions: pd.DataFrame, n: int = 10, *, by: str = "total_cost") -> pd.DataFrame:
    """The ``n`` sessions with the largest ``by`` (e.g. ``total_cost``, ``duration``)."""
    columns = [
        c
        for c in ("id", "agent", "start_time", "duration", "total_cost", "success", "error")
        if c in sessions
    ]
    return (
        sessions.nlargest(n, by)[columns].reset_index(drop=True)
        if len(sessions)
        else sessions[columns]
    )


def movers(
    sessions: pd.DataFrame,
    *,
    by: str = "agent",
    metric: str = "total_cost",
    period: str = "D",
    compare: str | None = None,
) -> pd.DataFrame:
    """What changed most per group: ``before``, ``after``, ``change``, ``change_pct``.

    Default: the mean ``metric`` per session in the last complete ``period`` against the one
    before. ``compare="deployment_id"``: each group's latest deployment against its previous one
    (by first session). Ranked by the absolute change, biggest movers first.
    """
    rows = []
    data = sessions.dropna(subset=["start_time"])
    for name, group in data.groupby(data[by].astype("string").fillna(NONE), observed=True):
        if compare:
            firsts = group.groupby(group[compare].astype("string"), observed=True)[
                "start_time"
            ].min()
            firsts = firsts[firsts.index != ""].sort_values()
            if len(firsts) < 2:
                continue
            old, new = firsts.index[-2], firsts.index[-1]
            before = group.loc[group[compare].astype("string") == old, metric].mean()
            after = group.loc[group[compare].astype("string") == new, metric].mean()
            rows.append(
                {by: name, "before_at": old, "after_at": new, "before": before, "after": after}
            )
        else:
            buckets = bucket_start(group["start_time"], period)
            last = bucket_start(data["start_time"], period).max()  # the bucket still filling
            means = group[metric].groupby(buckets).mean()
            complete = means[means.index < last]
            if len(complete) < 2:
                continue
            rows.append(
                {
                    by: name,
                    "before_at": complete.index[-2],
                    "after_at": complete.index[-1],
                    "before": complete.iloc[-2],
                    "after": complete.iloc[-1],
                }
            )
    table = pd.DataFrame(rows, columns=[by, "before_at", "after_at", "before", "after"])
    table["change"] = table["after"] - table["before"]
    table["change_pct"] = table["change"] / table["before"].where(table["before"] != 0)
    return table.sort_values("change", key=lambda s: s.abs(), ascending=False, ignore_index=True)


def latency_percentiles(
    sessions: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    *,
    freq: str | None = None,
    column: str = "duration",
    q: Sequence[float] = (0.5, 0.9, 0.95, 0.99),
) -> pd.DataFrame:
    """``count`` and percentiles (``p50``, ``p90``, ... as timedeltas) of completed sessions."""
    done = sessions[_done(sessions)].dropna(subset=[column])
    names = [f"p{round(x * 100):g}" for x in q]
    keys = _keys(done, by, freq)
    if not len(done):
        cols = [k.name for k in keys] + ["count", *names]
        return pd.DataFrame(
            {c: pd.Series(dtype="timedelta64[ns]" if c in names else "object") for c in cols}
        )
    values = done[column]
    grouped = values.groupby(keys, observed=True) if keys else values.groupby(np.zeros(len(values)))
    table = grouped.quantile(list(q)).unstack()
    table.columns = names
    table.insert(0, "count", grouped.size())
    table = table.reset_index() if keys else table.reset_index(drop=True)
    for name in names:
        table[name] = pd.to_timedelta(table[name]).astype("timedelta64[ns]")
    return table


def wilson_interval(
    successes: np.ndarray | pd.Series, n: np.ndarray | pd.Series, z: float = Z95
) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score interval of ``successes / n`` as ``(low, high)`` (NaN where n is 0)."""
    k = np.asarray(successes, dtype="float64")
    m = np.asarray(n, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / m
        centre = (p + z * z / (2 * m)) / (1 + z * z / m)
        half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / (1 + z * z / m)
    return centre - half, centre + half


def reliability(
    sessions: pd.DataFrame, by: str | Sequence[str] | None = None, *, freq: str | None = None
) -> pd.DataFrame:
    """Success and failure rates of completed sessions per group, with counts and a 95% Wilson
    interval on the failure rate (``failure_rate_low``/``_high``) so small groups are not over-read."""
    values = pd.DataFrame(
        {
            "sessions": 1,
            "completed": _done(sessions).astype("int64"),
            "succeeded": _succeeded(sessions).astype("int64"),
            "failed": _failed(sessions).astype("int64"),
            "pending": (~_done(sessions)).astype("int64"),
        },
        index=sessions.index,
    )
    table = _grouped_sum(values, _keys(sessions, by, freq))
    completed = table["completed"].where(table["completed"] > 0)
    table["success_rate"] = table["succeeded"] / completed
    table["failure_rate"] = table["failed"] / completed
    low, high = wilson_interval(table["failed"], table["completed"])
    table["failure_rate_low"], table["failure_rate_high"] = low, high
    return table


_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?", "<ts>"),
        (r"[\w.+-]+@[\w-]+\.[\w.-]+", "<email>"),
        (r"https?://[^\s'\"]+", "<url>"),
        (
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
            "<id>",
        ),
        (
            r"\b(?:sess|agent|agentid|evalrun|eval|thrd|deploy|route|call|req|doc|org|proj|user|run)[_-][0-9A-Za-z]{6,}\b",
            "<id>",
        ),
        (r"'[^']*'|\"[^\"]*\"", "<str>"),
        (r"\b(?:\d{1,3}\.){3}\d{1,3}\b", "<ip>"),
        (r"\b[0-9a-f]{12,}\b", "<hex>"),
        (r"(?<![\w.-])-?\d+(?:\.\d+)?(?:ms|s|m|h|%|k|KB|MB|GB)?(?![\w-])", "<num>"),
    )
)


@lru_cache(maxsize=65536)
def error_template(message: str) -> str:
    """The family template of an error message: its first line with ids, hex, URLs, quoted
    values, timestamps, emails, IPs and numbers masked (``<id>``, ``<hex>``, ``<url>``, ``<str>``,
    ``<ts>``, ``<email>``, ``<ip>``, ``<num>``). Names such as ``gpt-4o`` stay as they are."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip()


def failure_families(sessions: pd.DataFrame, *, top: int | None = None) -> pd.DataFrame:
    """Failed sessions grouped by :func:`error_template`: ``template``, ``count``, ``share`` of
    failures, ``first_seen``, ``last_seen``, ``agents`` (sorted names), ``example_ids`` (up to 3)
    and one raw ``example_error``; largest family first."""
    columns = [
        "template",
        "count",
        "share",
        "first_seen",
        "last_seen",
        "agents",
        "example_ids",
        "example_error",
    ]
    failed = sessions[_failed(sessions) & sessions["error"].notna()]
    if not len(failed):
        return pd.DataFrame(columns=columns)
    messages = failed["error"].astype(str)
    unique = messages.unique()
    templates = messages.map(dict(zip(unique, (error_template(m) for m in unique), strict=True)))
    agents = (
        failed["agent"].astype("string").fillna(NONE)
        if "agent" in failed
        else pd.Series(NONE, index=failed.index)
    )
    frame = pd.DataFrame(
        {
            "template": templates,
            "id": failed["id"],
            "start": failed["start_time"],
            "agent": agents,
            "error": messages,
        }
    )
    grouped = frame.groupby("template", sort=False)
    table = pd.DataFrame(
        {
            "count": grouped.size(),
            "first_seen": grouped["start"].min(),
            "last_seen": grouped["start"].max(),
            "agents": grouped["agent"].agg(lambda s: sorted(set(s))),
            "example_ids": grouped["id"].agg(lambda s: list(s[:3])),
            "example_error": grouped["error"].first(),
        }
    ).reset_index()
    table["agents"] = table["agents"].map(lambda names: [str(n) for n in names])
    table.insert(2, "share", table["count"] / len(frame))
    table = table.sort_values(["count", "template"], ascending=[False, True], ignore_index=True)
    return table[columns].head(top) if top else table[columns]


def _z_to_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2)) if math.isfinite(z) else float("nan")


def _proportion_test(k1: float, n1: float, k2: float, n2: float) -> float:
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)) if 0 < pooled < 1 else 0.0
    return (k2 / n2 - k1 / n1) / se if se else 0.0


def _welch_log(a: pd.Series, b: pd.Series) -> float:
    la, lb = np.log(a[a > 0].astype("float64")), np.log(b[b > 0].astype("float64"))
    if len(la) < 2 or len(lb) < 2:
        return 0.0
    se = math.sqrt(la.var(ddof=1) / len(la) + lb.var(ddof=1) / len(lb))
    return float((lb.mean() - la.mean()) / se) if se else 0.0


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

    For each ``by`` group, each ``at`` value (deployments ordered by their first session; empty
    ids skipped) is compared with the previous one: ``before``, ``after``, ``ratio``, ``change``,
    ``evidence`` (a z score: two-proportion test for the failure rate, Welch's test on log values
    for cost and duration), ``p_value`` (two-sided, normal approximation), ``n_before``,
    ``n_after``. Pairs with fewer than ``min_sessions`` completed sessions on a side are skipped.
    With ``at="time"`` the periods of ``window`` (e.g. ``"D"``, ``"W"``) take the place of
    deployments: each period is compared with the one before (column ``time`` holds its start).
    Ranked by the strength of the evidence.
    """
    if at == "time":
        periods = bucket_start(sessions["start_time"], window).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        return _detect(sessions.assign(time=periods), by, "time", metrics, min_sessions)
    return _detect(sessions, by, at, metrics, min_sessions)


def _detect(
    sessions: pd.DataFrame, by: str, at: str, metrics: Sequence[str], min_sessions: int
) -> pd.DataFrame:
    columns = [
        by,
        at,
        "started",
        "metric",
        "before",
        "after",
        "ratio",
        "change",
        "evidence",
        "p_value",
        "n_before",
        "n_after",
    ]
    rows = []
    done = sessions[_done(sessions)]
    key = done[at].astype("string")
    for name, group in done.groupby(done[by].astype("string").fillna(NONE), observed=True):
        gkey = key.loc[group.index]
        firsts = group.groupby(gkey, observed=True)["start_time"].min()
        firsts = firsts[firsts.index != ""].sort_values()
        for previous, current in zip(firsts.index[:-1], firsts.index[1:], strict=True):
            a, b = group[gkey == previous], group[gkey == current]
            if len(a) < min_sessions or len(b) < min_sessions:
                continue
            for metric in metrics:
                if metric == "failure_rate":
                    fa, fb = float(_failed(a).sum()), float(_failed(b).sum())
                    before, after = fa / len(a), fb / len(b)
                    z = _proportion_test(fa, len(a), fb, len(b))
                elif metric == "cost_per_session":
                    ca, cb = a["total_cost"].dropna(), b["total_cost"].dropna()
                    before, after = float(ca.mean()), float(cb.mean())
                    z = _welch_log(ca, cb)
                else:
                    da, db = (
                        a["duration"].dropna().dt.total_seconds(),
                        b["duration"].dropna().dt.total_seconds(),
                    )
                    before, after = float(da.median()), float(db.median())
                    z = _welch_log(da, db)
                rows.append(
                    {
                        by: name,
                        at: current,
                        "started": firsts[current],
                        "metric": metric,
                        "before": before,
                        "after": after,
                        "ratio": after / before if before else float("nan"),
                        "change": after - before,
                        "evidence": z,
                        "p_value": _z_to_p(z),
                        "n_before": len(a),
                        "n_after": len(b),
                    }
                )
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values("evidence", key=lambda s: s.abs(), ascending=False, ignore_index=True)


def operation_hotspots(spans: pd.DataFrame, *, by: str = "operation") -> pd.DataFrame:
    """Time by operation (or ``by="path"``) across sessions: ``count``, ``sessions``, ``total``
    and ``self`` time, ``mean`` and ``p95`` durations, ``share_of_self`` (0..1); by self time."""
    columns = ["count", "sessions", "total", "self", "mean", "p95", "share_of_self"]
    if not len(spans):
        return pd.DataFrame(columns=columns)
    key = spans[by].astype("string")
    grouped = spans.groupby(key, observed=True)
    table = pd.DataFrame(
        {
            "count": grouped.size(),
            "sessions": grouped["session_id"].nunique(),
            "total": grouped["duration"].sum(),
            "self": grouped["self_duration"].sum(),
            "mean": grouped["duration"].mean(),
            "p95": grouped["duration"].quantile(0.95),
        }
    )
    table["share_of_self"] = table["self"] / table["self"].sum()
    table.index.name = by
    return table.sort_values("self", ascending=False)[columns]


def failed_vs_successful(
    spans: pd.DataFrame, sessions: pd.DataFrame, *, by: str = "operation"
) -> pd.DataFrame:
    """Mean self time per session by operation in failed vs successful sessions, with the
    ``difference`` and ``ratio``: what failing sessions spend their time on."""
    outcome = pd.Series(
        np.where(_failed(sessions), "failed", np.where(_succeeded(sessions), "successful", "")),
        index=sessions["id"].astype(str),
    )
    status = spans["session_id"].astype(str).map(outcome)
    data = spans.assign(_status=status, _key=spans[by].astype("string"))
    data = data[data["_status"].isin(["failed", "successful"])]
    per_session = data.groupby(["_status", "_key", "session_id"], observed=True)[
        "self_duration"
    ].sum()
    counts = data.groupby("_status")["session_id"].nunique()
    totals = per_session.groupby(level=[0, 1]).sum().unstack(0, fill_value=pd.Timedelta(0))
    for status_name in ("failed", "successful"):
        if status_name not in totals:
            totals[status_name] = pd.Timedelta(0)
        totals[status_name] = totals[status_name] / max(int(counts.get(status_name, 0)), 1)
    table = totals[["failed", "successful"]].copy()
    table["difference"] = table["failed"] - table["successful"]
    table["ratio"] = table["failed"] / table["successful"].where(
        table["successful"] > pd.Timedelta(0)
    )
    table.index.name = by
    return table.sort_values("difference", ascending=False)


def eval_summary(
    eval_runs: pd.DataFrame, *, by: str = "eval_id", sessions: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per eval (or ``by="agent"`` with ``sessions``): ``runs``, ``completed``, ``pass_rate``,
    ``mean_score`` and score quartiles ``q25``/``q50``/``q75``. Labelled by ``eval_name`` when
    the runs carry one."""
    runs = eval_runs
    if by == "agent":
        if sessions is None:
            raise ValueError("by='agent' needs the sessions frame (for each run's agent)")
        runs = runs.merge(
            sessions[["id", "agent"]].rename(columns={"id": "session_id"}),
            on="session_id",
            how="left",
        )
    label = "eval_name" if by == "eval_id" and "eval_name" in runs else by
    columns = ["runs", "completed", "pass_rate", "mean_score", "q25", "q50", "q75"]
    if not len(runs):
        return pd.DataFrame(columns=columns)
    done = runs["pending"].fillna(False).eq(False) & runs["passed"].notna()
    key = runs[label].astype("string").fillna(NONE)
    grouped = runs.groupby(key, observed=True)
    scores = runs["score"].astype("float64")
    table = pd.DataFrame(
        {
            "runs": grouped.size(),
            "completed": done.groupby(key).sum(),
            "pass_rate": runs["passed"].astype("float64").groupby(key).mean(),
            "mean_score": scores.groupby(key).mean(),
            "q25": scores.groupby(key).quantile(0.25),
            "q50": scores.groupby(key).quantile(0.5),
            "q75": scores.groupby(key).quantile(0.75),
        }
    )
    table.index.name = label
    return table.sort_values("pass_rate")[columns]


def succeeded_but_failed_eval(sessions: pd.DataFrame, eval_runs: pd.DataFrame) -> pd.DataFrame:
    """Sessions that succeeded yet failed at least one eval: ``id``, ``agent``, ``failed_evals``
    (comma-separated names) and ``lowest_score``; lowest score first."""
    label = "eval_name" if "eval_name" in eval_runs else "eval_id"
    failed = eval_runs[eval_runs["passed"].fillna(True).eq(False)]
    ok_ids = set(sessions.loc[_succeeded(sessions), "id"].astype(str))
    failed = failed[failed["session_id"].astype(str).isin(ok_ids)]
    grouped = failed.groupby(failed["session_id"].astype(str))
    table = pd.DataFrame(
        {
            "failed_evals": grouped[label].agg(lambda s: ", ".join(sorted({str(x) for x in s}))),
            "lowest_score": grouped["score"].min().astype("float64"),
        }
    )
    table.index.name = "id"
    table = table.reset_index()
    if "agent" in sessions:
        agents = dict(
            zip(sessions["id"].astype(str), sessions["agent"].astype("string"), strict=True)
        )
        table.insert(1, "agent", table["id"].map(agents))
    return table.sort_values("lowest_score", ignore_index=True)


def summary_by_agent(sessions: pd.DataFrame, by: str = "agent") -> pd.DataFrame:
    """Per ``by`` group: sessions, completed, failed, failure rate, total and mean cost (USD),
    median duration. Sorted by total cost, largest first."""
    done = _done(sessions)
    failed = _failed(sessions)
    grouped = sessions.assign(_done=done, _failed=failed).groupby(by, observed=True, dropna=False)
    table = pd.DataFrame(
        {
            "sessions": grouped.size(),
            "completed": grouped["_done"].sum(),
            "failed": grouped["_failed"].sum(),
            "total_cost": grouped["total_cost"].sum(),
            "median_duration": grouped["duration"].median(),
        }
    )
    table["failure_rate"] = (
        table["failed"] / table["completed"].where(table["completed"] > 0)
    ).round(4)
    table["cost_per_session"] = table["total_cost"] / table["sessions"]
    columns = [
        "sessions",
        "completed",
        "failed",
        "failure_rate",
        "total_cost",
        "cost_per_session",
        "median_duration",
    ]
    return table[columns].sort_values("total_cost", ascending=False)
