"""Pure frame building: API records (or raw page bytes) in, typed DataFrames out. No I/O.

Two roads lead to the same frame:

* **Pages** (:func:`sessions_table_from_pages`): the raw bytes of ``GET /session`` bodies are
  parsed natively by ``pyarrow.json`` against an explicit wire schema — no Python object per
  record, both cores used (``benchmarks/bench_frames.py``: 7.7× faster than the hand-written
  ``json_normalize`` path). Free-form ``metadata`` and unknown fields are inferred by Arrow.
  When Arrow cannot read a batch (a value of the wrong type, metadata keys whose type changes
  between records) the batch is re-read on the records road, which never fails.
* **Records** (:func:`sessions_frame`, :func:`eval_runs_frame`, ...): lists of dicts, each field
  checked value by value. A value that does not fit its column becomes missing, the row is
  kept, and one :class:`~sessionkit.errors.SchemaWarning` per field says how many values and
  gives an example id; with ``strict=True`` a :class:`~sessionkit.errors.SchemaError` is
  raised instead.

Both roads produce an Arrow table with canonical types (string, timestamp[ns, UTC],
duration[ns], bool, int64, float64, list<string>); :func:`to_pandas` applies
:mod:`sessionkit.schema` to give the final dtypes. Walks convert pages batch by batch and
concatenate tables at the end (:func:`concat_tables`), so raw pages are never all held at once.

Free-form values (``metadata.<key>`` columns, unknown fields, ``result.<key>`` of eval runs)
follow one rule on both roads, per batch and when batches, pages or stored files meet
(:func:`free_type`, :func:`join_types`): a column whose values are all strings, all booleans,
all numbers (integers within ±2**53 — exact as a float64 — and fractions: ``float64``; only
integers: ``Int64``) or all lists of such values keeps that type; any other column (kinds
mixed, an integer past ±2**53, objects) holds each value's JSON text (:data:`JSON`,
``jsonparse.dumps_text``: ``1`` and ``"1"`` stay apart, every integer is exact) and a
:class:`~sessionkit.errors.SchemaWarning` names it with the count of each kind. Column
names are the key path, one segment a key (:func:`key_segment`): a key holding a dot is
quoted, so ``{"x": {"y": 1}}`` is ``metadata.x.y`` and ``{"x.y": 1}`` is ``metadata."x.y"``.
"""

from __future__ import annotations

import gc
import io
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from . import jsonparse, schema, timestamps
from .errors import BadResponseError, SchemaError, SchemaWarning
from .errors import warn as errors_warn
from .schema import Column

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
EXACT_INT = jsonparse.EXACT_INT

#: The Arrow type of a column that holds each value's JSON text (the canonical ``arrow.json``
#: extension type, kept by Parquet): a free-form column whose values no other type holds
#: exactly. In a frame it is a ``string`` column named in ``frame.attrs[JSON_COLUMNS]``.
JSON = pa.json_(pa.string())
#: The key of ``DataFrame.attrs`` listing a frame's JSON-text columns (sorted names).
JSON_COLUMNS = "json_columns"

_WIRE_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "timestamp": pa.string(),
    "int": pa.int64(),
    "ns": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "string_list": pa.list_(pa.string()),
}
_TYPED_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "timestamp": pa.timestamp("ns", tz="UTC"),
    "int": pa.int64(),
    "ns": pa.duration("ns"),
    "ms": pa.duration("ns"),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "string_list": pa.list_(pa.string()),
    "json": pa.string(),
}
#: Session fields that are never columns of the sessions frame.
_SESSION_SKIP = frozenset({"timeline", "metadata"})


# --------------------------------------------------------------------------- problems


#: Entities whose rows the example ids of :class:`Problems` identify (a session's id, an eval
#: run's id): their counts are of distinct rows, as a walk reads a row again where pages
#: overlap. Logs and agents give their session's id: every line counts.
_ROW_IDS = frozenset({"sessions", "eval_runs"})


@dataclass
class Problems:
    """Values that did not fit their column, collected while building one frame."""

    entity: str
    strict: bool = False
    found: dict[str, list[Any]] = field(default_factory=dict)  # field -> [count, example id, value]
    #: field -> [count, example id, value, what]: values kept as they are but worth a word
    kept: dict[str, list[Any]] = field(default_factory=dict)
    #: field -> [kind -> count, example id]: columns whose values became JSON text
    widened: dict[str, list[Any]] = field(default_factory=dict)
    #: (what, field, row id) already counted (entities of :data:`_ROW_IDS` only)
    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def _first(self, what: str, name: str, row_id: object) -> bool:
        """Whether this row's value of ``name`` is to be counted (not counted before)."""
        if self.entity not in _ROW_IDS or not isinstance(row_id, str):
            return True
        key = (what, name, row_id)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def add(self, name: str, row_id: object, value: object, expected: str) -> None:
        """Record that ``value`` (of the row ``row_id``) is not a valid ``expected``."""
        if self.strict:
            raise SchemaError(
                f"{self.entity}.{name}: {_short(value)} is not {expected} "
                f"(row {row_id}); pass strict=False to keep the row with a missing value"
            )
        if self._first("found", name, row_id):
            entry = self.found.setdefault(name, [0, row_id, value, expected])
            entry[0] += 1

    def keep(self, name: str, row_id: object, value: object, what: str) -> None:
        """Record a value of ``name`` kept as it is although ``what`` (it is reported, never
        changed)."""
        if self._first("kept", name, row_id):
            entry = self.kept.setdefault(name, [0, row_id, value, what])
            entry[0] += 1

    def widen(self, name: str, row_id: object, kind: str) -> None:
        """Record that the value of ``name`` in row ``row_id``, of ``kind``
        (:func:`value_kind`), became JSON text."""
        if self._first("widened", name, row_id):
            kinds = self.widened.setdefault(name, [{}, row_id])[0]
            kinds[kind] = kinds.get(kind, 0) + 1

    def note_infinite(self, table: pa.Table) -> None:
        """:meth:`keep` the infinite values of ``table``'s number columns (and lists of
        numbers): JSON has no infinity, so each is an ``Infinity`` literal or a number past a
        double's range (``1e400``); both read as ``inf``, which is kept and said."""
        ids = table.column("id") if "id" in table.column_names else None
        what = "infinite: an Infinity literal or a number past a double's range (such as 1e400)"
        for name, column in zip(table.column_names, table.columns, strict=True):
            if not (pa.types.is_floating(column.type) or pa.types.is_list(column.type)):
                continue
            values: Any = column.combine_chunks()
            rows: Any = None  # the row of each value, once lists are flattened
            while pa.types.is_list(values.type):
                parents = pc.list_parent_indices(values)
                rows = parents if rows is None else pc.take(rows, parents)
                values = pc.list_flatten(values)
            if not pa.types.is_floating(values.type):
                continue
            infinite = pc.fill_null(pc.is_inf(values), False)
            if not pc.any(infinite).as_py():
                continue
            where = pc.indices_nonzero(infinite)
            at = where if rows is None else pc.take(rows, where)
            for row, value in zip(at.to_pylist(), pc.take(values, where).to_pylist(), strict=True):
                self.keep(name, row if ids is None else ids[row].as_py(), value, what)

    def warn(self) -> None:
        """Emit one :class:`SchemaWarning` per field that had problems."""
        for name, (kinds, row_id) in self.widened.items():
            errors_warn(
                widened_text(f"{self.entity}.{name}", kinds, row_id), SchemaWarning, stacklevel=4
            )
        for name, (count, row_id, value, what) in self.kept.items():
            errors_warn(
                f"{self.entity}.{name}: {count} value(s) are {what}; kept as {_short(value)} "
                f"(e.g. row {row_id}).",
                SchemaWarning,
                stacklevel=4,
            )
        for name, (count, row_id, value, expected) in self.found.items():
            errors_warn(
                f"{self.entity}.{name}: {count} value(s) could not be read as {expected} and were "
                f"set to missing (e.g. row {row_id}: {_short(value)}); the rows were kept. "
                "Pass strict=True to raise instead.",
                SchemaWarning,
                stacklevel=4,
            )


def widened_text(column: str, kinds: Mapping[str, int], row_id: object = None) -> str:
    """The warning that values of ``column`` (``kinds``: kind → count) became JSON text."""
    total = sum(kinds.values())
    listed = ", ".join(f"{count:,} {kind}" for kind, count in sorted(kinds.items()))
    example = "" if row_id is None else f" (e.g. row {row_id})"
    return (
        f"{column}: {total:,} value(s) ({listed}) became JSON text{example}: values of "
        "different kinds (or integers past ±2**53) share no exact column type, so the column "
        'holds each value\'s JSON text — strings in quotes (1 and "1" stay apart), integers '
        "exact, an infinite number as Infinity; json.loads(text) gives each value back."
    )


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- value checks


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if INT64_MIN <= value <= INT64_MAX else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        result = int(value)
        return result if INT64_MIN <= result <= INT64_MAX else None
    return None


def _as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return None
    return None


_Checker = Callable[[object], object]


def _check_string(value: object) -> object:
    return value if isinstance(value, str) else _INVALID


def _check_bool(value: object) -> object:
    return value if isinstance(value, bool) else _INVALID


def _check_int(value: object) -> object:
    result = _as_int(value)
    return _INVALID if result is None else result


def _check_float(value: object) -> object:
    result = _as_float(value)
    return _INVALID if result is None else result


def _check_ns(value: object) -> object:
    result = _as_int(value)
    # -2**63 is pandas' missing-value marker (NaT): it cannot be a duration of a frame
    return _INVALID if result is None or result == INT64_MIN else result


def _check_ms(value: object) -> object:
    result = _as_float(value)
    if result is None or not math.isfinite(result):
        return _INVALID
    ns = round(result * 1_000_000)
    return ns if INT64_MIN < ns <= INT64_MAX else _INVALID


def _check_string_list(value: object) -> object:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return _INVALID


class _Invalid:
    __slots__ = ()


_INVALID = _Invalid()

_CHECKERS: dict[str, tuple[_Checker, str]] = {
    "string": (_check_string, "a string"),
    "timestamp": (_check_string, "an RFC 3339 timestamp"),
    "int": (_check_int, "an integer"),
    "ns": (_check_ns, "integer nanoseconds above -2**63"),
    "ms": (_check_ms, "milliseconds (a number)"),
    "float": (_check_float, "a number"),
    "bool": (_check_bool, "a boolean"),
    "string_list": (_check_string_list, "a list of strings"),
    "json": (_check_string, "a JSON string"),
}


def _column_from_values(
    values: Sequence[object], col: Column, ids: Sequence[object], problems: Problems
) -> pa.Array:
    """Check ``values`` against ``col`` and return an Arrow array of its typed form."""
    checker, expected = _CHECKERS[col.wire]
    clean: list[object] = []
    append = clean.append
    for value, row_id in zip(values, ids, strict=True):
        if value is None:
            append(None)
            continue
        checked = checker(value)
        if checked is _INVALID:
            problems.add(col.name, row_id, value, expected)
            append(None)
        else:
            append(checked)
    if col.wire == "timestamp":
        return parse_timestamps(pa.array(clean, pa.string()), col.name, ids, problems)
    if col.wire == "ns" or col.wire == "ms":
        return pa.array(clean, pa.int64()).cast(pa.duration("ns"))
    return pa.array(clean, _TYPED_ARROW[col.wire])


def parse_timestamps(
    strings: pa.Array | pa.ChunkedArray,
    name: str,
    ids: Sequence[object] | pa.Array | pa.ChunkedArray,
    problems: Problems,
) -> pa.Array | pa.ChunkedArray:
    """RFC 3339 strings → ``timestamp[ns, UTC]``, exact to the nanosecond, as
    :func:`sessionkit.timestamps.parse` reads them (``Z`` or an offset, 0–9 fractional
    digits, a lower-case ``t``/``z``, a leap second read as the next instant). Strings it
    cannot read (no zone, garbage, more than 9 digits) become missing and are reported: a
    time without a zone is never read as local time.
    """
    values, bad = timestamps.parse(strings)
    if bad:
        texts = strings.to_pylist()
        for i in bad:
            row_id = ids[i] if not isinstance(ids, pa.Array | pa.ChunkedArray) else ids[i].as_py()
            problems.add(name, row_id, texts[i], "an RFC 3339 timestamp with a zone")
    return values


# --------------------------------------------------------------------------- records road


def _records_table(
    records: Sequence[Mapping[Any, Any]],
    cols: Sequence[Column],
    problems: Problems,
    *,
    id_field: str = "id",
    extras: bool = True,
    skip: frozenset[str] = frozenset(),
    expand: Mapping[Any, tuple[str, bool]] | None = None,
) -> pa.Table:
    """Build a typed Arrow table from dict records, checking every value.

    ``expand`` maps a field holding an object to ``(prefix, nested)``: its keys become
    ``prefix + key`` columns, nested objects joined with dots when ``nested``
    (:func:`_flatten_object`; a key whose value is null in every row gives no column, as on the
    page road, where null and absent are one). Fields not in ``cols`` (and not skipped) are
    kept as extra columns (:func:`~sessionkit.schema.extra_name`) when ``extras``. Free-form
    columns follow :func:`free_column`; infinite numbers are reported
    (:meth:`Problems.note_infinite`).
    """
    good = [r for r in records if isinstance(r, Mapping)]
    if len(good) != len(records):
        problems.add(
            "<record>", "?", next(r for r in records if not isinstance(r, Mapping)), "an object"
        )
    ids = [r.get(id_field) for r in good]
    arrays: dict[str, pa.Array] = {}
    for col in cols:
        arrays[col.name] = _column_from_values([r.get(col.name) for r in good], col, ids, problems)
    known = {c.name for c in cols} | set(skip) | set(expand or {})
    if extras:
        extra_names: dict[str, None] = {}
        for r in good:
            for key in r:
                if key not in known:
                    extra_names.setdefault(key, None)
        for key in extra_names:
            name = schema.extra_name(str(key))
            _add_column(arrays, name, free_column([r.get(key) for r in good], name, ids, problems))
    for source, (prefix, nested) in (expand or {}).items():
        flat: list[dict[str, object]] = []
        for r, row_id in zip(good, ids, strict=True):
            value = r.get(source)
            if value is not None and not isinstance(value, Mapping):
                problems.add(prefix.rstrip("."), row_id, value, "a JSON object")
            flat.append(_flatten_object(value, prefix, nested=nested))
        keys: dict[str, None] = {}
        for row in flat:
            keys.update((k, None) for k, v in row.items() if v is not None)
        for key in keys:
            _add_column(
                arrays, key, free_column([row.get(key) for row in flat], key, ids, problems)
            )
    table = (
        pa.table(arrays)
        if arrays
        else pa.table({c.name: pa.array([], _TYPED_ARROW[c.wire]) for c in cols})
    )
    problems.note_infinite(table)
    return table


def _add_column(arrays: dict[str, pa.Array], name: str, array: pa.Array) -> None:
    """``arrays[name] = array``; a name already there is a bug of the naming rule (it would
    lose a column), never silently resolved."""
    if name in arrays:
        raise AssertionError(f"two columns would be named {name!r}")
    arrays[name] = array


def key_segment(key: object) -> str:
    """One key of a column's path as written in the column name: the key itself, or its JSON
    string literal (``"x.y"``, ``""``) when it holds a dot, is empty or starts with a double
    quote — so every path has its own name: ``{"x": {"y": 1}}`` gives ``x.y`` and
    ``{"x.y": 1}`` gives ``"x.y"`` (the name reads back unambiguously: a segment is a JSON
    string literal or runs to the next dot)."""
    text = key if isinstance(key, str) else str(key)
    if text and "." not in text and not text.startswith('"'):
        return text
    return orjson.dumps(text).decode()


def _flatten_object(value: object, prefix: str, *, nested: bool = True) -> dict[str, object]:
    """``{"a": {"b": 1}, "c": 2}`` → ``{prefix+"a.b": 1, prefix+"c": 2}``, in key order, each
    key written by :func:`key_segment` (``{"x.y": 1}`` → ``{prefix+'"x.y"': 1}``).

    Lists stay values; an empty object adds no key (as on the Arrow road). Iterative, so a
    deeply nested object cannot exhaust the stack. ``nested=False``: only the first level is
    expanded (an object value stays a value).
    """
    out: dict[str, object] = {}
    if not isinstance(value, Mapping):
        return out
    stack: list[tuple[str, Any]] = [(prefix, iter(value.items()))]
    while stack:
        pre, items = stack[-1]
        for key, item in items:
            name = pre + key_segment(key)
            if nested and isinstance(item, Mapping):
                stack.append((name + ".", iter(item.items())))
                break
            out[name] = item
        else:
            stack.pop()
    return out


# --------------------------------------------------------------------------- free-form values

#: Lists nested deeper than this are kept as JSON text (their type is not worked out).
_LIST_DEPTH = 32


def _is_json(t: pa.DataType) -> bool:
    return isinstance(t, pa.JsonType)


def free_type(values: Sequence[object], _depth: int = 0) -> pa.DataType:
    """The column type of free-form values (decoded JSON): ``null`` when all are null,
    ``string``, ``bool``, ``int64`` (integers within ±:data:`EXACT_INT`), ``float64``
    (numbers, those integers among them — each exact), ``list<T>`` of lists whose pooled
    items have type ``T``; :data:`JSON` for anything else (kinds mixed, an integer past
    ±2**53, an object)."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if not kinds:
        return pa.null()
    if kinds == {str}:
        return pa.string()
    if kinds == {bool}:
        return pa.bool_()
    if kinds <= {int, float}:
        if int in kinds:
            ints = [v for v in values if type(v) is int]
            if max(ints) > EXACT_INT or min(ints) < -EXACT_INT:
                return JSON
        return pa.int64() if kinds == {int} else pa.float64()
    if kinds == {list} and _depth < _LIST_DEPTH:
        items = [item for v in values if v is not None for item in v]  # type: ignore[attr-defined]
        inner = free_type(items, _depth + 1)
        return JSON if _is_json(inner) else pa.list_(inner)
    return JSON


def value_kind(value: object) -> str:
    """The JSON kind of a (non-null) value as warnings name it: ``string``, ``integer``,
    ``integer past ±2**53``, ``number``, ``infinite number``, ``boolean``, ``list``,
    ``object``."""
    t = type(value)
    if t is bool:
        return "boolean"
    if t is int:
        return "integer" if -EXACT_INT <= value <= EXACT_INT else "integer past ±2**53"  # type: ignore[operator]
    if t is float:
        return "number" if math.isfinite(value) else "infinite number"  # type: ignore[arg-type]
    if t is str:
        return "string"
    if t is list:
        return "list"
    return "object" if isinstance(value, Mapping) else t.__name__


def json_array(values: Sequence[object]) -> pa.Array:
    """``values`` as a :data:`JSON` array: each value's JSON text (``jsonparse.dumps_text``),
    nulls kept."""
    storage = pa.array(
        [None if v is None else jsonparse.dumps_text(v) for v in values], pa.string()
    )
    return pa.ExtensionArray.from_storage(JSON, storage)


def free_column(
    values: Sequence[object], name: str, ids: Sequence[object], problems: Problems
) -> pa.Array:
    """The Arrow array of a free-form column (type by :func:`free_type`). A column that
    becomes JSON text is recorded (:meth:`Problems.widen`) unless every value is an object
    (an object has no other form)."""
    t = free_type(values)
    if not _is_json(t):
        return pa.array(values, t, from_pandas=False)
    kinds = [None if v is None else value_kind(v) for v in values]
    if set(kinds) - {None, "object"}:
        for kind, row_id in zip(kinds, ids, strict=True):
            if kind is not None:
                problems.widen(name, row_id, kind)
    return json_array(values)


# --------------------------------------------------------------------------- sessions


def sessions_table_from_records(
    records: Sequence[Mapping[str, Any]], *, strict: bool = False, problems: Problems | None = None
) -> pa.Table:
    """Session objects (dicts) → typed Arrow table (fixed columns, extras, ``metadata.*``)."""
    own = problems is None
    problems = problems or Problems("sessions", strict)
    table = _records_table(
        records,
        schema.SESSION_COLUMNS,
        problems,
        skip=_SESSION_SKIP,
        expand={"metadata": ("metadata.", True)},
    )
    if own:
        problems.warn()
    return table


def _wire_struct() -> pa.DataType:
    return pa.struct([pa.field(c.name, _WIRE_ARROW[c.wire]) for c in schema.SESSION_COLUMNS])


_PAGE_SCHEMA = pa.schema(
    [pa.field("success", pa.bool_()), pa.field("data", pa.list_(_wire_struct()))]
)


def sessions_table_from_pages(
    pages: Sequence[bytes], *, strict: bool = False, problems: Problems | None = None
) -> pa.Table:
    """Raw ``GET /session`` bodies → typed Arrow table, parsed natively by Arrow.

    Each body must be a complete ``{"success": true, "data": [...]}`` envelope (the client
    checks that before handing it over). Falls back to the records road for the batch when
    Arrow cannot read it, so the result never depends on which road was taken.
    """
    own = problems is None
    problems = problems or Problems("sessions", strict)
    if not pages:
        return _empty_table(schema.SESSION_COLUMNS)
    try:
        table = _native_sessions(pages, problems)
        problems.note_infinite(table)
    except (pa.ArrowException, _Fallback):  # any doubt about the batch: the records road
        records: list[Mapping[str, Any]] = []
        for page in pages:
            records.extend(jsonparse.loads(page)["data"])
        table = sessions_table_from_records(records, strict=strict, problems=problems)
    if own:
        problems.warn()
    return table


class _Fallback(Exception):
    """Arrow read the batch but something needs the records road (e.g. a value out of range)."""


def _native_sessions(pages: Sequence[bytes], problems: Problems) -> pa.Table:
    try:  # one JSON document per line: re-encode the (rare) pages that contain newlines
        parts = [p if b"\n" not in p else orjson.dumps(orjson.loads(p)) for p in pages]
    except (orjson.JSONDecodeError, orjson.JSONEncodeError) as exc:  # e.g. nested too deep
        raise _Fallback(str(exc)) from exc
    buffer = b"\n".join(parts)
    block = max(1 << 20, 2 * max(len(p) for p in parts) + 16)
    raw = _read_json(buffer, block, _PAGE_SCHEMA)
    if _has_timestamp(raw.schema.field("data").type):
        # Arrow reads free text that looks like a time as a timestamp (and drops its zone):
        # read the batch again with those fields as the strings they are
        raw = _read_json(buffer, block, _strings_for_timestamps(raw.schema))
    data = pc.list_flatten(raw.column("data"))
    if isinstance(data, pa.ChunkedArray):
        data = data.combine_chunks()
    struct: pa.StructArray = data
    ids = struct.field("id")
    arrays: dict[str, pa.Array] = {}
    for col in schema.SESSION_COLUMNS:
        values = struct.field(col.name)
        if col.wire == "timestamp":
            arrays[col.name] = parse_timestamps(values, col.name, ids, problems)
        elif col.wire == "ns":
            arrays[col.name] = _durations(values, col.name, ids, problems)
        else:
            arrays[col.name] = values
    fixed = {c.name for c in schema.SESSION_COLUMNS}
    for i in range(struct.type.num_fields):
        name = struct.type.field(i).name
        if name in fixed or name == "timeline":
            continue
        child = struct.field(i)
        if name == "metadata":
            for key, array in _flatten_struct(child, "metadata.").items():
                _add_column(arrays, key, array)
        elif pa.types.is_struct(child.type):
            raise _Fallback(name)  # an unknown object field: let the records road keep it as JSON
        else:
            _add_column(arrays, schema.extra_name(name), _native_free(child))
    return pa.table(arrays)


def _read_json(buffer: bytes, block: int, explicit: pa.Schema) -> pa.Table:
    return pj.read_json(
        io.BytesIO(buffer),
        read_options=pj.ReadOptions(block_size=block),
        parse_options=pj.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="infer"),
    )


def _has_timestamp(t: pa.DataType) -> bool:
    if pa.types.is_timestamp(t):
        return True
    if pa.types.is_struct(t):
        return any(_has_timestamp(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_list(t):
        return _has_timestamp(t.value_type)
    return False


def _strings_for_timestamps(sch: pa.Schema) -> pa.Schema:
    def fix(t: pa.DataType) -> pa.DataType:
        if pa.types.is_timestamp(t):
            return pa.string()
        if pa.types.is_struct(t):
            return pa.struct(
                [t.field(i).with_type(fix(t.field(i).type)) for i in range(t.num_fields)]
            )
        if pa.types.is_list(t):
            return pa.list_(t.value_field.with_type(fix(t.value_type)))
        return t

    return pa.schema([f.with_type(fix(f.type)) for f in sch])


def _native_free(array: pa.Array) -> pa.Array:
    """A free-form column as Arrow inferred it, when that is what :func:`free_column` gives
    for the same values; raises :class:`_Fallback` otherwise (an integer past ±2**53, which
    Arrow keeps as ``int64`` or rounds into a ``double``; objects inside lists)."""
    t = array.type
    if pa.types.is_null(t) or pa.types.is_boolean(t) or pa.types.is_string(t):
        return array
    if t == pa.int64() or t == pa.float64():
        low, high = pc.min_max(array).values()  # (abs() of -2**63 overflows)
        edge = EXACT_INT if t == pa.int64() else EXACT_INT - 1  # a float there may be rounded
        if low.is_valid and (low.as_py() < -edge or high.as_py() > edge):
            raise _Fallback("a number past 2**53")
        return array
    if pa.types.is_list(t):
        _native_free(pc.list_flatten(array))
        return array
    raise _Fallback(str(t))


def _durations(values: pa.Array, name: str, ids: pa.Array, problems: Problems) -> pa.Array:
    """Integer nanoseconds → ``duration[ns]``; ``-2**63`` (pandas' NaT marker, which would
    turn into a missing value unannounced) is reported and set to missing."""
    marker = pc.fill_null(pc.equal(values, pa.scalar(INT64_MIN, pa.int64())), False)
    if pc.any(marker).as_py():
        for i in pc.indices_nonzero(marker).to_pylist():
            problems.add(name, ids[i].as_py(), INT64_MIN, "integer nanoseconds above -2**63")
        values = pc.if_else(marker, pa.scalar(None, pa.int64()), values)
    return values.cast(pa.duration("ns"))


def _flatten_struct(array: pa.Array, prefix: str) -> dict[str, pa.Array]:
    """A struct column → ``prefix+key`` columns named as :func:`_flatten_object` names them,
    nested structs joined with dots; a key that is null in every row gives no column (Arrow
    reads a missing key as null: the records road drops such keys too)."""
    if not pa.types.is_struct(array.type):
        if pa.types.is_null(array.type):
            return {}
        raise _Fallback(prefix)  # metadata that is not an object somewhere: records road decides
    out: dict[str, pa.Array] = {}
    valid = array.is_valid()
    for i in range(array.type.num_fields):
        name = prefix + key_segment(array.type.field(i).name)
        child = array.field(i)
        if pa.types.is_null(child.type):
            continue
        # a null struct row must give null children (StructArray.field ignores the parent mask)
        child = pc.if_else(valid, child, pa.scalar(None, child.type))
        if pa.types.is_struct(child.type):
            if child.type.num_fields == 0:
                continue
            for key, leaf in _flatten_struct(child, name + ".").items():
                _add_column(out, key, leaf)
        elif child.null_count < len(child):
            _add_column(out, name, _native_free(child))
    return out


# --------------------------------------------------------------------------- tables → pandas


def _empty_table(cols: Sequence[Column]) -> pa.Table:
    return pa.table({c.name: pa.array([], _TYPED_ARROW[c.wire]) for c in cols})


class _WalkPage(Protocol):
    @property
    def ids(self) -> tuple[str, ...]: ...

    @property
    def repeated(self) -> frozenset[str]: ...


def drop_repeated(table: pa.Table, pages: Sequence[_WalkPage]) -> pa.Table:
    """``table`` (the rows of ``pages``, parsed in order) without the rows each page repeats
    from the walk's previous page (:attr:`sessionkit.client.Page.repeated`).

    Dropping them per batch, before the frame is built, keeps a walk's peak memory near the
    frame's size (no de-duplicating copy of the whole frame at the end).
    """
    listed = sum(len(page.ids) for page in pages)
    if listed != table.num_rows:
        # the walk read the ids with one parser, the rows were built with another: a body
        # with a key twice ("data" or "id") reads differently to each; nothing is guessed
        raise BadResponseError(
            f"GET /session: {table.num_rows:,} rows were parsed from pages whose envelopes "
            f"list {listed:,}; a body that repeats a key ('data' or 'id' twice) reads "
            "differently to different JSON parsers, so these pages are refused."
        )
    if table.num_rows and "id" in table.column_names:  # the same rows, in the same order?
        expected = pa.array([i for page in pages for i in page.ids], pa.string())
        keyed = pc.invert(pc.starts_with(expected, "\0"))  # rows with a usable id
        differ = pc.and_(keyed, pc.fill_null(pc.not_equal(expected, table["id"]), True))
        if pc.any(differ).as_py():
            raise BadResponseError(
                "GET /session: the ids parsed from the page bodies differ from the ids their "
                "envelopes were checked with (e.g. a row with 'id' twice reads differently to "
                "different JSON parsers), so these pages are refused."
            )
    if not any(page.repeated for page in pages):
        return table
    keep = [sid not in page.repeated for page in pages for sid in page.ids]
    return table.filter(pa.array(keep, pa.bool_()))


def concat_tables(tables: Sequence[pa.Table], cols: Sequence[Column]) -> pa.Table:
    """Concatenate batch tables whose extra columns may differ (missing ones become null).

    A column whose types differ between batches (free-form values) takes the type
    :func:`join_types` gives — the type one batch of all the rows would have had — so the
    result does not depend on where batches were cut. Values that become JSON text are
    reported in one :class:`~sessionkit.errors.SchemaWarning` per column.
    """
    tables = [t for t in tables if t.num_rows] or list(tables[:1]) or [_empty_table(cols)]
    if len(tables) == 1:
        return tables[0]
    first = tables[0].schema
    if all(t.schema.equals(first) for t in tables[1:]):
        return pa.concat_tables(tables)
    target = unify_schemas([t.schema for t in tables])
    kinds: dict[str, dict[str, int]] = {}
    fixed: list[pa.Table] = []
    for t in tables:
        present = dict(zip(t.column_names, t.columns, strict=True))
        arrays = []
        for f in target:
            column = present.get(f.name)
            if column is None:
                arrays.append(pa.nulls(t.num_rows, f.type))
                continue
            if _is_json(f.type) and not _is_json(column.type) and column.null_count < len(column):
                counts = kinds.setdefault(f.name, {})  # values that become JSON text here
                kind = _type_kind(column.type)
                counts[kind] = counts.get(kind, 0) + len(column) - column.null_count
            arrays.append(cast_or_text(column, f.type))
        fixed.append(pa.Table.from_arrays(arrays, schema=target))
    entity = next((e for e in schema.ENTITIES if schema.columns(e) == tuple(cols)), "rows")
    for name, counts in kinds.items():
        errors_warn(widened_text(f"{entity}.{name}", counts), SchemaWarning, stacklevel=2)
    return pa.concat_tables(fixed)


# --------------------------------------------------------------------------- type clashes
# The one rule for a column whose type differs between batches, pages or stored files
# (free-form values): join_types. Used by concat_tables above and by the store's writer and
# reader (sessionkit.store._arrow.conform), so a store holds what one load of its rows gives.

_CLASH = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


def join_types(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The type of a column whose values have type ``a`` in some rows and ``b`` in others: the
    type :func:`free_type` gives all of them. ``null`` gives way; ``int64`` and ``float64``
    give ``float64`` (exact: a free ``int64`` column holds integers within ±2**53 only); lists
    join item types; :data:`JSON` (each value's JSON text) when nothing else holds both.
    Other types (the contract's) join by Arrow's permissive promotion, else JSON."""
    if a == b:
        return a
    if pa.types.is_null(a) or pa.types.is_null(b):
        return b if pa.types.is_null(a) else a
    if _is_json(a) or _is_json(b):
        return JSON
    if {a, b} == {pa.int64(), pa.float64()}:
        return pa.float64()
    if all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in (a, b)):
        return pa.string()
    if pa.types.is_list(a) and pa.types.is_list(b):
        inner = join_types(a.value_type, b.value_type)
        return JSON if _is_json(inner) else pa.list_(inner)
    if pa.types.is_list(a) or pa.types.is_list(b) or {a, b} & {pa.string(), pa.bool_()}:
        return JSON
    try:
        return (
            pa.unify_schemas(
                [pa.schema([pa.field("x", a)]), pa.schema([pa.field("x", b)])],
                promote_options="permissive",
            )
            .field("x")
            .type
        )
    except _CLASH:
        return JSON


def unify_schemas(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """The union of ``schemas``, fields in first-seen order, each of the type
    :func:`join_types` gives its types."""
    first = schemas[0]
    if all(s.equals(first) for s in schemas[1:]):
        return first
    types: dict[str, pa.DataType] = {}
    for sch in schemas:
        for f in sch:
            seen = types.get(f.name)
            types[f.name] = f.type if seen is None else join_types(seen, f.type)
    return pa.schema([pa.field(name, t) for name, t in types.items()])


def _type_kind(t: pa.DataType) -> str:
    """The kind of value (as :func:`value_kind` names them) a column of type ``t`` holds."""
    if _is_json(t):
        return "JSON text"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "list"
    return str(t)


def as_json(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``column`` as a :data:`JSON` array: each value's JSON text (strings quoted, nulls
    kept); a JSON column is returned as it is."""
    if _is_json(column.type):
        return column
    return json_array(column.to_pylist())


def cast_or_text(
    column: pa.Array | pa.ChunkedArray, target: pa.DataType, name: str | None = None
) -> pa.Array | pa.ChunkedArray:
    """``column`` as ``target``: :func:`as_json` when ``target`` is :data:`JSON` (with a
    :class:`~sessionkit.errors.SchemaWarning` naming column ``name``, when given, if values
    of another type became JSON text), else a plain cast (raising what the cast raises; a
    :class:`~sessionkit.errors.SchemaError` for integers that a float64 cannot hold exactly)."""
    if column.type == target:
        return column
    if _is_json(target):
        if name is not None and not _is_json(column.type) and column.null_count < len(column):
            kinds = {_type_kind(column.type): len(column) - column.null_count}
            errors_warn(widened_text(name, kinds), SchemaWarning, stacklevel=2)
        return as_json(column)
    try:
        return column.cast(target)
    except pa.ArrowInvalid as exc:
        if not (pa.types.is_integer(column.type) and pa.types.is_floating(target)):
            raise
        # only a store written before integers past 2**53 became JSON text holds such a column
        raise SchemaError(
            f"{name or 'a column'}: stored integers past ±2**53 cannot join a float64 column "
            "exactly (an earlier sessionkit stored them as int64); sync into a new store, "
            f"which keeps such a column as JSON text ({exc})"
        ) from exc


def values_of(column: pa.Array | pa.ChunkedArray) -> list[Any]:
    """The Python values of ``column``: a :data:`JSON` column's texts read back
    (``"1"`` → ``1``, ``'"1"'`` → ``"1"``), so values compare as the JSON values sent."""
    values = column.to_pylist()
    if not _is_json(column.type):
        return values
    return [None if v is None else jsonparse.loads(v.encode()) for v in values]


def mark_json(table: pa.Table, names: Iterable[str]) -> pa.Table:
    """``table`` with its text columns ``names`` typed :data:`JSON` again (a frame lists them
    in ``frame.attrs[JSON_COLUMNS]``; Arrow tables from pandas have lost the type)."""
    at = {name: i for i, name in enumerate(table.column_names)}
    for name in names:
        i = at.get(name)
        if i is not None and (
            pa.types.is_string(table.field(i).type) or pa.types.is_large_string(table.field(i).type)
        ):
            table = table.set_column(i, name, table.column(i).cast(pa.string()).cast(JSON))
    return table


def _pandas_type(arrow_type: pa.DataType) -> Any:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return schema.STRING
    if pa.types.is_boolean(arrow_type):
        return schema.BOOLEAN
    if pa.types.is_integer(arrow_type):
        return schema.INT64
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return pd.ArrowDtype(arrow_type)
    return None


def to_pandas(table: pa.Table, cols: Sequence[Column]) -> pd.DataFrame:
    """Typed Arrow table → DataFrame with the dtypes of ``cols``; fixed columns first.

    Every fixed column is present even when the table lacks it (all missing); unknown extra
    columns follow sorted by name, then ``metadata.*`` sorted by name — an order that does not
    depend on which record came first. :data:`JSON` columns become ``string`` columns listed
    in ``frame.attrs[JSON_COLUMNS]`` (absent when there are none).
    """
    n = table.num_rows
    for col in cols:
        if col.name not in table.column_names:
            table = table.append_column(col.name, pa.nulls(n, _TYPED_ARROW[col.wire]))
    # Each Arrow column is released as soon as it is converted, so a large table and its frame
    # are not both fully alive at the peak (when the caller hands over its only reference).
    columns = dict(zip(table.column_names, table.columns, strict=True))
    del table
    data: dict[str, Any] = {}
    for col in cols:
        data[col.name] = _series(columns.pop(col.name), col)
    extra = sorted(columns, key=lambda name: (name.startswith("metadata."), name))
    json_columns = []
    for name in extra:
        array = columns.pop(name)
        if pa.types.is_null(array.type):
            data[name] = pd.Series(pd.array([pd.NA] * n, dtype="object"), copy=False)
            continue
        if _is_json(array.type):
            json_columns.append(name)
            array = array.cast(pa.string())
        data[name] = array.to_pandas(types_mapper=_pandas_type)
        del array
    frame = pd.DataFrame(data, index=pd.RangeIndex(n))
    if json_columns:
        frame.attrs[JSON_COLUMNS] = json_columns
    return frame


def empty_as_missing(name: str, array: pa.Array | pa.ChunkedArray) -> Any:
    """``array`` with ``""`` made null when column ``name`` is one of
    :data:`~sessionkit.schema.EMPTY_IS_MISSING` (plain or dictionary-encoded text); other
    columns are returned as they are."""
    if name not in schema.EMPTY_IS_MISSING or not len(array):
        return array
    if pa.types.is_dictionary(array.type):
        array = array.cast(pa.string())
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, array.type), array)


def _series(array: pa.ChunkedArray, col: Column) -> pd.Series:
    if isinstance(col.dtype, pd.CategoricalDtype):  # before == "category", which it also equals
        return pd.Series(array.to_pandas(), copy=False).astype(col.dtype)
    if col.dtype == "category":
        if pa.types.is_null(array.type):
            array = array.cast(pa.string())
        array = empty_as_missing(col.name, array)
        return pd.Series(array.to_pandas(types_mapper=_pandas_type), copy=False).astype("category")
    if col.wire == "string_list":
        return array.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t))
    if col.dtype == schema.FLOAT64_NULLABLE:
        return array.to_pandas(types_mapper=lambda t: schema.FLOAT64_NULLABLE)
    if col.dtype == "float64":
        return array.to_pandas()
    series = array.to_pandas(types_mapper=_pandas_type)
    if col.wire in ("timestamp",):
        return series.astype(schema.TIMESTAMP)
    if col.wire in ("ns", "ms"):
        return series.astype("timedelta64[ns]")
    return series


def empty_frame(entity: str) -> pd.DataFrame:
    """A frame of ``entity`` with no rows but every column and dtype."""
    cols = schema.columns(entity)
    return to_pandas(_empty_table(cols), cols)


def sessions_frame(
    records: Sequence[Mapping[str, Any]] | Iterable[Mapping[str, Any]], *, strict: bool = False
) -> pd.DataFrame:
    """Session objects (dicts, as the API sends them) → the typed sessions frame."""
    table = sessions_table_from_records(list(records), strict=strict)
    return to_pandas(table, schema.SESSION_COLUMNS)


def sessions_frame_from_pages(pages: Sequence[bytes], *, strict: bool = False) -> pd.DataFrame:
    """Raw ``GET /session`` bodies → the typed sessions frame (the fast road)."""
    return to_pandas(sessions_table_from_pages(pages, strict=strict), schema.SESSION_COLUMNS)


# --------------------------------------------------------------------------- eval runs


def _eval_result(raw: object, row_id: object, problems: Problems) -> dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, str | bytes):
        try:  # jsonparse: integers past 64 bits stay exact
            raw = jsonparse.loads(raw.encode() if isinstance(raw, str) else raw)
        except jsonparse.JSONDecodeError:
            problems.add("result", row_id, raw, "a JSON object (or its text)")
            return {}
    if not isinstance(raw, Mapping):
        problems.add("result", row_id, raw, "a JSON object (or its text)")
        return {}
    return dict(raw)


#: Where :func:`eval_runs_frame` puts a run's ``result.metadata`` and its other ``result``
#: keys for :func:`_records_table`: keys no JSON field can have, so a field of the run's own
#: (even one called ``metadata``) is never overwritten.
_RESULT_METADATA, _RESULT_OTHER = object(), object()
_RESULT_KNOWN = frozenset({"passed", "score", "reason", "success", "error", "metadata"})


def eval_runs_frame(
    runs: Iterable[tuple[str, Mapping[str, Any]]], *, strict: bool = False
) -> pd.DataFrame:
    """``(session_id, eval_run)`` pairs → the typed eval-runs frame.

    ``result`` may be an object or its JSON text; its ``passed``, ``score``, ``reason``,
    ``success`` and ``error`` become columns, its ``metadata`` is expanded into
    ``metadata.<key>`` columns (named as the sessions' are) and its other keys become
    ``result.<key>`` columns. A field of the run itself named like those is kept as
    ``api.<name>`` (:func:`~sessionkit.schema.extra_name`).
    """
    problems = Problems("eval_runs", strict)
    flat: list[dict[Any, Any]] = []
    for session_id, run in runs:
        if not isinstance(run, Mapping):
            problems.add("<record>", session_id, run, "an object")
            continue
        result = _eval_result(run.get("result"), run.get("id"), problems)
        row: dict[Any, Any] = {k: v for k, v in run.items() if k != "result"}
        row["session_id"] = session_id
        row["passed"] = result.get("passed")
        row["score"] = result.get("score")
        row["reason"] = result.get("reason")
        row["result_success"] = result.get("success")
        row["result_error"] = result.get("error")
        row[_RESULT_METADATA] = result.get("metadata")
        row[_RESULT_OTHER] = {k: v for k, v in result.items() if k not in _RESULT_KNOWN}
        flat.append(row)
    table = _records_table(
        flat,
        schema.EVAL_RUN_COLUMNS,
        problems,
        expand={_RESULT_METADATA: ("metadata.", True), _RESULT_OTHER: ("result.", False)},
    )
    problems.warn()
    return to_pandas(table, schema.EVAL_RUN_COLUMNS)


# --------------------------------------------------------------------------- logs


def normalise_severity(raw: str) -> str:
    """``"warning"`` → ``"WARN"``, ``"Info"`` → ``"INFO"``; unknown spellings upper-cased."""
    upper = raw.strip().upper()
    return schema.SEVERITY_ALIASES.get(upper, upper)


def logs_frame(
    logs: Iterable[tuple[str, Mapping[str, Any]]], *, strict: bool = False
) -> pd.DataFrame:
    """``(session_id, log_line)`` pairs → the typed logs frame, sorted by session and time.

    ``severity`` is an ordered categorical TRACE < DEBUG < INFO < NOTICE < WARN < ERROR < FATAL.
    Spellings are case-normalised and aliased (``warning`` → WARN, ``critical`` → FATAL);
    unknown ones are kept as extra categories after FATAL and reported by a warning.
    ``severity_raw`` keeps the text exactly as sent.
    """
    problems = Problems("logs", strict)
    rows: list[dict[str, Any]] = []
    for session_id, line in logs:
        if not isinstance(line, Mapping):
            problems.add("<record>", session_id, line, "an object")
            continue
        row = dict(line)
        row["session_id"] = session_id
        row["severity_raw"] = line.get("severity")
        rows.append(row)
    cols = [c for c in schema.LOG_COLUMNS if c.name != "severity"]
    table = _records_table(
        rows, cols, problems, id_field="session_id", skip=frozenset({"severity"})
    )
    problems.warn()
    frame = to_pandas(table, cols)
    raw = frame["severity_raw"]
    normal = raw.map(normalise_severity, na_action="ignore")
    unknown = schema.unknown_severities(normal.dropna().unique())
    if unknown:
        if strict:
            raise SchemaError(f"logs.severity: unknown severities {unknown}")
        errors_warn(
            f"logs.severity: unknown severities {unknown} were kept as categories ordered after "
            "FATAL; the rows were kept.",
            SchemaWarning,
            stacklevel=2,
        )
    frame.insert(2, "severity", normal.astype(schema.severity_dtype(unknown)))
    frame = frame[
        [c.name for c in schema.LOG_COLUMNS]
        + [c for c in frame.columns if c not in {x.name for x in schema.LOG_COLUMNS}]
    ]
    if len(frame):
        frame = frame.sort_values(["session_id", "timestamp"], kind="stable", ignore_index=True)
    return frame


# --------------------------------------------------------------------------- agents


def agents_frame(
    agents: Iterable[tuple[str, Mapping[str, Any]]], *, strict: bool = False
) -> pd.DataFrame:
    """``(session_id, {"name", "identifier"})`` pairs → the typed agents frame."""
    problems = Problems("agents", strict)
    rows = []
    for session_id, agent in agents:
        if not isinstance(agent, Mapping):
            problems.add("<record>", session_id, agent, "an object")
            continue
        rows.append({**agent, "session_id": session_id})
    table = _records_table(rows, schema.AGENT_COLUMNS, problems, id_field="session_id")
    problems.warn()
    return to_pandas(table, schema.AGENT_COLUMNS)


def concat(frames: Iterable[pd.DataFrame], *, ignore_index: bool = True) -> pd.DataFrame:
    """Frames of one entity from several loads, stacked — like ``pd.concat`` but typed.

    Every load builds its ``category`` columns from the values it holds, so two loads (two
    agents, two windows, the API and the store) have different categories, and ``pd.concat``
    turns such columns into plain strings. This keeps them categorical, with the sorted union of the
    categories (an ordered category such as ``severity`` keeps its order); every other column
    stacks as ``pd.concat`` stacks it. Columns one frame lacks are missing in its rows.
    Returns the stacked frame (a new index unless ``ignore_index=False``).
    """
    frames = list(frames)
    if not frames:
        raise ValueError("concat() needs at least one frame")
    merged: dict[str, pd.CategoricalDtype] = {}
    for name in dict.fromkeys(c for f in frames for c in f.columns):
        dtypes = [f[name].dtype for f in frames if name in f.columns]
        if not all(isinstance(d, pd.CategoricalDtype) for d in dtypes):
            continue
        ordered = [d for d in dtypes if d.ordered]
        if ordered and all(d == ordered[0] for d in dtypes):
            merged[name] = ordered[0]
            continue
        union = {v for d in dtypes for v in d.categories}
        categories = pd.Index(sorted(union, key=str), dtype=dtypes[0].categories.dtype)
        merged[name] = pd.CategoricalDtype(categories, ordered=bool(ordered))
    aligned = [
        f.astype({k: v for k, v in merged.items() if k in f.columns}) if merged else f
        for f in frames
    ]
    out = pd.concat(aligned, ignore_index=ignore_index)
    return out.astype({k: v for k, v in merged.items() if out[k].dtype != v}) if merged else out


def sorted_table(table: pa.Table, key: str, direction: str) -> pa.Table:
    """``table`` (session rows) sorted by ``key`` then ``id`` (both in ``direction``), nulls
    last: the order of every sessions frame, from the API or a store.

    Rows already in that order (a store's scan is in created_at, id descending; a time walk
    is in start_time order) are checked (one vectorised comparison) instead of sorted, and
    their reverse is a reversal, not a sort.
    """
    n = table.num_rows
    if n < 2:
        return table
    if key in table.column_names and table[key].null_count == 0 and "id" in table.column_names:
        stamps = table[key]
        ids = table["id"]
        head, tail = stamps.slice(0, n - 1), stamps.slice(1)
        later = pc.greater(head, tail)
        tied = pc.and_(pc.equal(head, tail), pc.greater(ids.slice(0, n - 1), ids.slice(1)))
        if pc.all(pc.or_(later, tied)).as_py():
            if direction == "desc":
                return table
            return table.take(pa.array(np.arange(n - 1, -1, -1)))
    order = "ascending" if direction == "asc" else "descending"
    return table.sort_by([(key, order), ("id", order)])


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a frame is built from many small
    objects (a walk's envelope checks, the spans of many timelines): they hold no cycles, and
    with a large live heap (a notebook holding big frames) each full collection would
    traverse it again and again. The previous state is restored on exit."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
