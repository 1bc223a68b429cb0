"""Pure: session detail objects (``GET /session/{id}``) → frames, and agent names. No I/O.

Used by the loaders and by the store's sync, so both build exactly the same frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from . import frames, schema
from .spans import spans_frame

__all__ = ["MAX_AGENT_LOOKUPS", "details_frames", "learn_agent_names", "routes_frame"]

#: At most this many session details are fetched to name the agents of a sessions frame.
MAX_AGENT_LOOKUPS = 500


def learn_agent_names(detail: Mapping[str, Any], names: dict[str, str]) -> None:
    """Add identifier → name pairs from one session detail to ``names``."""
    agents = [a for a in _list(detail.get("agents")) if isinstance(a, Mapping)]
    for agent in agents:
        if isinstance(agent.get("identifier"), str) and isinstance(agent.get("name"), str):
            names.setdefault(agent["identifier"], agent["name"])
    distinct = {a.get("name") for a in agents if isinstance(a.get("name"), str)}
    if len(distinct) == 1:  # one agent: every id the session carries is that agent
        (only,) = distinct
        for agent_id in _list(detail["session"].get("agent_ids")):
            if isinstance(agent_id, str):
                names.setdefault(agent_id, str(only))


def details_frames(
    pairs: list[tuple[str, dict[str, Any]]], strict: bool, want: frozenset[str]
) -> dict[str, pd.DataFrame]:
    """Typed frames of ``(session id, detail)`` pairs, keyed by entity: those of ``want``
    among ``sessions``, ``eval_runs``, ``spans``, ``agents`` and ``routes``."""
    out: dict[str, pd.DataFrame] = {}
    if "sessions" in want:
        out["sessions"] = frames.sessions_frame([d["session"] for _, d in pairs], strict=strict)
    if "eval_runs" in want:
        out["eval_runs"] = frames.eval_runs_frame(
            ((sid, run) for sid, d in pairs for run in _list(d.get("eval_runs"))), strict=strict
        )
    if "spans" in want:
        out["spans"] = spans_frame(
            ((sid, d["session"].get("timeline")) for sid, d in pairs), strict=strict
        )
    if "agents" in want:
        out["agents"] = frames.agents_frame(
            ((sid, a) for sid, d in pairs for a in _list(d.get("agents"))), strict=strict
        )
    if "routes" in want:
        out["routes"] = routes_frame(pairs)
    return out


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def routes_frame(pairs: list[tuple[str, dict[str, Any]]]) -> pd.DataFrame:
    """One row per session whose detail has a route: id, HTTP method (upper case), path."""
    rows = []
    for sid, d in pairs:
        route = d.get("route")
        if isinstance(route, Mapping):
            method = route.get("method")
            rows.append(
                {
                    "session_id": sid,
                    "route_id": route.get("id"),
                    "method": method.upper() if isinstance(method, str) else None,
                    "path": route.get("path"),
                }
            )
    frame = pd.DataFrame(rows, columns=["session_id", "route_id", "method", "path"])
    return frame.astype(
        {
            "session_id": schema.STRING,
            "route_id": "category",
            "method": "category",
            "path": schema.STRING,
        }
    )
