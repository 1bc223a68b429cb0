"""Agents: their ids, their names, and what ``agent=`` means. Pure; I/O comes in as callbacks.

A session's ``agent_ids`` holds, for every agent that ran in it (nested calls included), a
stable id ``agent_<40hex>`` and a per-deployment id ``agentid_<40hex>``. The list endpoint sends
ids only; names come from the ``agents`` of session details (``{"name", "identifier"}``, the
identifier being the stable id). :class:`AgentNames` is the one naming algorithm, used by the
loaders (on pandas frames) and by the store's sync (on Arrow tables).

``agent=`` in every loader, ``Store.load_sessions``, ``sessionkit report --agent`` and
``sessionkit sync --agent`` accepts an agent's *name*, its stable id or one of its
per-deployment ids, and selects every session that agent took part in — the API's
``agentIdentifier`` semantics (a session is selected when the id is anywhere in its
``agent_ids``), so a session of ``research-assistant`` that called ``doc-extractor`` is among
``doc-extractor``'s sessions too, although its ``agent`` column (the first, calling agent)
says ``research-assistant``. Names and per-deployment ids are resolved to the stable id first,
because only the stable id is in every one of the agent's sessions.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InvalidArgumentError, SchemaWarning, scrub
from .errors import warn as errors_warn
from .params import SessionFilters, askable_session_id
from .schema import STRING

__all__ = [
    "MAX_AGENT_LOOKUPS",
    "AgentNames",
    "AmbiguousAgentError",
    "UnknownAgentError",
    "agent_kind",
    "page_rows",
    "resolve_agent",
    "sessions_with_any",
    "stable_agent_ids",
    "unknown_agent",
    "with_agent_id",
]

#: The column holding each session's stable agent id (inserted after ``agent_ids``).
AGENT_ID = "agent_id"

#: At most this many session details are fetched to name the agents of one load or sync.
MAX_AGENT_LOOKUPS = 500

STABLE_PREFIX = "agent_"
DEPLOYMENT_PREFIX = "agentid_"

#: ``fetch(session_ids)`` → one detail per id, in order; ``None`` where the session is gone.
FetchDetails = Callable[[list[str]], Sequence[Mapping[str, Any] | None]]


class UnknownAgentError(InvalidArgumentError):
    """``agent=`` names no agent of the sessions selected (``known`` lists the names seen)."""

    def __init__(self, message: str, *, known: Sequence[str] = ()) -> None:
        self.known = tuple(scrub(k) for k in known)  # names come from the server
        super().__init__(message)


class AmbiguousAgentError(InvalidArgumentError):
    """``agent=`` is a name two or more agents share (``ids``: their stable ids)."""

    def __init__(self, message: str, *, ids: Sequence[str] = ()) -> None:
        self.ids = tuple(scrub(i) for i in ids)
        super().__init__(message)


#: At most this many names (or ids) are listed in an error message.
MAX_LISTED = 20


_STABLE_ID = re.compile(r"agent_[0-9a-fA-F]{16,}")
_DEPLOYMENT_ID = re.compile(r"agentid_[0-9a-fA-F]{16,}")


def agent_kind(value: str) -> Literal["stable", "deployment", "name"]:
    """What an ``agent=`` value is: a stable id (``agent_`` + hex), a per-deployment id
    (``agentid_`` + hex) or a name — ``agent_smith`` is a name (ids are 16 or more hex digits
    after the prefix; the API's are 40)."""
    if _DEPLOYMENT_ID.fullmatch(value):
        return "deployment"
    if _STABLE_ID.fullmatch(value):
        return "stable"
    return "name"


def _lists(values: pa.Array | pa.ChunkedArray | Iterable[Any]) -> pa.ListArray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(list(values), type=pa.list_(pa.string()))
    if not pa.types.is_list(values.type):
        raise TypeError(f"agent_ids must be a list<string> column, not {values.type}")
    return values


def _first_per_session(lists: pa.ListArray, values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per session (list) of ``lists``, the first of ``values`` (one per flattened element)
    where ``keep`` holds, else ``None``; an object array, one value per session."""
    parents = pc.list_parent_indices(lists).to_numpy()
    hits = np.flatnonzero(keep)
    rows, first = np.unique(parents[hits], return_index=True)  # parents never decrease
    out = np.full(len(lists), None, dtype=object)
    out[rows] = values[hits[first]]
    return out


def stable_agent_ids(agent_ids: pa.Array | pa.ChunkedArray | Iterable[Any]) -> pa.Array:
    """Per session, the first stable id (``agent_…``) in its ``agent_ids`` — the id of the
    session's own (calling) agent — or null; a string array, one value per session."""
    lists = _lists(agent_ids)
    flat = pc.list_flatten(lists)
    is_stable = pc.fill_null(pc.starts_with(flat, STABLE_PREFIX), False).to_numpy(
        zero_copy_only=False
    )
    values = flat.to_numpy(zero_copy_only=False)
    return pa.array(_first_per_session(lists, values, is_stable), pa.string())


def with_agent_id(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (sessions, with ``agent_ids``) with an ``agent_id`` category column after
    ``agent_ids`` (and after ``agent`` when there is one): each session's stable id
    (:func:`stable_agent_ids`), missing when it has none. Replaces an existing ``agent_id``
    column; returns a new frame."""
    frame = frame.drop(columns=AGENT_ID, errors="ignore")
    values = (
        stable_agent_ids(pa.array(frame["agent_ids"].array, type=pa.list_(pa.string())))
        if len(frame)
        else pa.array([], pa.string())
    )
    column = pd.Series(string_category(values), index=frame.index)
    after = "agent" if "agent" in frame.columns else "agent_ids"
    frame.insert(frame.columns.get_loc(after) + 1, AGENT_ID, column)
    return frame


def string_category(values: pa.Array) -> pd.Categorical:
    """A string array as a categorical with sorted ``string`` categories (what
    ``.astype("category")`` gives on a ``string`` Series), built without a Python object per
    row: dictionary-encoded in Arrow, codes mapped to the sorted categories in numpy."""
    encoded = pc.dictionary_encode(values)
    uniques = encoded.dictionary.to_pylist()
    order = np.argsort(np.array(uniques, dtype=object)) if uniques else np.array([], int)
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[order] = np.arange(len(uniques))
    indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    codes = np.where(indices >= 0, rank[indices.clip(min=0)], -1) if uniques else indices
    categories = pd.Index(pd.array([uniques[i] for i in order], dtype=STRING))
    return pd.Categorical.from_codes(codes, categories=categories)


def sessions_with_any(
    agent_ids: pa.Array | pa.ChunkedArray | Iterable[Any], wanted: Iterable[str]
) -> np.ndarray:
    """Boolean mask: sessions whose ``agent_ids`` contain any id of ``wanted``."""
    lists = _lists(agent_ids)
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy()
    hit = pc.fill_null(pc.is_in(flat, pa.array(sorted(set(wanted)), pa.string())), False)
    mask = np.zeros(len(lists), dtype=bool)
    mask[parents[hit.to_numpy(zero_copy_only=False)]] = True
    return mask


class AgentNames:
    """Agent id → name, learned from session details; ``names`` may be shared (the store keeps
    it in its manifest). Ids that could not be named are remembered in :attr:`unnamed`."""

    def __init__(self, names: dict[str, str] | None = None) -> None:
        self.names: dict[str, str] = names if names is not None else {}
        #: per-deployment id → the stable id of its agent, where a detail showed the pair
        self.stable_of: dict[str, str] = {}
        self.unnamed: set[str] = set()
        self.lookups = 0
        self.gone = 0

    def learn(self, detail: Mapping[str, Any]) -> None:
        """Add the id → name pairs of one session detail."""
        agents = [a for a in _as_list(detail.get("agents")) if isinstance(a, Mapping)]
        for agent in agents:
            if isinstance(agent.get("identifier"), str) and isinstance(agent.get("name"), str):
                self.names.setdefault(agent["identifier"], agent["name"])
        session = detail.get("session")
        if len(agents) != 1 or not isinstance(session, Mapping):
            return
        (agent,) = agents
        carried = [a for a in _as_list(session.get("agent_ids")) if isinstance(a, str)]
        stable = {a for a in carried if agent_kind(a) == "stable"}
        name, identifier = agent.get("name"), agent.get("identifier")
        if isinstance(name, str) and stable == {identifier}:
            # one agent, and the session carries no other agent's stable id: its other ids
            # (per deployment) are that agent's. A detail listing only the caller of a session
            # with nested calls names nothing more (it would misname the nested agent's ids).
            for agent_id in carried:
                self.names.setdefault(agent_id, name)
                if agent_kind(agent_id) == "deployment":
                    self.stable_of.setdefault(agent_id, str(identifier))

    def known(self) -> list[str]:
        """The distinct names learned, sorted."""
        return sorted(set(self.names.values()))

    def ids_of(self, name: str) -> set[str]:
        """Every id known to belong to the agent called ``name``."""
        return {i for i, n in self.names.items() if n == name}

    def name(
        self,
        agent_ids: pa.Array | pa.ChunkedArray | Iterable[Any],
        session_ids: Sequence[str],
        fetch: FetchDetails,
        *,
        budget: int = MAX_AGENT_LOOKUPS,
        rounds: int = 3,
    ) -> None:
        """Learn the names of the ids in ``agent_ids`` (one list per session of
        ``session_ids``) not known yet, by fetching one detail per unnamed agent (a session
        names both ids of its agent) — at most ``budget`` details over the life of this
        object (one load or one sync), and a second or third session of an id only when the
        first did not name it (its detail said nothing, or ``fetch`` returned ``None``: the
        session was deleted). Ids still unnamed after that are added to :attr:`unnamed` and
        reported by a :class:`SchemaWarning`; their sessions get a missing name, the load goes
        on."""
        lists = _lists(agent_ids)
        flat = pc.list_flatten(lists).to_pylist()
        parents = pc.list_parent_indices(lists).to_numpy().tolist()
        unknown = [a for a in dict.fromkeys(flat) if a not in self.names and a not in self.unnamed]
        if not unknown:
            return
        wanted = list(unknown)
        wanted_set = set(wanted)
        sessions_of: dict[str, list[str]] = {}
        for agent_id, row in zip(flat, parents, strict=True):
            # a session whose id cannot be asked for (null, numeric, holding a space or '#')
            # names nobody: another session of the agent is looked up instead
            if agent_id in wanted_set and askable_session_id(session_ids[row]) is not None:
                sessions_of.setdefault(agent_id, []).append(session_ids[row])
            elif agent_id in wanted_set:
                sessions_of.setdefault(agent_id, [])
        looked: set[str] = set()
        capped = False
        for _ in range(rounds):
            lookup = list(
                dict.fromkeys(
                    next(s for s in sessions_of[a] if s not in looked)
                    for a in wanted
                    if any(s not in looked for s in sessions_of[a])
                )
            )
            room = max(0, budget - self.lookups)
            capped = capped or len(lookup) > room
            lookup = lookup[:room]
            if not lookup:
                break
            looked.update(lookup)
            self.lookups += len(lookup)
            for detail in fetch(lookup):
                if detail is None:
                    self.gone += 1
                else:
                    self.learn(detail)
            wanted = [a for a in wanted if a not in self.names]
            if not wanted:
                break
        missing = [a for a in unknown if a not in self.names]
        self.unnamed.update(missing)
        if not missing:
            return
        # an id without a name is harmless while another id of the session names it
        rows_named = np.zeros(len(lists), dtype=bool)
        rows_with_ids = np.zeros(len(lists), dtype=bool)
        for agent_id, row in zip(flat, parents, strict=True):
            rows_with_ids[row] = True
            if agent_id in self.names:
                rows_named[row] = True
        nameless = int((rows_with_ids & ~rows_named).sum())
        if nameless:
            why = (
                f"{self.gone} looked-up session(s) were gone (404)"
                if self.gone
                else "their session details did not name them"
            )
            if capped:
                why += f"; at most {budget} session details are looked up per load or sync"
            errors_warn(
                f"agent names: {nameless:,} session(s) have agent ids that could not be named "
                f"({why}), e.g. {missing[0]}; their agent name is missing (agent_ids and "
                "agent_id are complete).",
                SchemaWarning,
                stacklevel=3,
            )

    def labels(self, agent_ids: pa.Array | pa.ChunkedArray | Iterable[Any]) -> list[str | None]:
        """Per session, the name of the first id in its ``agent_ids`` whose name is known."""
        lists = _lists(agent_ids)
        keys = pa.array(list(self.names), pa.string())
        where = pc.index_in(pc.list_flatten(lists), value_set=keys)
        known = where.is_valid().to_numpy(zero_copy_only=False)
        names = pa.array(list(self.names.values()), pa.string()).take(where)
        return _first_per_session(lists, names.to_numpy(zero_copy_only=False), known).tolist()

    def stable_for(self, value: str) -> str | None:
        """The stable id ``agent=value`` designates (a name, a stable or a per-deployment
        id; :func:`agent_kind`), if known: a stable id is itself; a deployment id the stable id
        a detail paired it with, else its name's (``None`` when two agents share that name: the
        caller then matches the deployment id as given); a name :meth:`stable_id_of` (which
        raises when two agents share it)."""
        kind = agent_kind(value)
        if kind == "stable":
            return value
        if kind == "deployment":
            if value in self.stable_of:
                return self.stable_of[value]
            name = self.names.get(value)
            try:
                return self.stable_id_of(name) if name is not None else None
            except AmbiguousAgentError:  # twins: that deployment's own sessions, by its id
                return None
        return self.stable_id_of(value)

    def stable_id_of(self, name: str) -> str | None:
        """The stable id of the agent called ``name``, if learned. Two agents of one name
        raise :class:`AmbiguousAgentError` listing their stable ids."""
        ids = sorted(i for i in self.ids_of(name) if agent_kind(i) == "stable")
        if len(ids) > 1:
            raise AmbiguousAgentError(
                f"agent={name!r} is the name of {len(ids)} agents (stable ids "
                f"{', '.join(ids[:MAX_LISTED])}{' ...' if len(ids) > MAX_LISTED else ''}); "
                "pass the stable id (agent_…) of the one you mean.",
                ids=ids,
            )
        return ids[0] if ids else None


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def unknown_agent(value: str, known: Sequence[str], where: str) -> UnknownAgentError:
    """The error for an ``agent=`` name that matches no agent of ``where``."""
    listed = ", ".join(repr(k[:80]) for k in known[:MAX_LISTED]) if known else "none"
    if len(known) > MAX_LISTED:
        listed += f" and {len(known) - MAX_LISTED:,} more (all in the error's .known)"
    return UnknownAgentError(
        f"agent={value[:80]!r} matches no agent in {where}; the agents there are: {listed}. "
        "Pass one of these names, an agent's stable id (agent_…) or a deployment id (agentid_…).",
        known=known,
    )


#: ``pages(params)`` → the raw bodies of ``GET /session`` pages for those query parameters.
FetchPages = Callable[[dict[str, str]], Iterator[bytes]]


def page_rows(body: bytes) -> list[dict[str, Any]]:
    """The session objects of one list page body (``{"data": [...]}``)."""
    data = orjson.loads(body)
    rows = data.get("data") if isinstance(data, dict) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def resolve_agent(
    filters: SessionFilters, names: AgentNames, pages: FetchPages, fetch: FetchDetails
) -> SessionFilters:
    """``filters`` with ``agent=`` (a name, a stable or a per-deployment id) replaced by the
    agent's stable id, the one id in every session the agent took part in.

    A stable id is kept as it is. A name (or a deployment id) known to ``names`` costs nothing;
    otherwise the sessions the other filters select are walked (``pages``), their agents
    named (``fetch``, one detail per unknown id) until the agent is found, then — for a name
    not among them — the whole project (a valid name with a window that selects nothing is
    not an unknown name: the load is empty and says so). A name no agent of the project has
    raises :class:`UnknownAgentError` listing the names found; a deployment id no session
    names is kept as given."""
    value = filters.agent
    if value is None or agent_kind(value) == "stable":
        return filters
    kind = agent_kind(value)
    # only that deployment's sessions can name a deployment id; a name: any session may
    scope = filters if kind == "deployment" else filters.with_agent(None)
    found = names.stable_for(value)
    walks = list(scope.queries())
    if kind == "name" and scope.selective:
        # not among the sessions the other filters select (an empty window, another trigger):
        # the name is still the agent's; look in the whole project before calling it unknown
        walks.append({})
    for params in walks:
        if found is not None or names.lookups >= MAX_AGENT_LOOKUPS:
            break
        for body in pages(params):
            rows = [r for r in page_rows(body) if isinstance(r.get("id"), str)]
            lists = [
                [a for a in r["agent_ids"] if isinstance(a, str)]
                if isinstance(r.get("agent_ids"), list)
                else []
                for r in rows
            ]
            with warnings.catch_warnings():  # unnamed ids are the load's to report, not ours
                warnings.simplefilter("ignore", SchemaWarning)
                names.name(pa.array(lists, pa.list_(pa.string())), [r["id"] for r in rows], fetch)
            found = names.stable_for(value)
            if found is not None or names.lookups >= MAX_AGENT_LOOKUPS:
                break
    if found is None:
        if kind == "deployment":
            return filters  # no session names it: match the id as given (the API's semantics)
        where = "this project"  # a name is looked for in the whole project (walks above)
        if names.lookups >= MAX_AGENT_LOOKUPS:
            where += f" (searched {names.lookups:,} session details, the limit per load)"
        raise unknown_agent(value, names.known(), where)
    return filters.with_agent(found)
