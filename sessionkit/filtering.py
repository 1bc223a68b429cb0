"""Pure filtering of a sessions frame: the logic behind the filter panel, usable on its own.

:func:`filter_frame` takes the sessions frame and keyword criteria and returns the matching
rows (a view-free copy, index preserved). It is vectorised so a change of criteria on 100k
sessions costs milliseconds; :class:`FilterIndex` precomputes what is costly (lower-cased error
text) once per frame for repeated calls.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .agents import agent_kind, sessions_with_any
from .errors import InvalidArgumentError
from .status import STATUSES, session_status


@dataclass
class FilterIndex:
    """Per-frame precomputation for fast repeated filtering."""

    sessions: pd.DataFrame
    error_lower: pd.Series = field(init=False)
    status: pd.Series = field(init=False)

    def __post_init__(self) -> None:
        self.error_lower = self.sessions["error"].str.lower()
        self.status = session_status(self.sessions)


def _in(series: pd.Series, values: Collection[Any] | None) -> np.ndarray | None:
    if values is None:
        return None
    values = list(values)
    if not values:
        return None
    return series.isin(values).to_numpy(dtype=bool)


def _between(series: pd.Series, low: object, high: object) -> np.ndarray | None:
    mask: np.ndarray | None = None
    if low is not None:
        mask = (series >= low).fillna(False).to_numpy(dtype=bool)
    if high is not None:
        upper = (series <= high).fillna(False).to_numpy(dtype=bool)
        mask = upper if mask is None else mask & upper
    return mask


def _agents(sessions: pd.DataFrame, agents: Collection[str] | None) -> np.ndarray | None:
    """Mask of the sessions any of ``agents`` (names or ids, see :func:`agent_kind`) took
    part in, as ``load_sessions(agent=)`` selects them: a name stands for the stable id its
    sessions in this frame carry (``agent_id``), so sessions where the agent was called by
    another one count too. ``None`` when no agent is asked for."""
    if not agents:
        return None
    kinds: dict[str, list[str]] = {"name": [], "stable": [], "deployment": []}
    for value in agents:
        if not isinstance(value, str):
            raise InvalidArgumentError(f"agents must be names or ids (text), got {value!r}")
        kinds[agent_kind(value)].append(value)
    mask = np.zeros(len(sessions), dtype=bool)
    if kinds["name"]:
        if "agent" not in sessions.columns:
            raise InvalidArgumentError(
                f"agents={kinds['name']!r} are names, but this frame has no 'agent' column "
                "(loaded with agent_names=False?); pass agent ids, or load with agent names"
            )
        named = sessions["agent"].isin(kinds["name"]).to_numpy(dtype=bool)
        mask |= named
        if "agent_id" in sessions.columns:  # a name means its agent's stable id, as in
            # load_sessions(agent=): every session the agent took part in, nested calls too
            stable = sessions.loc[named, "agent_id"].dropna().astype(str).unique().tolist()
            kinds["stable"] += [i for i in stable if i not in kinds["stable"]]
    ids = kinds["stable"] + kinds["deployment"]
    if ids:
        mask |= sessions_with_any(sessions["agent_ids"], ids)
    return mask


def filter_frame(
    sessions: pd.DataFrame,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    agents: Collection[str] | None = None,
    triggers: Collection[str] | None = None,
    envs: Collection[str] | None = None,
    deployments: Collection[str] | None = None,
    statuses: Collection[str] | None = None,
    devmode: bool | None = None,
    min_cost: float | None = None,
    max_cost: float | None = None,
    min_duration: pd.Timedelta | None = None,
    max_duration: pd.Timedelta | None = None,
    error_text: str | None = None,
    metadata: Mapping[str, object] | None = None,
    index: FilterIndex | None = None,
) -> pd.DataFrame:
    """Rows of ``sessions`` matching every given criterion (``None``/empty means "any").

    ``agents`` holds names (the ``agent`` column), stable ids ``agent_…`` or per-deployment ids
    ``agentid_…`` — the values ``load_sessions(agent=)`` takes — and keeps the sessions any of
    them took part in; a name on a frame without names raises.
    ``start <= start_time < end`` (aware timestamps); ``triggers``/``envs``/
    ``deployments``/``statuses`` are sets of allowed values (statuses from ``succeeded``,
    ``failed``, ``pending``); cost bounds are inclusive, in USD (``total_cost``); duration bounds
    inclusive; ``error_text`` is a case-insensitive substring of ``error``; ``metadata`` maps a
    key (with or without the ``metadata.`` prefix) to the value it must equal.
    """
    for name, stamp in (("start", start), ("end", end)):
        if stamp is not None and pd.Timestamp(stamp).tzinfo is None:
            raise InvalidArgumentError(f"{name} must be time-zone aware (UTC), got {stamp!r}")
    if statuses is not None and set(statuses) - set(STATUSES):
        raise InvalidArgumentError(
            f"statuses must be among {', '.join(STATUSES)}, got {sorted(statuses)}"
        )
    if index is None or index.sessions is not sessions:
        index = FilterIndex(sessions)
    mask = np.ones(len(sessions), dtype=bool)
    parts = [
        _between(sessions["start_time"], start, None),
        None if end is None else (sessions["start_time"] < end).fillna(False).to_numpy(dtype=bool),
        _agents(sessions, agents),
        _in(sessions["trigger"], triggers),
        _in(sessions["env"], envs),
        _in(sessions["deployment_id"], deployments),
        _in(index.status, statuses),
        None
        if devmode is None
        else sessions["devmode"].eq(devmode).fillna(False).to_numpy(dtype=bool),
        _between(sessions["total_cost"], min_cost, max_cost),
        _between(sessions["duration"], min_duration, max_duration),
    ]
    if error_text:
        parts.append(
            index.error_lower.str.contains(error_text.lower(), regex=False)
            .fillna(False)
            .to_numpy(dtype=bool)
        )
    for key, value in (metadata or {}).items():
        column = key if key.startswith("metadata.") else f"metadata.{key}"
        if column not in sessions.columns:
            raise InvalidArgumentError(
                f"no metadata column {column!r}; available: "
                + ", ".join(c for c in sessions.columns if c.startswith("metadata."))
                or "none"
            )
        parts.append(
            sessions[column].astype("string").eq(str(value)).fillna(False).to_numpy(dtype=bool)
        )
    for part in parts:
        if part is not None:
            mask &= part
    return sessions[mask]


def summarise(sessions: pd.DataFrame) -> dict[str, float | int]:
    """Headline numbers of a (filtered) frame: ``sessions``, ``total_cost`` (USD),
    ``failed``, ``completed`` and ``failure_rate`` (0..1 of completed; NaN when none)."""
    status = session_status(sessions)
    completed = int(status.isin(("succeeded", "failed")).sum())
    failed = int((status == "failed").sum())
    return {
        "sessions": len(sessions),
        "total_cost": float(sessions["total_cost"].sum()),
        "completed": completed,
        "failed": failed,
        "failure_rate": failed / completed if completed else float("nan"),
    }
