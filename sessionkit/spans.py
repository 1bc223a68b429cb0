"""Pure timeline flattening: sessions' span trees → the spans frame. No I/O.

Rows come in pre-order per session (a parent before its children, siblings in the order
sent). A node that is not an object, a ``children`` that is not a list, or the same node
object reached twice (a cycle in an in-memory tree) is reported by a
:class:`~sessionkit.errors.SchemaWarning` and skipped with its subtree — the walk never loops.

Durations arrive as float **milliseconds**; they become ``timedelta64[ns]`` (rounded half to
even to the nanosecond). ``self_duration`` is the node's duration minus the sum of its
children's, clamped at zero (children may run concurrently). ``path`` names at most
:data:`MAX_PATH_DEPTH` levels.

How a span costs 1–3.5 µs instead of 13–17 (``benchmarks/bench_spans.py`` measures both: the
former one-dict-per-span build is kept as the tests' oracle, ``tests/unit/spans_reference.py``):
the tree's shape comes from :func:`sessionkit.spantree.forest` (whole levels at a time); the
spans' fields are then read :data:`_CHUNK` rows at a time, every field and attribute of a
chunk while its objects are still in the CPU's cache, and each chunk's values become Arrow
arrays at once — typed directly when every value already has its column's type, through the
records road's per-value checks otherwise. What depends on the tree is numpy over parent
rows: self time is a ``bincount`` of the children's durations, paths are built once per
distinct (parent path, operation) pair, level by level. Category columns are built from their
distinct values and a code per row, never from a text per row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import schema, spantree
from .errors import SchemaError
from .frames import Problems, _column_from_values, gc_paused, to_pandas
from .spanattrs import STORAGE_PREFIX, AttributeReader, json_text

__all__ = ["MAX_PATH_DEPTH", "PATH_SEPARATOR", "spans_frame"]

PATH_SEPARATOR = " > "
#: ``path`` names at most this many levels; deeper spans share their ancestor's path ending in
#: " > …" (full paths of a 10,000-level chain would take O(depth²) memory).
MAX_PATH_DEPTH = 32
#: Rows read at a time: every field and attribute of a chunk is read while its objects are in
#: the CPU's cache (a second pass over a million dicts costs more than the first).
_CHUNK = 4096

_COLUMNS = {c.name: c for c in schema.SPAN_COLUMNS}
_MS = "milliseconds (a number)"
_NONE = type(None)
_TEXT_TYPES = frozenset({str, _NONE})
_TEXT = pa.large_string()  # the frame's text columns hold it (no cast when they are made)


def spans_frame(
    timelines: Iterable[tuple[str, object]], *, strict: bool = False, max_spans: int | None = None
) -> pd.DataFrame:
    """``(session_id, timeline_root)`` pairs → the typed spans frame, one row per node.

    Rows come in pre-order per session (a parent before its children, siblings in order).
    ``duration`` and ``self_duration`` are ``timedelta64[ns]`` converted from milliseconds.
    Values that do not fit their column become missing and are reported in one
    :class:`~sessionkit.errors.SchemaWarning` per field (``strict=True``: a
    :class:`~sessionkit.errors.SchemaError` at the first). A timeline with more than
    ``max_spans`` spans raises a :class:`~sessionkit.errors.SchemaError`.
    """
    problems = Problems("spans", strict)
    with gc_paused():
        table, coded = _spans_table(timelines, problems, max_spans=max_spans)
    problems.warn()
    rest = to_pandas(table, [c for c in schema.SPAN_COLUMNS if c.name not in coded])
    columns = {
        c.name: _categorical(*coded[c.name], c) if c.name in coded else rest[c.name]
        for c in schema.SPAN_COLUMNS
    }
    return pd.DataFrame(columns, copy=False)


def _categorical(codes: np.ndarray, values: list[str | None], col: schema.Column) -> pd.Series:
    """The category column whose row ``i`` is ``values[codes[i]]`` (``-1``: missing), exactly
    as :func:`~sessionkit.frames.to_pandas` makes it from the text of every row, but built
    from the few distinct values: their own category column gives the dtype and their codes
    there, so no text is written out per row."""
    few = to_pandas(pa.table({col.name: pa.array(values, pa.string())}), [col])[col.name]
    mapped = np.append(few.cat.codes.to_numpy(), -1)  # the last entry is for code -1
    return pd.Series(pd.Categorical.from_codes(mapped[codes], dtype=few.dtype), copy=False)


#: Category columns given as (a code per row, the distinct values the codes index).
_Coded = dict[str, tuple[np.ndarray, list[Any]]]


def _spans_table(
    timelines: Iterable[tuple[str, object]], problems: Problems, *, max_spans: int | None = None
) -> tuple[pa.Table, _Coded]:
    """``(session_id, timeline_root)`` pairs → the spans frame's columns: an Arrow table
    (durations as ``duration[ns]``) and the category columns that hold values, coded
    (``operation``, ``path`` and the attribute names: a code per row and the distinct values).
    Every problem is recorded in ``problems`` in the order the checks have always been made:
    the tree's and each span's own, span by span in pre-order, then column by column."""
    tree = spantree.forest(timelines)
    overflow = _overflow(tree, max_spans)
    n = len(tree.nodes) if overflow is None else overflow[0]
    sessions = _Sessions(tree.sessions, tree.row_sessions[:n])
    read = _read(tree.nodes[:n] if overflow else tree.nodes, tree.plain, sessions)
    events = sorted(chain(tree.events, read.events), key=_event_order)
    if overflow is not None:
        row, session_id = overflow
        for event in events:
            if _event_order(event) < (row, spantree.DURATION):
                problems.add(*event[2:])
        raise SchemaError(
            f"timeline of {session_id} has more than {max_spans} spans; raise max_spans"
        )
    for event in events:
        problems.add(*event[2:])

    parents = tree.parents
    has_parent = parents >= 0
    span_ids = pa.chunked_array(read.ids, _TEXT)
    operations = pa.chunked_array(read.operations, pa.string()).combine_chunks().dictionary_encode()
    op_names: list[str] = operations.dictionary.to_pylist()
    op_codes = np.asarray(operations.indices.fill_null(-1), dtype=np.int64)
    ms = np.concatenate(read.ms) if read.ms else np.zeros(0)
    counted = has_parent & ~np.isnan(ms)
    children_ms = np.bincount(parents[counted], weights=ms[counted], minlength=n)
    own_ms = np.where(np.isnan(ms), np.nan, ms - children_ms)
    self_ms = np.where(own_ms > 0.0, own_ms, np.where(np.isnan(own_ms), np.nan, 0.0))
    arrays: dict[str, Any] = {
        "session_id": sessions.column(problems),
        "span_id": span_ids,
        "parent_id": span_ids.take(pa.array(np.where(has_parent, parents, 0), mask=~has_parent)),
        "depth": pa.array(tree.depths),
        "position": pa.array(tree.positions),
        "duration": _nanoseconds(ms, "duration", sessions, problems),
        "self_duration": _nanoseconds(self_ms, "self_duration", sessions, problems),
        "error": pa.chunked_array(read.errors, _TEXT),
    }
    attributes, coded = read.attributes.arrays(n, sessions.row_session, sessions.sessions, problems)
    arrays.update(attributes)
    coded["operation"] = (op_codes, op_names)
    coded["path"] = _paths(op_codes, op_names, parents, tree.depths)
    return pa.table(
        {c.name: arrays[c.name] for c in schema.SPAN_COLUMNS if c.name in arrays}
    ), coded


def _overflow(tree: spantree.Forest, max_spans: int | None) -> tuple[int, object] | None:
    """The first timeline with more than ``max_spans`` spans, as (the row its first span too
    many has, its session id), or ``None``."""
    if max_spans is None or not len(tree.counts):
        return None
    cap = max(max_spans, 0)
    over = np.flatnonzero(tree.counts > cap)
    if not len(over):
        return None
    first = int(over[0])
    return int(tree.counts[:first].sum()) + cap, tree.sessions[first]


def _event_order(event: spantree.Event) -> tuple[int, int]:
    return event[0], event[1]


class _Sessions:
    """The session id of each row, for problem reports and the ``session_id`` column."""

    def __init__(self, sessions: list[object], row_session: np.ndarray) -> None:
        self.sessions = sessions
        self.row_session = row_session

    def of(self, row: int) -> object:
        return self.sessions[int(self.row_session[row])]

    def column(self, problems: Problems) -> pa.Array:
        """The ``session_id`` column: the ids as they are when all are text; otherwise each
        row's id checked as the records road checks it."""
        if set(map(type, self.sessions)) <= {str}:
            return pa.array(self.sessions, _TEXT).take(pa.array(self.row_session))
        ids = [self.sessions[i] for i in self.row_session.tolist()]
        return _column_from_values(ids, _COLUMNS["session_id"], ids, problems)


# --------------------------------------------------------------------------- reading


@dataclass
class _Read:
    """The spans' fields, a typed array per chunk of rows."""

    attributes: AttributeReader
    ids: list[pa.Array] = field(default_factory=list)
    operations: list[pa.Array] = field(default_factory=list)
    ms: list[np.ndarray] = field(default_factory=list)  #: durations, NaN: missing
    errors: list[pa.Array] = field(default_factory=list)
    events: list[spantree.Event] = field(default_factory=list)  #: durations, attributes


def _read(nodes: list[Any], plain: bool, sessions: _Sessions) -> _Read:
    """Read every span's fields (``plain``: all spans are dicts), :data:`_CHUNK` rows at a
    time (see the module's notes)."""
    get: Any = dict.get if plain else _get
    read = _Read(AttributeReader())
    for start in range(0, len(nodes), _CHUNK):
        part = nodes[start : start + _CHUNK]
        operations = pa.array(_strings(list(map(get, part, repeat("operation")))), pa.string())
        read.operations.append(operations)
        read.ids.append(pa.array(_strings(list(map(get, part, repeat("id")))), _TEXT))
        durations = list(map(get, part, repeat("duration")))
        read.ms.append(_durations(durations, start, sessions, read.events))
        read.errors.append(pa.array(_errors(list(map(get, part, repeat("error")))), _TEXT))
        attrs = list(map(get, part, repeat("attributes")))
        if not set(map(type, attrs)) <= {dict, _NONE}:
            attrs = _objects(attrs, start, sessions, read.events)
        storage = pc.fill_null(pc.starts_with(operations, STORAGE_PREFIX), False)
        read.attributes.read(attrs, start, np.asarray(storage))
    return read


def _get(node: Mapping[str, Any], name: str) -> Any:
    return node.get(name)


def _strings(values: list[Any]) -> list[Any]:
    """``values`` with everything that is not text made ``None`` (no report: a span without
    a usable id or operation is still a span)."""
    if set(map(type, values)) <= _TEXT_TYPES:
        return values
    return [v if isinstance(v, str) else None for v in values]


def _durations(
    values: list[Any], start: int, sessions: _Sessions, events: list[spantree.Event]
) -> np.ndarray:
    """Durations of rows ``start`` onwards in milliseconds (NaN: missing); each value that
    is not a finite number is reported in ``events``."""
    if set(map(type, values)) <= {float, _NONE}:
        ms = pa.array(values, pa.float64()).to_numpy(zero_copy_only=False, writable=True)
        bad = np.flatnonzero(~np.isfinite(ms))
        for row in bad.tolist():
            if values[row] is not None:
                at = start + row
                events.append(
                    (at, spantree.DURATION, "duration", sessions.of(at), values[row], _MS)
                )
        ms[bad] = np.nan
        return ms
    out = np.empty(len(values), dtype=np.float64)
    for row, value in enumerate(values):
        number = _milliseconds(value)
        out[row] = np.nan if number is None else number
        if number is None and value is not None:
            at = start + row
            events.append((at, spantree.DURATION, "duration", sessions.of(at), value, _MS))
    return out


def _milliseconds(value: object) -> float | None:
    """``value`` as a finite float of milliseconds, or ``None`` (booleans, text, objects,
    infinities, NaN and integers past a double's range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _objects(
    values: list[Any], start: int, sessions: _Sessions, events: list[spantree.Event]
) -> list[dict[Any, Any] | None]:
    """Attribute values of rows ``start`` onwards as dicts or ``None``: a mapping that is no
    dict is copied into one; anything else is reported (in ``events``) and taken as none."""
    out: list[dict[Any, Any] | None] = []
    for row, value in enumerate(values, start):
        if value is None or type(value) is dict:
            out.append(value)
        elif isinstance(value, Mapping):
            out.append(dict(value))
        else:
            what = "an object"
            events.append((row, spantree.ATTRIBUTES, "attributes", sessions.of(row), value, what))
            out.append(None)
    return out


def _errors(values: list[Any]) -> list[str | None]:
    if set(map(type, values)) <= _TEXT_TYPES:
        return values
    return [_error_text(v) for v in values]


def _error_text(value: object) -> str | None:
    """A span's ``error`` as text: a string as it is, an object's ``message``, anything else
    as JSON; ``None``/``False`` mean no error."""
    if value is None or value is False:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("message"), str):
        return str(value["message"])
    try:
        return orjson.dumps(value, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):  # past 64 bits, not UTF-8, nested past 254
        return json_text(value)


# --------------------------------------------------------------------------- tree columns


def _paths(
    op_codes: np.ndarray, op_names: list[str], parents: np.ndarray, depths: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Each row's ``path`` as a code into the distinct paths (and those): operations from
    the root joined by :data:`PATH_SEPARATOR` (``?`` for a span without one), built once per
    distinct (parent path, operation) pair, level by level; at :data:`MAX_PATH_DEPTH` the
    path ends with ``…`` and deeper spans share it."""
    n = len(parents)
    tokens = [name or "?" for name in op_names] + ["?"]
    tcode = np.where(op_codes >= 0, op_codes, len(op_names))
    width = len(tokens)
    path_id = np.zeros(n, dtype=np.int64)
    texts: list[str] = []
    shallow = np.flatnonzero(depths <= MAX_PATH_DEPTH)
    by_level = shallow[np.argsort(depths[shallow].astype(np.uint8), kind="stable")]  # radix
    levels = np.searchsorted(depths[by_level], np.arange(MAX_PATH_DEPTH + 2))
    for level in range(MAX_PATH_DEPTH + 1):
        rows = by_level[levels[level] : levels[level + 1]]
        if not len(rows):
            break
        if level == 0:
            key = tcode[rows]
        elif level < MAX_PATH_DEPTH:
            key = path_id[parents[rows]] * width + tcode[rows]
        else:
            key = path_id[parents[rows]]
        codes, uniques = pd.factorize(key)
        path_id[rows] = codes + len(texts)
        if level == 0:
            texts += [tokens[k] for k in uniques.tolist()]
        elif level < MAX_PATH_DEPTH:
            texts += [
                texts[k // width] + PATH_SEPARATOR + tokens[k % width] for k in uniques.tolist()
            ]
        else:
            texts += [texts[k] + PATH_SEPARATOR + "…" for k in uniques.tolist()]
    deep = depths > MAX_PATH_DEPTH
    if deep.any():  # the nearest row at the cap before a deeper row is its ancestor there
        at_cap = np.where(depths == MAX_PATH_DEPTH, np.arange(n), -1)
        path_id[deep] = path_id[np.maximum.accumulate(at_cap)[deep]]
    return path_id, texts


def _nanoseconds(ms: np.ndarray, name: str, sessions: _Sessions, problems: Problems) -> pa.Array:
    """Milliseconds (NaN: missing) → ``duration[ns]`` rounded half to even; a value past
    what 64-bit nanoseconds hold is reported and made missing."""
    with np.errstate(over="ignore", invalid="ignore"):  # past a double: inf, reported below
        ns = np.rint(ms * 1e6)
        fits = (ns > -(2.0**63)) & (ns < 2.0**63)
    for row in np.flatnonzero(~fits & ~np.isnan(ms)).tolist():
        problems.add(name, sessions.of(row), float(ms[row]), _MS)
    values = np.where(fits, ns, 0).astype(np.int64)
    return pa.array(values, pa.int64(), mask=~fits).cast(pa.duration("ns"))
