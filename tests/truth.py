"""Generated projects as the findings engine sees them, and whether a finding is a planted
incident (the ground truth of :mod:`sessionkit.emulator.incidents`). Built in process from the
emulator's dataset (no server): the sessions frame as the loaders type it, and the spans and
eval runs of a stratified sample of session details (:func:`sessionkit.analysis.detail_sample`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

import sessionkit as sk
from sessionkit.analysis import detail_sample
from sessionkit.details import details_frames
from sessionkit.emulator.dataset import Dataset

HOUR = pd.Timedelta(hours=1)


def project_frames(
    ds: Dataset, *, budget: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(sessions, spans, eval_runs)`` of ``ds`` as of its now: every session (with ``agent``),
    and the details of :func:`detail_sample` (``budget`` sessions)."""
    frame = sk.sessions_frame(ds.render_sessions(range(len(ds)), ds.now_ns))
    names = {a["identifier"]: a["name"] for a in ds.meta["agents"]}
    frame.insert(
        17,
        "agent",
        pd.Categorical(
            [next((names[x] for x in ids if x in names), None) for ids in frame["agent_ids"]]
        ),
    )
    ids = detail_sample(frame, budget=budget)
    pairs = [(str(i), ds.detail(int(ds.position(str(i))), ds.now_ns)) for i in ids]
    parts = details_frames(pairs, False, frozenset({"spans", "eval_runs"}))
    return frame, parts["spans"], parts["eval_runs"]


def matches(finding: pd.Series, incident: dict[str, Any]) -> bool:
    """Whether ``finding`` (a row of ``Findings.table``) reports the planted ``incident``: the
    same kind, the incident's agent among the finding's (when it has one), and a start that
    fits: a new family's first planted failure (within 2 hours); a drift's ramp (within 3 days,
    or the finding's dates inside it); a deployment's first session within 12 hours after the
    planted start; otherwise the planted start inside the finding's dating
    ``start_low``..``start_high`` (3 hours either side)."""
    kinds = {finding["kind"], incident["kind"]}
    if finding["kind"] != incident["kind"] and not kinds <= {"failure", "new_error_family"}:
        return False
    if incident["agent"] and incident["agent"] not in set(finding["agents"] or []):
        return False
    start = pd.Timestamp(incident["start"])
    found, low, high = (pd.Timestamp(finding[k]) for k in ("start", "start_low", "start_high"))
    if finding["kind"] == "new_error_family":
        return incident.get("first_seen") is not None and (
            abs(found - pd.Timestamp(incident["first_seen"])) <= 2 * HOUR
        )
    if incident["when"] == "drift":
        end = pd.Timestamp(incident["end"])
        return abs(found - start) <= pd.Timedelta(days=3) or (
            low <= end + pd.Timedelta(days=1) and found >= start - pd.Timedelta(days=1)
        )
    if not pd.isna(finding["deployment_id"]):
        return found - 12 * HOUR <= start <= found + 3 * HOUR
    return low - 3 * HOUR <= start <= max(found, high) + 3 * HOUR


def localised(finding: pd.Series, incident: dict[str, Any]) -> bool:
    """Whether ``finding`` names the planted incident's place: its agent alone (agent), its
    deployment, or its value (a host, store, model, trigger, env or metadata value) in the
    finding's subject or cause."""
    if incident["where"] == "agent":
        return set(finding["agents"] or []) == {incident["agent"]}
    if incident["where"] == "deployment":
        return finding["deployment_id"] == incident["deployment_id"]
    value = (
        incident["subject"].split("=")[-1]
        if incident["where"] == "metadata"
        else incident["subject"]
    )
    text = " ".join(str(finding[k]) for k in ("subject", "cause") if not pd.isna(finding[k]))
    return value in text
