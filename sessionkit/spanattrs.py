"""Pure: spans' attribute objects → the spans frame's attribute columns and ``attributes`` text.

Which attribute feeds which column is decided here, once (:data:`ATTRIBUTE_COLUMNS`: the
names the Agentuity runtime sets first, other spellings after; the plain ``name``/``key``
only on the runtime's storage spans). A column takes the first of its names that the object
holds — even when that name holds ``null`` — and its value must be of the column's type
(text, or an integer for token counts); other values are reported and made missing, as on
the records road.

The values are found without a Python loop per span, a chunk of spans at a time while their
objects are in cache: every object's keys are coded at once (a C-level ``map`` over all keys
of the chunk), the keys that feed a column are picked in numpy, and only their values are
looked up. ``attributes`` is each object as compact JSON exactly as orjson writes it (keys in
the order sent), one orjson call per chunk; an object orjson cannot write (an integer past 64
bits, a lone surrogate, nesting past 254 levels) is written by :func:`json_text` and named in a
warning.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from itertools import chain, compress, repeat
from operator import getitem, itemgetter
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from . import jsonparse, schema
from .frames import Problems, _column_from_values

__all__ = [
    "ATTRIBUTE_COLUMNS",
    "STORAGE_ONLY",
    "STORAGE_PREFIX",
    "AttributeReader",
    "json_text",
    "spread",
]

ATTRIBUTE_COLUMNS: dict[str, tuple[str, ...]] = {
    # the names the Agentuity runtime sets come first (the spec's table), other spellings after
    "agent_name": ("@agentuity/agentName",),
    "agent_id": ("@agentuity/agentId",),
    "http_method": ("http.method",),
    "http_path": ("http.path",),
    "http_host": ("http.host", "host"),  # server root spans: http.host; outbound fetch: host
    "http_url": ("http.url",),
    "storage_name": (
        "name",
        "@agentuity/storageName",
        "@agentuity/name",
        "storage.name",
        "db.name",
    ),
    "storage_key": ("key", "@agentuity/key", "@agentuity/storageKey", "storage.key", "db.key"),
    "model": ("gen_ai.request.model", "llm.model"),
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
}
#: Plain attribute names read only on the runtime's storage spans (``agentuity.keyvalue.*``,
#: ``agentuity.vector.*``, ``agentuity.stream.*``): elsewhere ``name``/``key`` mean anything.
STORAGE_ONLY = frozenset({"name", "key"})
#: The operation prefix of the runtime's storage spans.
STORAGE_PREFIX = "agentuity."

_COLUMNS = {c.name: c for c in schema.SPAN_COLUMNS}
_NAMES = list(ATTRIBUTE_COLUMNS)
_SLOTS = 1 + max(len(keys) for keys in ATTRIBUTE_COLUMNS.values())
#: attribute name → column index * _SLOTS + its rank among the column's names
_CODE: dict[str, int] = {
    key: column * _SLOTS + rank
    for column, keys in enumerate(ATTRIBUTE_COLUMNS.values())
    for rank, key in enumerate(keys)
}
_NO_CODE = 255  # a name that feeds no column (codes are bytes)
assert len(_NAMES) * _SLOTS < _NO_CODE
#: code → attribute name ("" for a code no name has)
_NAME_OF: list[str] = [
    next((name for name, c in _CODE.items() if c == code), "")
    for code in range(len(_NAMES) * _SLOTS)
]
_STORAGE_ONLY_CODE = np.zeros(len(_NAMES) * _SLOTS, dtype=bool)
_STORAGE_ONLY_CODE[[code for key, code in _CODE.items() if key in STORAGE_ONLY]] = True
_NONE = type(None)
_PLAIN_TYPES = {"string": frozenset({str, _NONE}), "int": frozenset({int, _NONE})}
_ARROW_TYPES = {"string": pa.large_string(), "int": pa.int64()}
_dumps = partial(orjson.dumps, option=orjson.OPT_NON_STR_KEYS)
#: The marker between objects written together by :func:`_json_texts`, and its JSON text.
#: A character orjson writes as it is (no escape), so the marker between two objects is 5
#: bytes: short enough for ``bytes.split`` to search without a per-piece set-up.
_MARK = "\x7f"
_MARK_BETWEEN = b',"\x7f",'


class AttributeReader:
    """Reads the spans' attribute objects a chunk of rows at a time, while the objects are in
    the CPU's cache (touching a million dicts a second time costs more than reading them
    once), making each chunk's values Arrow arrays at once; :meth:`arrays` then lays the
    columns out."""

    def __init__(self) -> None:
        self._chunks: list[tuple[int, int]] = []  #: (first row, rows) of each chunk read
        self._texts: list[pa.Array] = []  #: ``attributes`` of each chunk, all its rows
        #: per column: (chunk, rows within it, typed array) of each chunk holding values, or
        #: (chunk, rows, values) when one of them is not of the column's type (checked later,
        #: in column order)
        self._pieces: list[list[tuple[int, np.ndarray, pa.Array | list[Any]]]] = [
            [] for _ in _NAMES
        ]
        self._refused: list[tuple[int, object]] = []  #: (row, object) orjson cannot write

    def read(
        self, attrs: Sequence[dict[Any, Any] | None], first_row: int, storage: np.ndarray
    ) -> None:
        """Read the attribute objects (dicts or ``None``) of rows ``first_row`` onwards
        (``storage``: which of them are storage spans): each object's JSON text, and the
        values of the names that feed a column."""
        chunk = len(self._chunks)
        self._chunks.append((first_row, len(attrs)))
        flags = bytes(map(bool, attrs))
        objects: list[dict[Any, Any]] = list(compress(attrs, flags))  # type: ignore[arg-type]
        if not objects:
            self._texts.append(pa.nulls(len(attrs), pa.large_string()))
            return
        local = np.flatnonzero(np.frombuffer(flags, dtype=bool))
        texts, refused = _json_texts(objects)
        self._texts.append(spread(texts, local, len(attrs)))
        for i in refused:
            self._refused.append((first_row + int(local[i]), objects[i]))
        sizes = np.fromiter(map(len, objects), dtype=np.int64, count=len(objects))
        names = chain.from_iterable(objects)
        codes = np.frombuffer(bytes(map(_CODE.get, names, repeat(_NO_CODE))), dtype=np.uint8)
        items = np.flatnonzero(codes != _NO_CODE)
        if not len(items):
            return
        owner = np.repeat(np.arange(len(objects)), sizes)[items]
        code = codes[items]
        keep = ~(_STORAGE_ONLY_CODE[code] & ~storage[local[owner]])
        owner, code = owner[keep], code[keep]
        column = code // _SLOTS
        by_column = np.argsort(column, kind="stable")  # objects stay in order within a column
        bounds = np.searchsorted(column[by_column], np.arange(len(_NAMES) + 1))
        for c in np.flatnonzero(np.diff(bounds)).tolist():
            mine = by_column[bounds[c] : bounds[c + 1]]
            first = np.ones(len(mine), dtype=bool)
            np.not_equal(owner[mine[1:]], owner[mine[:-1]], out=first[1:])
            if not first.all():  # an object holds several of the column's names: the first
                starts = np.flatnonzero(first)
                best = np.minimum.reduceat(code[mine], starts)
                sizes_ = np.diff(np.append(starts, len(mine)))
                mine = mine[code[mine] == np.repeat(best, sizes_)]
            picked = _values(objects, owner[mine], code[mine])
            typed = _typed(picked, _COLUMNS[_NAMES[c]].wire)
            self._pieces[c].append((chunk, local[owner[mine]], picked if typed is None else typed))

    def arrays(
        self, n: int, row_ids: np.ndarray, session_ids: Sequence[object], problems: Problems
    ) -> tuple[dict[str, pa.Array], dict[str, tuple[np.ndarray, list[Any]]]]:
        """The attribute columns and ``attributes`` of ``n`` rows: Arrow arrays, and the
        category columns that hold values as (a code per row, -1: missing; the values).

        A value that does not fit its column is reported in ``problems`` under the column's
        name with its row's session id (``session_ids[row_ids[row]]``), column by column in
        frame order, row by row.
        """
        out: dict[str, pa.Array] = {}
        coded: dict[str, tuple[np.ndarray, list[Any]]] = {}
        for name, pieces in zip(_NAMES, self._pieces, strict=True):
            col = _COLUMNS[name]
            kind = _ARROW_TYPES[col.wire]
            if not pieces:
                out[name] = pa.nulls(n, kind)
                continue
            typed: list[tuple[int, np.ndarray, pa.Array]] = []
            for chunk, rows, values in pieces:
                first_row = self._chunks[chunk][0]
                if isinstance(values, list):  # the records road's checks and reports
                    owners = [session_ids[i] for i in row_ids[first_row + rows].tolist()]
                    values = _column_from_values(values, col, owners, problems)
                typed.append((chunk, rows, values.cast(kind)))
            if col.dtype == "category":  # coded: the frame is built from its few values
                encoded = pa.concat_arrays([values for _, _, values in typed]).dictionary_encode()
                where = np.concatenate([self._chunks[c][0] + rows for c, rows, _ in typed])
                codes = np.full(n, -1, dtype=np.int64)
                codes[where] = np.asarray(encoded.indices.fill_null(-1))
                coded[name] = (codes, encoded.dictionary.to_pylist())
            else:
                out[name] = self._chunked(typed, kind)
        for row, value in self._refused:
            what = (
                "objects orjson cannot write (an integer past 64 bits, text that is not UTF-8, "
                "nesting past 254 levels, a value of no JSON type); written by Python's json "
                "or, failing that, with such values as their text"
            )
            problems.keep("attributes", session_ids[int(row_ids[row])], value, what)
        out["attributes"] = pa.chunked_array(self._texts, pa.large_string())
        return out, coded

    def _chunked(self, pieces: list[tuple[int, np.ndarray, pa.Array]], kind: pa.DataType) -> Any:
        """A column of every chunk's rows: each chunk's values laid out over its rows (no
        copy of the text into one buffer), missing in chunks without values."""
        held = {chunk: (rows, values) for chunk, rows, values in pieces}
        parts = []
        for chunk, (_, size) in enumerate(self._chunks):
            if chunk in held:
                parts.append(spread(held[chunk][1], held[chunk][0], size))
            else:
                parts.append(pa.nulls(size, kind))
        return pa.chunked_array(parts, kind)


def _values(objects: list[dict[Any, Any]], owners: np.ndarray, codes: np.ndarray) -> list[Any]:
    """``objects[owners[i]][the name of codes[i]]`` for each ``i``: C-level lookups of the
    names found (the objects are still in cache), no list of every value."""
    held = _pick(objects, owners)
    if len(codes) and (codes == codes[0]).all():
        return list(map(getitem, held, repeat(_NAME_OF[int(codes[0])])))
    return list(map(getitem, held, _pick(_NAME_OF, codes)))


def _pick(items: Sequence[Any], index: np.ndarray) -> list[Any]:
    """``[items[i] for i in index]``, gathered in C."""
    if len(index) > 1:
        return list(itemgetter(*index.tolist())(items))
    return [items[i] for i in index.tolist()]


def _typed(values: list[Any], wire: str) -> pa.Array | None:
    """``values`` as an Arrow array when each is already of the column's type (``None``
    allowed), else ``None``: they need the per-value checks."""
    if not set(map(type, values)) <= _PLAIN_TYPES[wire]:
        return None
    try:
        return pa.array(values, _ARROW_TYPES[wire])
    except (pa.ArrowInvalid, OverflowError):  # an integer past 64 bits
        return None


def _json_texts(objects: list[dict[Any, Any]]) -> tuple[pa.Array, list[int]]:
    """Each object as compact JSON text, exactly what ``orjson.dumps`` writes for it alone,
    and the indices of the objects orjson refuses (written by :func:`json_text`).

    One ``orjson.dumps`` writes all of them, separated by a marker string, and the marker
    splits them again: no Python string per object. Should an object hold the marker itself,
    the count of pieces tells, and each object is written on its own."""
    interleaved: list[Any] = [_MARK] * (2 * len(objects) - 1)
    interleaved[0::2] = objects
    refused: list[int] = []
    try:
        pieces = _dumps(interleaved)[1:-1].split(_MARK_BETWEEN)
    except (TypeError, orjson.JSONEncodeError):
        pieces = []
    if len(pieces) != len(objects):
        pieces = []
        for i, value in enumerate(objects):
            try:
                pieces.append(_dumps(value))
            except (TypeError, orjson.JSONEncodeError):
                refused.append(i)
                pieces.append(json_text(value).encode())
    sizes = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    data = pa.py_buffer(b"".join(pieces))
    return pa.LargeStringArray.from_buffers(len(pieces), pa.py_buffer(offsets), data), refused


def json_text(value: object) -> str:
    """JSON text of a value orjson refuses: an integer past 64 bits, text that is not UTF-8
    (a lone surrogate), nesting past 254 levels, a value of no JSON type. Python's ``json``
    writes it exactly where it can (non-ASCII escaped); otherwise
    :func:`sessionkit.jsonparse.dumps_text` writes it, with what JSON cannot hold as its
    text."""
    try:
        return json.dumps(
            value, ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=_refuse
        )
    except (TypeError, ValueError, RecursionError):
        return jsonparse.dumps_text(value)


def _refuse(value: object) -> object:
    raise TypeError(f"{type(value).__name__} has no JSON form")


def spread(values: pa.Array, rows: np.ndarray, n: int) -> pa.Array:
    """An array of ``n`` rows holding ``values[i]`` at row ``rows[i]`` (ascending), missing
    elsewhere: built from ``values``' own buffers (text stays where it is; only offsets and
    validity are laid out again), so it costs a few numpy passes, not a gather per row."""
    if not len(rows):
        return pa.nulls(n, values.type)
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if values.offset:
        values = pa.concat_arrays([values])  # a slice: rebase its buffers at zero
    valid = np.zeros(n, dtype=bool)
    valid[rows] = np.asarray(values.is_valid())
    validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        wide_offsets = pa.types.is_large_string(kind)
        dtype = np.int64 if wide_offsets else np.int32
        offsets = np.frombuffer(values.buffers()[1], dtype=dtype, count=len(values) + 1)
        lengths = np.zeros(n, dtype=np.int64)
        lengths[rows] = np.diff(offsets)
        full = np.empty(n + 1, dtype=np.int64)
        full[0] = offsets[0]
        np.cumsum(lengths, out=full[1:])
        full[1:] += offsets[0]
        data = values.buffers()[2]
        return pa.LargeStringArray.from_buffers(
            n, pa.py_buffer(full), data, validity, n - int(valid.sum())
        )
    numbers = np.zeros(n, dtype=np.int64)
    numbers[rows] = np.asarray(values.fill_null(0))
    return pa.Array.from_buffers(
        kind, n, [validity, pa.py_buffer(numbers)], null_count=n - int(valid.sum())
    )
