"""The scope a sync covered: the filters it walked with, as the manifest records them. Pure.

One home for reading a scope out of the manifest, asking whether it covers a load's filters,
and rendering it (``trigger=cron, env=prod``; an agent by its name where the store knows it;
``all`` for an unfiltered sync) — what :meth:`Store.info` and the partial / no-match warnings
show.

May import: nothing of sessionkit. Imported by the reader and the facade.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

AGENT_PARAM = "agentIdentifier"


@dataclass(frozen=True)
class SyncScope:
    """The API filters of one synced scope (``since`` apart), sorted by name, and the time of
    its last completed sync (ISO text, UTC; ``None`` while its first sync is unfinished)."""

    params: tuple[tuple[str, str], ...] = ()
    synced_at: str | None = None

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> SyncScope:
        """The scope of one manifest ``scopes`` entry."""
        params = state.get("params") or {}
        return cls(
            tuple(sorted((str(k), str(v)) for k, v in params.items())), state.get("synced_at")
        )

    @property
    def whole_project(self) -> bool:
        """``True`` when the sync had no filter: the store then holds the whole project."""
        return not self.params

    def covers(self, asked: Mapping[str, str]) -> bool:
        """Whether a load asking for ``asked`` (API parameter → value) reads only sessions this
        scope copied: every filter of the scope is asked for with the same value."""
        return all(asked.get(k) == v for k, v in self.params)

    def describe(self, agent_names: Mapping[str, str] | None = None) -> str:
        """``"k=v, k=v"`` in name order, ``agentIdentifier`` shown as ``agent='name'`` when
        ``agent_names`` (stable id → name) knows it; ``"all"`` for an unfiltered scope."""
        names = agent_names or {}

        def shown(key: str, value: str) -> str:
            if key == AGENT_PARAM and value in names:
                return f"agent={names[value]!r}"
            return f"{key}={value}"

        return ", ".join(shown(k, v) for k, v in self.params) or "all"


def synced_scopes(manifest: Mapping[str, Any]) -> list[SyncScope]:
    """The scopes recorded in ``manifest``, in the order they were first synced."""
    return [SyncScope.from_state(state) for state in manifest["scopes"].values()]


def describe_scopes(
    scopes: Sequence[SyncScope], agent_names: Mapping[str, str] | None = None, limit: int = 3
) -> str:
    """The first ``limit`` scopes' :meth:`SyncScope.describe`, joined with ``"; "``."""
    return "; ".join(scope.describe(agent_names) for scope in scopes[:limit])
