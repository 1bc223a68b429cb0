"""What the detectors look at: observation tables of scores, each row one session (or one
session's calls to one host/operation/store/model, or one eval run), with its time, its
segment dimensions and one score per metric.

Scores compare like with like: a duration, a call's time or a cost becomes the *normal score*
of its rank among observations of the same stratum — the same agent (and the same call
target, or eval) and the same three hours of the day —, so a mix of agents that shifts at the
weekend, the afternoon peak of the daily rhythm or one enormous session move nothing.
"Slow" (the tail metrics) is being above the stratum's 95th percentile.

Pure pandas/numpy (scipy.special for the inverse normal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ...status import failed, succeeded
from .._common import NONE, group_key

#: Environments read as development traffic (with devmode sessions): reported apart.
DEVELOPMENT_ENVS = ("development", "dev", "local")
#: A stratum (agent × target × 3-hour part of the day) needs this many observations to be its
#: own baseline; smaller ones fall back to the target's whole-day baseline.
STRATUM_MIN = 40
#: A metadata key is a segment dimension when it has 2 to this many distinct values.
MAX_VALUES = 12
#: Tail threshold of the "slow" scores (the stratum's p95).
TAIL = 0.95


@dataclass(frozen=True)
class Metric:
    """One metric of an observation table: ``family`` (failure, latency, cost, eval),
    ``score`` (per row; NaN where the metric does not apply; higher = worse), ``rate`` (0/1
    scores), ``value`` (per row, in the unit shown: seconds, USD, 0..1) and ``summary`` (how
    ``value`` is summarised before/after: ``rate``, ``median``, ``p95``, ``mean``),
    ``worse_up``: whether a higher summary is worse (a pass rate is worse down)."""

    name: str
    family: str
    score: np.ndarray
    rate: bool
    value: np.ndarray
    summary: str
    worse_up: bool = True


@dataclass
class Table:
    """One observation table: ``source`` (sessions, calls, evals), times ``t`` (int64 ns),
    ``session`` (row of each observation's session in the analysed sessions), ``dims``
    (segment dimensions: name → categorical), ``segments`` (the dimension sets whose value
    combinations are tested) and ``metrics``."""

    source: str
    t: np.ndarray
    session: np.ndarray
    dims: dict[str, pd.Categorical]
    segments: list[tuple[str, ...]]
    metrics: list[Metric] = field(default_factory=list)


def development(sessions: pd.DataFrame) -> np.ndarray:
    """Which sessions are development traffic: devmode, or an env named like development."""
    dev = (
        sessions["devmode"].fillna(False).to_numpy(dtype=bool)
        if "devmode" in sessions.columns
        else np.zeros(len(sessions), dtype=bool)
    )
    if "env" in sessions.columns:
        env = sessions["env"].astype("string").str.lower().fillna("")
        dev |= env.isin(DEVELOPMENT_ENVS).to_numpy(dtype=bool)
    return dev


def horizon(sessions: pd.DataFrame) -> pd.Timestamp | None:
    """Where the analysed period ends: the start of the earliest session still pending among
    those started in the data's last six hours (after it, completed sessions are biased to the
    short ones); ``None`` when none is pending there."""
    if "pending" not in sessions.columns or not len(sessions):
        return None
    start = sessions["start_time"]
    last = start.max()
    if pd.isna(last):
        return None
    recent = start >= last - pd.Timedelta(hours=6)
    waiting = sessions["pending"].fillna(False).to_numpy(dtype=bool) & recent.to_numpy()
    if "deleted" in sessions.columns:
        waiting &= ~sessions["deleted"].fillna(False).to_numpy(dtype=bool)
    return None if not waiting.any() else pd.Timestamp(start[waiting].min())


def daypart(t: np.ndarray) -> np.ndarray:
    """The 3-hour part of the UTC day (0..7) of each time (int64 ns)."""
    return ((t // (3 * 3600 * 10**9)) % 8).astype(np.int64)


def strata(key: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Stratum of each observation: its ``key`` (int codes) × part of the day, or the key
    alone where that cell holds fewer than :data:`STRATUM_MIN` observations."""
    cell = key.astype(np.int64) * 9 + daypart(t)
    counts = np.bincount(cell, minlength=int(cell.max(initial=0)) + 1)
    return np.where(counts[cell] >= STRATUM_MIN, cell, key.astype(np.int64) * 9 + 8)


def normal_scores(values: np.ndarray, stratum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, slow)`` of ``values`` (NaN: no score) within each stratum: the normal score
    of the rank (ties averaged) and whether it is above the stratum's :data:`TAIL` quantile
    (1.0/0.0; NaN where no value)."""
    scores = np.full(len(values), np.nan)
    slow = np.full(len(values), np.nan)
    has = ~np.isnan(values)
    if not has.any():
        return scores, slow
    frame = pd.DataFrame({"v": values[has], "g": stratum[has]})
    grouped = frame.groupby("g", sort=False)["v"]
    rank = grouped.rank(method="average").to_numpy()
    size = grouped.transform("size").to_numpy(dtype="float64")
    quantile = (rank - 0.5) / size
    scores[has] = ndtri(quantile)
    slow[has] = (quantile > TAIL).astype("float64")
    return scores, slow


def _seconds(values: pd.Series) -> np.ndarray:
    """Timedeltas (or numbers of seconds) as float seconds, NaN where missing."""
    if pd.api.types.is_timedelta64_dtype(values.dtype):
        return values.dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _categorical(values: pd.Series) -> pd.Categorical:
    key = group_key(values.reset_index(drop=True))
    return pd.Categorical(key)


def metadata_dims(sessions: pd.DataFrame) -> list[str]:
    """The ``metadata.*`` columns that segment well: 2 to :data:`MAX_VALUES` distinct values
    (ids, counts and free text do not)."""
    out = []
    for name in sessions.columns:
        if not str(name).startswith("metadata."):
            continue
        column = sessions[name]
        if pd.api.types.is_float_dtype(column.dtype):
            continue
        distinct = column.nunique(dropna=True)
        if 2 <= distinct <= MAX_VALUES:
            out.append(str(name))
    return out


def session_table(sessions: pd.DataFrame, times: np.ndarray) -> Table:
    """The per-session observations of ``sessions`` (completed, analysed ones) started at
    ``times``: failure rate (all), p50/p95 duration (successful sessions), cost per session
    (sessions with a cost); segments: each agent, trigger, env and metadata value, and each
    agent × trigger/env/metadata value."""
    n = len(sessions)
    agent = _categorical(
        sessions["agent"] if "agent" in sessions.columns else pd.Series([NONE] * n)
    )
    dims: dict[str, pd.Categorical] = {"agent": agent}
    for name in ("trigger", "env"):
        if name in sessions.columns:
            dims[name] = _categorical(sessions[name])
    for name in metadata_dims(sessions):
        dims[name] = _categorical(sessions[name])
    segments: list[tuple[str, ...]] = [(), ("agent",)]
    others = [d for d in dims if d != "agent"]
    segments += [(d,) for d in others] + [("agent", d) for d in others]
    table = Table("sessions", times, np.arange(n), dims, segments)
    codes = agent.codes.astype(np.int64)
    stratum = strata(codes, times)
    is_failed = failed(sessions).to_numpy(dtype=bool)
    known = is_failed | succeeded(sessions).to_numpy(dtype=bool)
    table.metrics.append(
        Metric(
            "failure_rate",
            "failure",
            np.where(known, is_failed.astype("float64"), np.nan),
            True,
            np.where(known, is_failed.astype("float64"), np.nan),
            "rate",
        )
    )
    ok = succeeded(sessions).to_numpy(dtype=bool)
    if "duration" in sessions.columns:
        seconds = _seconds(sessions["duration"])
        seconds = np.where(ok & (seconds > 0), seconds, np.nan)
        scores, slow = normal_scores(seconds, stratum)
        table.metrics.append(Metric("p50_duration", "latency", scores, False, seconds, "median"))
        table.metrics.append(Metric("p95_duration", "latency", slow, True, seconds, "p95"))
    if "total_cost" in sessions.columns:
        cost = pd.to_numeric(sessions["total_cost"], errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
        cost = np.where(cost >= 0, cost, np.nan)
        scores, _slow = normal_scores(cost, stratum)
        table.metrics.append(Metric("cost_per_session", "cost", scores, False, cost, "mean"))
    return table


def call_key(spans: pd.DataFrame) -> pd.Series:
    """What each span calls, as a person names it: ``host <h>`` (outbound HTTP), ``store <name>
    (<operation>)`` (key-value, vector and stream stores), ``model <m>`` (LLM calls), else
    ``operation <op>``; missing for a root or ``agent.run`` span (their time is their
    children's)."""
    operation = spans["operation"].astype("string")
    host = (
        spans["http_host"].astype("string")
        if "http_host" in spans
        else pd.Series(pd.NA, index=spans.index, dtype="string")
    )
    if "http_url" in spans:
        from_url = spans["http_url"].astype("string").map(_url_host, na_action="ignore")
        host = host.fillna(from_url.astype("string"))
    store = spans["storage_name"].astype("string") if "storage_name" in spans else None
    model = spans["model"].astype("string") if "model" in spans else None
    key = pd.Series(pd.NA, index=spans.index, dtype="string")
    outbound = operation.str.startswith("HTTP").fillna(False) & host.notna()
    key = key.mask(outbound, "host " + host)
    if store is not None:
        stored = key.isna() & store.notna()
        key = key.mask(stored, "store " + store + " (" + operation.fillna("?") + ")")
    if model is not None:
        modelled = key.isna() & model.notna()
        key = key.mask(modelled, "model " + model)
    rest = key.isna() & operation.notna()
    key = key.mask(rest, "operation " + operation)
    depth = spans["depth"] if "depth" in spans else pd.Series(1, index=spans.index)
    top = (depth.fillna(0).astype("int64") == 0) | (operation == "agent.run").fillna(False)
    return key.mask(top.to_numpy(dtype=bool))


def _url_host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def call_table(
    spans: pd.DataFrame, sessions: pd.DataFrame, times: np.ndarray, positions: pd.Series
) -> Table | None:
    """Per session and call target (:func:`call_key`) of the sampled spans: the time spent in
    those calls (summed self time, seconds) and whether one failed. ``positions`` maps a
    session id to its row in ``sessions``. Segments: each target, each target × agent.
    ``None`` when no span belongs to the analysed sessions."""
    key = call_key(spans)
    row = spans["session_id"].astype("string").map(positions)
    keep = key.notna() & row.notna()
    if not keep.any():
        return None
    seconds = (
        _seconds(spans["self_duration"])
        if "self_duration" in spans
        else np.full(len(spans), np.nan)
    )
    broken = (
        spans["error"].notna().to_numpy(dtype=bool)
        if "error" in spans
        else np.zeros(len(spans), dtype=bool)
    )
    frame = pd.DataFrame(
        {
            "row": row[keep].astype("int64").to_numpy(),
            "key": key[keep].to_numpy(dtype=object),
            "seconds": np.nan_to_num(seconds[keep.to_numpy()], nan=0.0),
            "error": broken[keep.to_numpy()],
        }
    )
    calls = (
        frame.groupby(["row", "key"], sort=True)
        .agg(seconds=("seconds", "sum"), error=("error", "max"))
        .reset_index()
    )
    rows = calls["row"].to_numpy(dtype=np.int64)
    agent = _categorical(
        sessions["agent"].iloc[rows]
        if "agent" in sessions.columns
        else pd.Series([NONE] * len(rows))
    )
    target = pd.Categorical(calls["key"].astype(str))
    dims = {"call": target, "agent": agent}
    table = Table("calls", times[rows], rows, dims, [("call",), ("call", "agent")])
    stratum = strata(
        target.codes.astype(np.int64) * max(len(agent.categories), 1) + agent.codes, times[rows]
    )
    is_failed = failed(sessions).to_numpy(dtype=bool)[rows]
    ok = succeeded(sessions).to_numpy(dtype=bool)[rows]
    completed = is_failed | ok
    errors = calls["error"].to_numpy(dtype=bool).astype("float64")
    table.metrics.append(
        Metric(
            "call_error_rate",
            "failure",
            np.where(completed, errors, np.nan),
            True,
            np.where(completed, errors, np.nan),
            "rate",
        )
    )
    spent = calls["seconds"].to_numpy(dtype="float64")
    spent = np.where(ok & (spent > 0), spent, np.nan)
    scores, slow = normal_scores(spent, stratum)
    table.metrics.append(Metric("p50_call", "latency", scores, False, spent, "median"))
    table.metrics.append(Metric("p95_call", "latency", slow, True, spent, "p95"))
    return table


def eval_table(
    eval_runs: pd.DataFrame, sessions: pd.DataFrame, times: np.ndarray, positions: pd.Series
) -> Table | None:
    """Per eval run with a verdict, of the analysed sessions that succeeded (a failed session's
    answer is judged badly because it failed: that is the failure rate's story): pass rate
    (worse down) and score. Segments: each eval (its ``eval_name`` when the runs carry one, else
    its id), each eval × agent. ``None`` when no run belongs to the analysed sessions."""
    row = eval_runs["session_id"].astype("string").map(positions)
    ok = succeeded(sessions).to_numpy(dtype=bool)
    row = row.where(
        row.isna() | pd.Series(ok[row.fillna(0).astype("int64").to_numpy()], index=row.index),
        np.nan,
    )
    ran = ~eval_runs["pending"].fillna(False).to_numpy(dtype=bool)
    ran &= eval_runs["success"].fillna(True).to_numpy(dtype=bool)
    if "result_success" in eval_runs.columns:
        ran &= eval_runs["result_success"].fillna(True).to_numpy(dtype=bool)
    ran &= eval_runs["passed"].notna().to_numpy(dtype=bool) & row.notna().to_numpy()
    if not ran.any():
        return None
    runs = eval_runs[ran]
    rows = row[ran].astype("int64").to_numpy()
    name = runs["eval_name"] if "eval_name" in runs.columns else runs["eval_id"]
    evals = _categorical(name)
    agent = _categorical(
        sessions["agent"].iloc[rows]
        if "agent" in sessions.columns
        else pd.Series([NONE] * len(rows))
    )
    table = Table(
        "evals", times[rows], rows, {"eval": evals, "agent": agent}, [("eval",), ("eval", "agent")]
    )
    passed = runs["passed"].astype("boolean").to_numpy(dtype=bool)
    table.metrics.append(
        Metric(
            "pass_rate",
            "eval",
            (~passed).astype("float64"),
            True,
            passed.astype("float64"),
            "rate",
            worse_up=False,
        )
    )
    score = (
        pd.to_numeric(runs["score"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        if "score" in runs.columns
        else np.full(len(runs), np.nan)
    )
    if not np.isnan(score).all():
        stratum = strata(
            evals.codes.astype(np.int64) * max(len(agent.categories), 1) + agent.codes, times[rows]
        )
        scores, _slow = normal_scores(-score, stratum)
        table.metrics.append(
            Metric("mean_score", "eval", scores, False, score, "mean", worse_up=False)
        )
    return table
