"""The engine: :func:`find_incidents` runs every detector on production and on development
traffic, controls the false discovery rate over all their candidates, keeps the changes big
enough to matter and assembles one finding per incident (see the package docstring)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InvalidArgumentError
from ...status import done, failed, succeeded
from ._assemble import assemble, segment_text
from ._deployments import deployment_candidates, eval_deployment_candidates
from ._families import family_candidates
from ._observe import Table, call_table, development, eval_table, horizon, session_table
from ._rank import (
    bh_log10,
    big_enough,
    bucket_series,
    contradicted,
    group,
    measure,
    segment_mask,
)
from ._result import Findings, empty_findings, typed
from ._scan import MIN_SIDE, split_at, windows
from ._timescan import Grid, scan_table

#: The default threshold: -log10 of the q-value (3: q <= 0.001).
DEFAULT_EVIDENCE = 3.0
#: Most time bins a scan uses (an hour each, wider over long periods).
MAX_BINS = 1000
_HOUR = 3600 * 10**9
_REQUIRED = ("id", "start_time", "pending", "success")
#: The session columns the detectors read (with the ``metadata.*`` ones).
_COLUMNS = frozenset(
    {
        *_REQUIRED,
        "agent",
        "devmode",
        "env",
        "trigger",
        "deployment_id",
        "duration",
        "total_cost",
        "error",
        "deleted",
    }
)


def find_incidents(
    sessions: pd.DataFrame,
    spans: pd.DataFrame | None = None,
    eval_runs: pd.DataFrame | None = None,
    *,
    min_evidence: float = DEFAULT_EVIDENCE,
) -> Findings:
    """What changed in ``sessions`` (the loaders' frame, with ``agent``), and in the
    ``spans`` and ``eval_runs`` of those of them whose details were loaded (a sample is fine:
    findings from them say how many sessions they rest on).

    Completed sessions are analysed, up to the start of the first session still running in
    the data's last six hours (after it, completed sessions are biased to short ones).
    Development traffic (devmode, or env development/dev/local) is analysed apart and
    reported in ``Findings.development``, never as a production incident.

    ``min_evidence``: the threshold, as −log10 of the q-value (the default 3 → q <= 0.001: about
    one in a thousand findings may be a false discovery; 2 → q <= 0.01 finds weaker changes). Returns :class:`Findings` (ranked by evidence
    × effect). Raises :class:`~sessionkit.errors.InvalidArgumentError` when ``sessions`` lacks
    a column it needs or ``min_evidence`` is not a number >= 0.
    """
    try:
        threshold = float(min_evidence)
    except (TypeError, ValueError):
        threshold = float("nan")
    if not np.isfinite(threshold) or threshold < 0:
        raise InvalidArgumentError(
            f"min_evidence must be a number >= 0 (-log10 of the q-value; 2 means q <= 0.01), "
            f"not {min_evidence!r}"
        )
    missing = [c for c in _REQUIRED if c not in sessions.columns]
    if missing:
        raise InvalidArgumentError(
            f"find_incidents needs the sessions frame of sk.load_sessions; missing "
            f"column(s): {', '.join(missing)}"
        )
    for name, frame, needed in (
        ("spans", spans, ("session_id", "operation", "self_duration")),
        ("eval_runs", eval_runs, ("session_id", "passed", "pending", "success")),
    ):
        if frame is not None and any(c not in frame.columns for c in needed):
            raise InvalidArgumentError(
                f"{name} must be the {name} frame of sk.load_{name} (columns {', '.join(needed)})"
            )
    # the columns the detectors read, then the rows (filtering a wide frame copies every column)
    columns = [c for c in sessions.columns if c in _COLUMNS or str(c).startswith("metadata.")]
    data = sessions[columns][done(sessions).to_numpy() & sessions["start_time"].notna().to_numpy()]
    cut = horizon(sessions)
    if cut is not None:
        data = data[(data["start_time"] < cut).to_numpy()]
    data = data.reset_index(drop=True)
    if not len(data):
        return Findings(empty_findings(), empty_findings(), pd.DataFrame(), min_evidence=threshold)
    dev = development(data)
    candidates: list[dict[str, Any]] = []
    contexts: dict[str, dict[str, Any]] = {}
    details = set()
    for scope, mask in (("production", ~dev), ("development", dev)):
        part = data[mask].reset_index(drop=True)
        if len(part) < 2 * MIN_SIDE:
            continue
        context = _context(part, spans, eval_runs)
        details |= context["details"]
        contexts[scope] = context
        candidates += _detect(context, scope)
    times = data["start_time"].astype(TIMESTAMP_NS).array
    start, end = pd.Timestamp(times.min()), pd.Timestamp(times.max())
    # every test made counts: the scans' (most far from significant, left out), one per
    # deployment comparison and new family
    tests = sum(c.get("tested", 0) for c in contexts.values())
    tests += sum(1 for c in candidates if c["source"] in ("deployments", "families"))
    if not candidates:
        return Findings(
            empty_findings(),
            empty_findings(),
            pd.DataFrame(),
            sessions_analysed=len(data),
            details_sessions=len(details),
            start=start,
            end=end,
            min_evidence=threshold,
            tests=tests,
        )
    log10_q = bh_log10(np.array([c["log10_p"] for c in candidates]), tests)
    for c, q in zip(candidates, log10_q, strict=True):
        c["log10_q"] = float(q)
    rows: dict[str, list[dict[str, Any]]] = {"production": [], "development": []}
    series: dict[tuple[str, int], pd.DataFrame] = {}
    for scope, context in contexts.items():
        grid = context["grid"]
        tolerance = max(3 * grid.width, 6 * _HOUR)
        context["tolerance"] = tolerance
        strong = [c for c in candidates if c["scope"] == scope and c["log10_q"] <= -threshold]
        kept = [c for c in strong if _sized(c, context)]
        scans = [c for c in kept if c["source"] != "deployments"]
        for c in kept:
            if c["source"] == "deployments":
                c["until_ns"] = context["next_start"].get(_dims(c)["deployment_id"])
        kept = [
            c
            for c in kept
            if c["source"] != "deployments"
            or not contradicted(c, scans, tolerance, context["end_ns"])
        ]
        found = [
            assemble(members, context) for members in group(kept, tolerance, context["end_ns"])
        ]
        found.sort(key=lambda f: -f["score"])
        for rank, finding in enumerate(found, start=1):
            finding["rank"] = rank
            source = finding.pop("_series")
            if source is not None and "members" in source:
                series[(scope, rank)] = family_series(source, context)
            elif source is not None:
                series[(scope, rank)] = bucket_series(source, grid.origin, context["end_ns"])
        rows[scope] = found
    return Findings(
        table=typed(rows["production"]),
        development=typed(rows["development"]),
        candidates=_candidate_frame(candidates),
        tests=tests,
        series=series,
        sessions_analysed=len(data),
        details_sessions=len(details),
        start=start,
        end=end,
        min_evidence=threshold,
    )


TIMESTAMP_NS = pd.DatetimeTZDtype(unit="ns", tz="UTC")


def _context(
    sessions: pd.DataFrame, spans: pd.DataFrame | None, eval_runs: pd.DataFrame | None
) -> dict[str, Any]:
    """Everything the detectors of one scope share: its sessions, tables and time grid."""
    times = sessions["start_time"].astype(TIMESTAMP_NS).array.asi8.astype(np.int64)
    first, last = int(times.min()), int(times.max())
    hours = max(1, int(np.ceil((last - first + 1) / _HOUR)))
    width = _HOUR * max(1, int(np.ceil(hours / MAX_BINS)))
    origin = first - first % width
    bins = max(2, int((last - origin) // width) + 1)
    grid = Grid(origin, width, bins, windows(bins))
    positions = pd.Series(np.arange(len(sessions)), index=pd.Index(sessions["id"].astype("string")))
    positions = positions[~positions.index.duplicated(keep="last")]
    tables = [session_table(sessions, times)]
    details: set[str] = set()
    if spans is not None and len(spans):
        calls = call_table(spans, sessions, times, positions)
        if calls is not None:
            tables.append(calls)
            details |= set(sessions["id"].astype(str).to_numpy()[np.unique(calls.session)])
    evals = None
    if eval_runs is not None and len(eval_runs):
        evals = eval_table(eval_runs, sessions, times, positions)
        if evals is not None:
            tables.append(evals)
            details |= set(sessions["id"].astype(str).to_numpy()[np.unique(evals.session)])
    agents = (
        sessions["agent"].astype("string").fillna("(none)").to_numpy(dtype=object)
        if "agent" in sessions.columns
        else np.full(len(sessions), "(none)", dtype=object)
    )
    codes, names = pd.factorize(pd.Series(agents, dtype=object))
    deployment = (
        sessions["deployment_id"].astype("string").fillna("").to_numpy(dtype=object)
        if "deployment_id" in sessions.columns
        else None
    )
    return {
        "sessions": sessions,
        "times": times,
        "grid": grid,
        "tables": tables,
        "evals": evals,
        "details": details,
        "agents": agents,
        "agent_codes": np.asarray(codes, dtype=np.int64),
        "agent_names": [str(n) for n in names],
        "deployment": deployment,
        "ids": sessions["id"].astype("string").to_numpy(dtype=object),
        **_deployment_facts(_deployment_starts(sessions, times, agents, deployment)),
        "end_ns": last,
    }


def _deployment_starts(
    sessions: pd.DataFrame, times: np.ndarray, agents: np.ndarray, deployment: np.ndarray | None
) -> list[tuple[str, str, int]]:
    """``(agent, deployment id, first session's start ns)`` of every deployment."""
    if deployment is None:
        return []
    frame = pd.DataFrame({"agent": agents, "dep": deployment, "t": times})
    frame = frame[frame["dep"] != ""]
    first = frame.groupby(["agent", "dep"], sort=False)["t"].min()
    return [(str(a), str(d), int(t)) for (a, d), t in first.items()]


def _deployment_facts(starts: list[tuple[str, str, int]]) -> dict[str, Any]:
    """``deployments`` (agent → [(first session ns, id)], in time order), ``deployment_start``
    (id → first session ns) and ``next_start`` (id → the agent's next deployment's first
    session ns) from :func:`_deployment_starts`."""
    by_agent: dict[str, list[tuple[int, str]]] = {}
    for agent, dep, t in starts:
        by_agent.setdefault(agent, []).append((t, dep))
    following: dict[str, int] = {}
    for items in by_agent.values():
        items.sort()
        for (_t, dep), (t_next, _d) in pairwise(items):
            following[dep] = t_next
    return {
        "deployments": by_agent,
        "deployment_start": {dep: t for _a, dep, t in starts},
        "next_start": following,
    }


def _dims(c: dict[str, Any]) -> dict[str, str]:
    return {d: v for d, v in c["segment"]}


def _detect(context: dict[str, Any], scope: str) -> list[dict[str, Any]]:
    """Every detector's candidates in one scope."""
    sessions = context["sessions"]
    out: list[dict[str, Any]] = []
    for table in context["tables"]:
        found, tested = scan_table(table, context["grid"], scope, context["deployments"])
        out += found
        context["tested"] = context.get("tested", 0) + tested
    ok = succeeded(sessions).to_numpy(dtype=bool)
    session = context["tables"][0]
    by_name = {m.name: m for m in session.metrics}
    for c in deployment_candidates(sessions, ok, scope):
        if c["metric"] in by_name:
            c["table"], c["metric_ref"] = session, by_name[c["metric"]]
            out.append(c)
    if context["evals"] is not None:
        out += eval_deployment_candidates(context["evals"], sessions, scope)
    is_failed = failed(sessions).to_numpy(dtype=bool)
    out += family_candidates(sessions, context["times"], is_failed, scope)
    return out


def _sized(c: dict[str, Any], context: dict[str, Any]) -> bool:
    """Measure a significant candidate (before/after, effect, sessions, agents) and say
    whether its change is big enough to matter."""
    if c["source"] == "families":
        members = c["members"]
        after_rows = (context["times"] >= c["start_ns"]) & np.isin(context["agents"], c["agents"])
        c["before"], c["after"] = 0.0, c["count"] / max(int(after_rows.sum()), 1)
        c["n_before"], c["n_after"] = c["n_out"], c["n_in"]
        c["sessions"] = c["n_in"]
        c["effect"] = float(2 * np.arcsin(np.sqrt(c["after"])))
        latest = members[np.argsort(-context["times"][members], kind="stable")][:3]
        c["examples"] = [str(context["ids"][i]) for i in latest]
        return True
    measure(c, context["deployment"], context["agent_codes"], context["agent_names"])
    metric = c["metric_ref"]
    if not big_enough(c["metric"], c["before"], c["after"], metric.worse_up):
        return False
    if c["effect"] <= 0:
        return False
    if c["source"] != "deployments" and c["shape"] != "drift" and not c.get("deployment"):
        c["start_ns"], c["start_low"], c["start_high"] = _exact_start(c, context["grid"].width)
    c["examples"] = _examples(c, context)
    return True


def _exact_start(c: dict[str, Any], width: int) -> tuple[int, int | None, int | None]:
    """A window's start made exact: the observation (within a day of the window's start)
    from which the segment changes most (:func:`~._scan.split_at`), and the bounds of its
    confidence set — from the observation before the earliest plausible start to the latest
    plausible one: the change began between them. The window's start and Nones when no split
    qualifies."""
    table: Table = c["table"]
    metric = c["metric_ref"]
    plain = [(d, v) for d, v in c["segment"] if d != "deployment_id"]
    rows = np.flatnonzero(segment_mask(table, plain) & ~np.isnan(metric.score))
    rows = rows[np.argsort(table.t[rows], kind="stable")]
    t = table.t[rows]
    end = c["end_ns"] if c.get("end_ns") is not None else int(t.max()) + 1
    reach = max(2 * width, 24 * _HOUR)
    k, low, high = split_at(
        t, metric.score[rows], c["start_ns"] - reach, c["start_ns"] + reach, end, rate=metric.rate
    )
    if k < 0:
        return int(c["start_ns"]), None, None
    return int(t[k]), (int(t[low - 1]) if low > 0 else None), int(t[high])


def _examples(c: dict[str, Any], context: dict[str, Any], count: int = 3) -> list[str]:
    """Session ids showing a change: inside its window, the events (latest first) of a rate,
    the largest values of a time or cost, the lowest of a score."""
    table: Table = c["table"]
    metric = c["metric_ref"]
    rows = c["rows_in"]
    if metric.rate:
        rows = rows[metric.score[rows] >= 0.5]
        order = np.argsort(-table.t[rows], kind="stable")
    else:
        values = metric.value[rows]
        order = np.argsort(values if not metric.worse_up else -values, kind="stable")
    picked: list[str] = []
    for i in rows[order]:
        sid = str(context["ids"][table.session[i]])
        if sid not in picked:
            picked.append(sid)
        if len(picked) == count:
            break
    return picked


def family_series(c: dict[str, Any], context: dict[str, Any], buckets: int = 90) -> pd.DataFrame:
    """The share of the sessions of the agents a new family hits that have it, per time bucket
    (as :func:`~._rank.bucket_series`)."""
    times, agents = context["times"], context["agents"]
    mine = np.isin(agents, c["agents"])
    origin = context["grid"].origin
    width = max(1, int(np.ceil((context["end_ns"] - origin) / buckets / _HOUR))) * _HOUR
    index = (times[mine] - origin) // width
    has = np.zeros(len(times), dtype=bool)
    has[c["members"]] = True
    frame = pd.DataFrame({"b": index, "v": has[mine].astype("float64")})
    grouped = frame.groupby("b")["v"]
    values, counts = grouped.mean(), grouped.size()
    stamps = pd.to_datetime(
        origin + values.index.to_numpy(dtype=np.int64) * width, utc=True
    ).as_unit("ns")
    return pd.DataFrame(
        {
            "bucket": stamps,
            "value": values.to_numpy(dtype="float64"),
            "count": counts.to_numpy(dtype="int64"),
        }
    )


def _candidate_frame(candidates: list[dict[str, Any]]) -> pd.DataFrame:
    """Every candidate tested, as a frame: source, scope, family, metric, segment (text),
    shape, start/end, p- and q-values, observations inside and outside."""
    if not candidates:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "source": [c["source"] for c in candidates],
            "scope": [c["scope"] for c in candidates],
            "family": [c["family"] for c in candidates],
            "metric": [c["metric"] for c in candidates],
            "segment": [segment_text(c["segment"]) for c in candidates],
            "shape": [c["shape"] for c in candidates],
            "start": pd.to_datetime([c["start_ns"] for c in candidates], utc=True),
            "end": pd.to_datetime(
                [c["end_ns"] if c["end_ns"] is not None else pd.NaT for c in candidates], utc=True
            ),
            "p_value": [10 ** c["log10_p"] for c in candidates],
            "q_value": [10 ** c["log10_q"] for c in candidates],
            "n_in": [c["n_in"] for c in candidates],
            "n_out": [c["n_out"] for c in candidates],
        }
    ).sort_values("q_value", kind="stable", ignore_index=True)
