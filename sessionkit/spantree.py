"""Pure: sessions' span trees → one flat forest in pre-order (parent rows, depths, positions).

The spans frame (:mod:`sessionkit.spans`) is built column by column over this forest. Its
rows are the span objects in pre-order per session (a parent before its children, siblings in
the order sent): the order of a depth-first walk with an explicit stack. But a walk that
visits one span per Python iteration costs most of a microsecond a span, so the forest is
read **level by level** while levels are wide: every session's spans of one depth at once,
each check one C-level ``map``/``chain`` over the whole level (types, reference counts,
``children`` lists, each child's parent and position) instead of a Python iteration per
span. From the first level
narrower than :data:`WIDE` entries on (a chain 1M levels deep, one small session) the walk
continues depth-first, one subtree per entry of that level (an explicit stack: linear, no
recursion). The pre-order row of every span then follows from subtree sizes (bottom-up) and
sibling offsets (top-down), in numpy.

The forest reports what the depth-first walk reports, in the same order: an entry that is not
an object (``timeline``), the same node object reached twice in one session (``timeline``: a
cycle or a shared subtree of an in-memory tree; the later visit in pre-order is skipped with
its subtree), a ``children`` that is not a list (``children``). Levels are read only while
every entry is a plain dict held by one ``children`` list (a node can only be reached twice
if two containers hold it: before a level is read the reference count of each entry is
compared with that of an object one list holds). Otherwise — an entry that is no dict, a
cycle, a shared subtree, or simply a span the caller holds in a variable — the whole batch is
walked depth-first, where a set of the nodes visited decides.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from typing import Any

import numpy as np

__all__ = ["ATTRIBUTES", "CHILDREN", "DURATION", "SKIPPED", "WIDE", "Event", "Forest", "forest"]

#: Levels at least this wide are read a level at a time; from the first narrower one (past
#: the first two levels) the rest is walked depth-first.
WIDE = 128
#: Entries checked at a time when a level is read (each is fetched from memory once).
_SLICE = 4096
#: The order of the problems met at one row (see :class:`Event`): entries skipped just before
#: the row, then the row's own checks — its duration, its attributes, its children — the
#: order in which the depth-first walk has always made them.
SKIPPED, DURATION, ATTRIBUTES, CHILDREN = 0, 1, 2, 3

#: A problem: (row it belongs to, or comes just before; order within that row; field;
#: session id; the value; what was expected).
Event = tuple[int, int, str, object, object, str]
#: A problem as a level met it: (entry index, order, 0, field, value, expected).
_Met = tuple[int, int, int, str, object, str]
#: A problem as the depth-first walk met it: (entry walked, index of the row within the
#: entry's subtree it belongs to or comes just before, order, depth below the entry, field,
#: value, expected).
_DeepMet = tuple[int, int, int, int, str, object, str]
_SPAN = "a span object"


@dataclass
class Forest:
    """Every span of a batch of timelines, one row each, in pre-order per session."""

    nodes: list[Any]  #: the span objects (mappings)
    parents: np.ndarray  #: int64 row of each row's parent; -1 for a root
    depths: np.ndarray  #: int64 depth; 0 for a root
    positions: np.ndarray  #: int64 index in the parent's ``children`` (skipped entries count)
    sessions: list[object]  #: the session id of each timeline, in the order given
    row_sessions: np.ndarray  #: int64 index into ``sessions`` of each row
    counts: np.ndarray  #: int64 rows of each timeline
    events: list[Event]  #: problems met, in the order the depth-first walk meets them
    plain: bool  #: every span object is a dict (not another kind of mapping)


def forest(timelines: Iterable[tuple[object, object]]) -> Forest:
    """``(session_id, root)`` pairs → their :class:`Forest` (a ``None`` root has no rows)."""
    sessions: list[object] = []
    roots: list[object] = []
    for session_id, root in timelines:
        sessions.append(session_id)
        roots.append(root)
    levels = _read_levels(_roots(roots))
    if levels is None:  # an odd entry, or one held twice: depth-first, a visited set decides
        levels = [_roots(roots)]
    deep = _walk_deep(levels[-1], levels[0] if len(levels) > 1 else None)
    return _number(levels, deep, sessions)


def _roots(roots: list[object]) -> _Level:
    present = [i for i, root in enumerate(roots) if root is not None]
    return _Level(
        entries=[roots[i] for i in present],
        session=np.array(present, dtype=np.int64),
        parent=np.full(len(present), -1, dtype=np.int64),
        position=np.zeros(len(present), dtype=np.int64),
    )


# --------------------------------------------------------------------------- level by level


@dataclass
class _Level:
    """The entries (roots, or items of ``children`` lists) of one depth, in pre-order."""

    entries: list[Any]
    session: np.ndarray  #: session index of each entry
    parent: np.ndarray  #: index of each entry's parent among the previous level's entries
    position: np.ndarray  #: index of each entry in its parent's ``children``
    met: list[_Met] = field(default_factory=list)  #: rows here are entry indices


def _held_once() -> int:
    """The reference count :func:`_read_levels` sees for an entry that one ``children`` list
    holds and nothing else: the same construction, measured once."""
    lists: list[list[dict[str, Any]]] = [[{}]]
    entries = list(chain.from_iterable(lists))
    part = entries[0:_SLICE]
    return max(map(sys.getrefcount, part))


_HELD_ONCE = _held_once()


def _read_levels(first: _Level) -> list[_Level] | None:
    """Read levels while they are wide (the first two always) and return them, the last one
    unread (its entries are walked depth-first); ``None`` when an entry of a level to read is
    no dict, or is held by more than one container below the roots (it could be reached
    twice: only the depth-first walk decides that the way it always has)."""
    levels = [first]
    while True:
        level = levels[-1]
        if not level.entries or (len(levels) > 2 and len(level.entries) < WIDE):
            return levels
        after = _next_level(level, held_once=len(levels) > 1)
        if after is None:
            return None
        levels.append(after)


def _next_level(level: _Level, *, held_once: bool) -> _Level | None:
    """The level of ``level``'s children, or ``None`` when an entry is no dict (or, with
    ``held_once``, is held by another container too). The entries are checked and their
    ``children`` read a slice at a time, so each object is fetched from memory once."""
    entries = level.entries
    kids: list[Any] = []
    for start in range(0, len(entries), _SLICE):
        part = entries[start : start + _SLICE]
        if held_once and max(map(sys.getrefcount, part)) > _HELD_ONCE:
            return None
        if not set(map(type, part)) <= {dict}:
            return None
        kids += map(dict.get, part, repeat("children"))
    if not set(map(type, kids)) <= {list, type(None)}:
        kids = _usable_children(kids, level)
    has = np.frombuffer(bytes(map(bool, kids)), dtype=bool)
    lists: list[list[Any]] = list(compress(kids, has))
    sizes = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    parent = np.repeat(np.flatnonzero(has), sizes)
    starts = np.cumsum(sizes) - sizes
    position = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(starts, sizes)
    return _Level(
        entries=list(chain.from_iterable(lists)),
        session=level.session[parent],
        parent=parent,
        position=position,
    )


def _usable_children(kids: list[Any], level: _Level) -> list[Any]:
    """``kids`` with each ``children`` that is not a list reported and taken as none."""
    out: list[Any] = []
    for i, kid in enumerate(kids):
        if kid is None or isinstance(kid, list):
            out.append(kid)
        else:
            level.met.append((i, CHILDREN, 0, "children", kid, "a list of spans"))
            out.append(None)
    return out


# --------------------------------------------------------------------------- depth-first


@dataclass
class _Deep:
    """The spans from the last level down, walked depth-first from each of its entries."""

    nodes: list[Any]  #: span objects: each entry's subtree in pre-order, entries in order
    parent: np.ndarray  #: index among ``nodes`` of the parent; -1 for an entry
    depth: np.ndarray  #: depth below the entry (0: the entry itself)
    sizes: np.ndarray  #: rows of each entry's subtree (0 for an entry that is no span)
    met: list[_DeepMet]
    skipped: list[tuple[int, int]]  #: (index of the next node, parent index) per skipped child


def _walk_deep(level: _Level, roots: _Level | None) -> _Deep:
    """Walk every entry of ``level`` depth-first: an explicit stack, one set of visited nodes
    per session (seeded with the session's root when the levels above were read), so a node
    reached again in the same session is skipped with its subtree."""
    nodes: list[Any] = []
    parent1: list[int] = []  # parent index + 1; 0 for an entry
    depth1: list[int] = [-1]  # depth of node i at i + 1, after the entries' "parent" (-1)
    sizes: list[int] = []
    met: list[_DeepMet] = []
    skipped: list[tuple[int, int]] = []
    seen: set[int] = set()
    root_of = {} if roots is None else dict(zip(roots.session.tolist(), roots.entries, strict=True))
    stack: list[object] = []
    pstack: list[int] = []
    add_node, add_parent, add_depth = nodes.append, parent1.append, depth1.append
    pop, ppop, push, ppush = stack.pop, pstack.pop, stack.extend, pstack.extend
    push1, ppush1 = stack.append, pstack.append
    remember = seen.add
    last_session = -1
    for walked, (entry, session) in enumerate(
        zip(level.entries, level.session.tolist(), strict=True)
    ):
        if session != last_session:
            seen.clear()
            if session in root_of:
                remember(id(root_of[session]))
            last_session = session
        start = len(nodes)
        stack.append(entry)
        pstack.append(0)
        while stack:
            node = pop()
            parent = ppop()
            if type(node) is not dict and not isinstance(node, Mapping):
                depth = depth1[parent] + 1
                met.append((walked, len(nodes) - start, SKIPPED, depth, "timeline", node, _SPAN))
                if parent:
                    skipped.append((len(nodes), parent - 1))
                continue
            key = id(node)
            if key in seen:
                what = "a tree (the node repeats)"
                depth = depth1[parent] + 1
                row = len(nodes) - start
                met.append((walked, row, SKIPPED, depth, "timeline", node.get("id"), what))
                if parent:
                    skipped.append((len(nodes), parent - 1))
                continue
            remember(key)
            add_node(node)
            add_parent(parent)
            add_depth(depth1[parent] + 1)
            children = node.get("children")
            if children:
                if type(children) is list or isinstance(children, list):
                    if len(children) == 1:  # a chain: no iterator, no tuple
                        push1(children[0])
                        ppush1(len(nodes))
                    else:
                        push(reversed(children))
                        ppush((len(nodes),) * len(children))
                    continue
            elif children is None or isinstance(children, list):
                continue
            row = len(nodes) - 1 - start
            met.append((walked, row, CHILDREN, 0, "children", children, "a list of spans"))
        sizes.append(len(nodes) - start)
    return _Deep(
        nodes,
        np.array(parent1, dtype=np.int64) - 1,
        np.array(depth1[1:], dtype=np.int64),
        np.array(sizes, dtype=np.int64),
        met,
        skipped,
    )


# --------------------------------------------------------------------------- numbering


def _number(levels: list[_Level], deep: _Deep, sessions: list[object]) -> Forest:
    """Give every span its pre-order row: subtree sizes bottom-up (each level's sizes summed
    into its parents), then rows top-down (a span's row is its parent's + 1 + the sizes of its
    earlier siblings), each depth-first subtree in its own order below its entry."""
    read, last = levels[:-1], levels[-1]
    base = len(read)  # depth of the last level's entries
    sizes: list[np.ndarray] = [deep.sizes] * len(levels)
    for k in range(base - 1, -1, -1):
        below = np.bincount(
            levels[k + 1].parent, weights=sizes[k + 1], minlength=len(read[k].entries)
        )
        sizes[k] = 1 + below.astype(np.int64)
    starts: list[np.ndarray] = []  # the row of each entry (the next row for a skipped one)
    for k, level in enumerate(levels):
        size = sizes[k]
        before = np.cumsum(size) - size  # sizes of the earlier entries of this level
        if k == 0:
            starts.append(before)
            continue
        first = np.ones(len(size), dtype=bool)  # siblings are contiguous, in order
        np.not_equal(level.parent[1:], level.parent[:-1], out=first[1:])
        sibling_base = np.maximum.accumulate(np.where(first, before, 0)) if len(size) else before
        starts.append(starts[k - 1][level.parent] + 1 + before - sibling_base)
    n = int(sizes[0].sum())
    discovered: list[Any] = []
    order = np.empty(n, dtype=np.int64)  # discovery index of each row
    parents = np.empty(n, dtype=np.int64)
    depths = np.empty(n, dtype=np.int64)
    positions = np.empty(n, dtype=np.int64)
    row_sessions = np.empty(n, dtype=np.int64)
    met: list[tuple[int, int, int, int, str, int, object, str]] = []
    for k, level in enumerate(read):
        rows = starts[k]
        order[rows] = np.arange(len(discovered), len(discovered) + len(rows))
        discovered += level.entries
        parents[rows] = starts[k - 1][level.parent] if k else -1
        depths[rows] = k
        positions[rows] = level.position
        row_sessions[rows] = level.session
        for i, kind, _, name, value, expected in level.met:
            session = int(level.session[i])
            met.append((int(starts[k][i]), kind, -k, len(met), name, session, value, expected))
    if len(deep.nodes):
        entry = np.repeat(np.arange(len(last.entries)), deep.sizes)
        first_of = np.cumsum(deep.sizes) - deep.sizes
        local = np.arange(len(deep.nodes)) - np.repeat(first_of, deep.sizes)
        rows = starts[base][entry] + local
        order[rows] = np.arange(len(discovered), len(discovered) + len(rows))
        discovered.extend(deep.nodes)
        inner = deep.parent >= 0
        outer = starts[base - 1][last.parent[entry]] if base else np.full(len(rows), -1)
        parents[rows] = np.where(inner, rows[np.where(inner, deep.parent, 0)], outer)
        depths[rows] = base + deep.depth
        positions[rows] = _deep_positions(deep, last.position[entry])
        row_sessions[rows] = last.session[entry]
    for walked, local, kind, depth, name, value, expected in deep.met:
        row = int(starts[base][walked]) + local
        session = int(last.session[walked])
        met.append((row, kind, -(base + depth), len(met), name, session, value, expected))
    met.sort()
    events: list[Event] = [
        (row, kind, name, sessions[session], value, expected)
        for row, kind, _, _, name, session, value, expected in met
    ]
    nodes = np.fromiter(discovered, dtype=object, count=n)[order].tolist() if n else []
    counts = np.zeros(len(sessions), dtype=np.int64)
    counts[levels[0].session] = sizes[0]
    plain = set(map(type, deep.nodes)) <= {dict}  # the levels read hold dicts only
    return Forest(nodes, parents, depths, positions, sessions, row_sessions, counts, events, plain)


def _deep_positions(deep: _Deep, entry_position: np.ndarray) -> np.ndarray:
    """Positions of the depth-first rows: an entry keeps its own; any other row is its rank
    among its parent's children in walk order, skipped entries counted."""
    parents = deep.parent
    n = len(parents)
    if deep.skipped:
        extra = np.array(deep.skipped, dtype=np.int64).reshape(-1, 2)
        owner = np.concatenate([parents, extra[:, 1]])
        key = np.concatenate([2 * np.arange(n) + 1, 2 * extra[:, 0]])
        rank = _rank_within(owner, np.lexsort((key, owner)))[:n]
    else:
        rank = _rank_within(parents, np.argsort(parents, kind="stable"))
    return np.where(parents >= 0, rank, entry_position)


def _rank_within(groups: np.ndarray, by: np.ndarray) -> np.ndarray:
    """For each element, how many elements of its group come before it in the order ``by``
    (a permutation that sorts ``groups``, stably)."""
    n = len(groups)
    if not n:
        return np.zeros(0, dtype=np.int64)
    sorted_groups = groups[by]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(sorted_groups[1:], sorted_groups[:-1], out=starts[1:])
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[by] = np.arange(n) - first
    return rank
