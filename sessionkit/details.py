"""Pure: session detail objects (``GET /session/{id}``) → frames. No I/O.

Used by the loaders and by the store's sync, so both build exactly the same frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from . import frames, schema
from .spans import spans_frame

__all__ = ["details_frames", "routes_frame"]


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
    cols = schema.ROUTE_COLUMNS
    frame = pd.DataFrame(rows, columns=[c.name for c in cols])
    return frame.astype({c.name: c.dtype for c in cols})
