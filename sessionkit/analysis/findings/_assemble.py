"""One finding from the candidates of one incident: what to name it by (a deployment, a call
target, an error family, a segment), since when, and the sentence a person reads."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...status import failed, succeeded
from ._rank import cause, lead, rank_score, summarise
from ._result import change_text, evidence_text, metric_words, value_text, when_text


def segment_text(segment: tuple[tuple[str, str], ...]) -> str:
    """A segment as a person names it: ``support-triage``, ``trigger email``,
    ``customer_tier=enterprise``, ``calls to api.example.com``, ``eval tone (support-triage)``,
    ``all sessions``."""
    dims = dict(segment)
    if "error" in dims:
        return f"error family {dims['error']}"
    parts = []
    if "call" in dims:
        kind, _, name = dims["call"].partition(" ")
        prefix = {"host": "calls to ", "model": "calls to model ", "store": "store "}.get(kind, "")
        parts.append(prefix + name)
    if "eval" in dims:
        parts.append(f"eval {dims['eval']}")
    if "agent" in dims and not ("call" in dims or "eval" in dims):
        parts.append(dims["agent"])
    for dim, value in segment:
        if dim in ("agent", "call", "eval", "error", "deployment_id"):
            continue
        name = dim.removeprefix("metadata.")
        parts.append(f"{dim} {value}" if dim in ("trigger", "env") else f"{name}={value}")
    if "agent" in dims and ("call" in dims or "eval" in dims):
        parts.append(f"({dims['agent']})")
    return " ".join(parts) if parts else "all sessions"


def _dims(c: dict[str, Any]) -> dict[str, str]:
    return {d: v for d, v in c["segment"]}


def _deployment(members: list[dict[str, Any]], head: dict[str, Any], slack: int) -> str | None:
    """The deployment an incident came with: the one its lead's scan dated it at, or the lead's
    own; else the one a candidate of the same kind dated it at, or a deployment candidate of
    the same kind, starting within ``slack`` ns of the lead."""
    if head.get("deployment"):
        return str(head["deployment"])
    if head["source"] == "deployments":
        return _dims(head)["deployment_id"]
    for c in members:
        if c["family"] != head["family"] or abs(c["start_ns"] - head["start_ns"]) > slack:
            continue
        if c.get("deployment"):
            return str(c["deployment"])
        if c["source"] == "deployments":
            return _dims(c)["deployment_id"]
    return None


def assemble(members: list[dict[str, Any]], context: dict[str, Any]) -> dict[str, Any]:
    """The row of :class:`~._result.Findings` of one incident (its candidates, strongest first)
    and, under ``_series``, the candidate whose series its chart shows."""
    head = lead(members)
    kind = head["family"]
    why = cause(members, kind)
    deployment = _deployment(members, head, context["tolerance"])
    if why is not None and deployment is None:  # the call dates and proves the change
        head = {**why, "source": "calls"}
    agents = list(head.get("agents") or [])
    start_ns = int(head["start_ns"])
    if deployment is not None:
        start_ns = context["deployment_start"].get(deployment, start_ns)
    start = pd.Timestamp(start_ns, tz="UTC")
    earliest = latest = None  # sparse data dates a change only between two times
    if deployment is None and head.get("start_low") is not None:
        earliest = pd.Timestamp(head["start_low"], tz="UTC")
        latest = pd.Timestamp(head.get("start_high") or start_ns, tz="UTC")
        if latest - earliest <= pd.Timedelta(hours=3):
            earliest = latest = None
    end = pd.Timestamp(head["end_ns"], tz="UTC") if head.get("end_ns") is not None else None
    fixed_by = None
    if end is not None and len(agents) == 1:  # a recovery that came with the next deployment
        near = [
            (abs(t - end.value), d)
            for t, d in context["deployments"].get(agents[0], [])
            if abs(t - end.value) <= context["tolerance"] and t > start_ns
        ]
        if near:
            fixed_by = min(near)[1]
            end = pd.Timestamp(context["deployment_start"][fixed_by], tz="UTC")
    shape = head["shape"]
    if deployment is not None and shape == "step":
        shape = "deployment"
    sessions = max(int(c.get("sessions", 0)) for c in members)
    q = 10 ** head["log10_q"]
    when = when_text(shape, start, end, earliest, latest)
    if fixed_by is not None:
        when = when.replace("(recovered)", f"(recovered with deployment {fixed_by})")
    with_deploy = f", with deployment {deployment}" if deployment is not None else ""
    tail = f" ({evidence_text(q)}, {sessions:,} sessions)"
    also = _also(members, head)
    base = segment_text(tuple((d, v) for d, v in head["segment"] if d != "deployment_id"))
    if kind == "new_error_family":
        template = head["segment"][0][1]
        who = ", ".join(head.get("agents") or []) or "no agent"
        hosts = f"; hosts: {', '.join(head['hosts'])}" if head.get("hosts") else ""
        subject = f"error family {template}"
        sentence = (
            f'new error family {when}: "{template}" — {head["count"]:,} failed sessions of '
            f"{who} ({value_text('new_error_family', head['after'])} of their sessions since){hosts}{also}{tail}"
        )
    elif why is not None and deployment is None:
        target = segment_text((("call", _dims(why)["call"]),))
        subject = target
        agents = sorted(set(agents) | set(why.get("agents") or []))
        head_text = f"{', '.join(agents)}: " if agents else ""
        size = _call_change(why)
        impact = _impact(members, kind) or _measured_impact(why, agents, context)
        if impact is not None:
            sentence = (
                f"{head_text}{change_text(impact['metric'], impact['before'], impact['after'])} "
                f"{when}; {target} {size}{also}{tail}"
            )
        else:
            sentence = f"{head_text}{target} {size} {when}{also}{tail}"
    else:
        subject = base + (f" (deployment {deployment})" if deployment is not None else "")
        what = change_text(head["metric"], head["before"], head["after"])
        extra = ""
        if why is not None:
            extra += f"; {segment_text((('call', _dims(why)['call']),))} {_call_change(why)}"
        if kind == "eval":
            rates = _failure_rates(head, context)
            if rates is not None:
                extra += (
                    f"; the sessions' failure rate {value_text('failure_rate', rates[0])} -> "
                    f"{value_text('failure_rate', rates[1])}"
                )
        sentence = f"{base}: {what} {when}{with_deploy}{extra}{also}{tail}"
    before, after = head["before"], head["after"]
    return {
        "kind": kind,
        "scope": head["scope"],
        "subject": subject,
        "agents": agents,
        "deployment_id": deployment,
        "cause": (
            segment_text((("call", _dims(why)["call"]),))
            if why is not None
            else ", ".join(head["hosts"])
            if kind == "new_error_family" and head.get("hosts")
            else None
        ),
        "metric": head["metric"],
        "before": before,
        "after": after,
        "ratio": after / before if before else float("nan"),
        "n_before": head["n_before"],
        "n_after": head["n_after"],
        "effect": head["effect"],
        "p_value": 10 ** head["log10_p"],
        "q_value": q,
        "evidence": -head["log10_q"],
        "score": rank_score(head["log10_q"], head["effect"]),
        "shape": shape,
        "start": start,
        "start_low": earliest if earliest is not None else start,
        "start_high": latest if latest is not None else start,
        "end": end,
        "sessions": sessions,
        "examples": list(head.get("examples", [])),
        "sentence": sentence,
        "_series": (why if why is not None and deployment is None else head)
        if "table" in head or "members" in head
        else None,
    }


def _call_change(c: dict[str, Any]) -> str:
    """``4.1x slower`` for a call's time, ``failing 0.0% -> 26.0%`` for its errors."""
    if c["family"] == "latency" and c["before"] and np.isfinite(c["after"]):
        return f"{c['after'] / c['before']:.1f}x slower"
    if c["metric"] == "call_error_rate":
        return f"failing {value_text('failure_rate', c['before'])} -> {value_text('failure_rate', c['after'])}"
    return f"{metric_words(c['metric'])} {value_text(c['metric'], c['before'])} -> {value_text(c['metric'], c['after'])}"


def _impact(members: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    """The strongest session-level candidate of ``kind`` (what the incident did to whole
    sessions), preferring the p95 duration for latency."""
    mine = [
        c for c in members if c["family"] == kind and c["source"] in ("sessions", "deployments")
    ]
    if not mine:
        return None
    whole = [c for c in mine if set(_dims(c)) <= {"agent", "deployment_id"}] or mine
    tail = [c for c in whole if c["metric"] == "p95_duration"]
    return tail[0] if tail else whole[0]


def _measured_impact(
    call: dict[str, Any], agents: list[str], context: dict[str, Any]
) -> dict[str, Any] | None:
    """What a call's change did to its agents' whole sessions, measured (not tested apart): the
    p95 duration (or failure rate) of their sessions before the change and during it."""
    table = context["tables"][0]
    name = "p95_duration" if call["family"] == "latency" else "failure_rate"
    metric = next((m for m in table.metrics if m.name == name), None)
    if metric is None or not agents:
        return None
    mine = np.isin(context["agents"][table.session], agents) & ~np.isnan(metric.value)
    end = call["end_ns"] if call.get("end_ns") is not None else np.iinfo(np.int64).max
    inside = mine & (table.t >= call["start_ns"]) & (table.t < end)
    outside = mine & (table.t < (call.get("start_low") or call["start_ns"]))
    if not inside.any() or not outside.any():
        return None
    return {
        "metric": name,
        "before": summarise(metric, outside),
        "after": summarise(metric, inside),
    }


def _also(members: list[dict[str, Any]], head: dict[str, Any]) -> str:
    """``; also eval tone pass rate 93% -> 70%``: the strongest candidate of another kind."""
    other = [
        c
        for c in members
        if c["family"] not in (head["family"], "new_error_family") and c.get("before") is not None
    ]
    if head["family"] == "new_error_family":
        other = [
            c for c in members if c["family"] == "failure" and c["source"] == "sessions"
        ] or other
    if not other:
        return ""
    c = other[0]
    where = segment_text(tuple((d, v) for d, v in c["segment"] if d != "deployment_id"))
    if c["source"] == "calls":
        return f"; also {where} {_call_change(c)}"
    return f"; also {where} {change_text(c['metric'], c['before'], c['after'])}"


def _failure_rates(c: dict[str, Any], context: dict[str, Any]) -> tuple[float, float] | None:
    """Failure rates of the sessions of an eval change's agents (all of them, not only those
    judged): before its start and during it."""
    agents = list(c.get("agents") or [])
    if not agents:
        return None
    is_failed = failed(context["sessions"]).to_numpy(dtype=bool)
    known = is_failed | succeeded(context["sessions"]).to_numpy(dtype=bool)
    mine = np.isin(context["agents"], agents) & known
    t = context["times"]
    end = c["end_ns"] if c.get("end_ns") is not None else np.iinfo(np.int64).max
    inside, outside = mine & (t >= c["start_ns"]) & (t < end), mine & (t < c["start_ns"])
    if not inside.any() or not outside.any():
        return None
    return float(is_failed[outside].mean()), float(is_failed[inside].mean())
