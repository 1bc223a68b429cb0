"""Pure frame building: API records (or raw page bytes) in, typed DataFrames out. No I/O.

Two roads lead to the same frame:

* **Pages** (:func:`sessions_table_from_pages`): the raw bytes of ``GET /session`` bodies are
  parsed natively by ``pyarrow.json`` against an explicit wire schema — no Python object per
  record, both cores used (see ``shared/perf-notes.md``: 7.5× faster than the hand-written
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
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from . import jsonparse, schema
from .errors import BadResponseError, SchemaError, SchemaWarning
from .errors import warn as errors_warn
from .schema import Column

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

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


@dataclass
class Problems:
    """Values that did not fit their column, collected while building one frame."""

    entity: str
    strict: bool = False
    found: dict[str, list[Any]] = field(default_factory=dict)  # field -> [count, example id, value]
    #: field -> [count, example id, value, what]: values kept as they are but worth a word
    kept: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, name: str, row_id: object, value: object, expected: str) -> None:
        """Record that ``value`` (of the row ``row_id``) is not a valid ``expected``."""
        if self.strict:
            raise SchemaError(
                f"{self.entity}.{name}: {_short(value)} is not {expected} "
                f"(row {row_id}); pass strict=False to keep the row with a missing value"
            )
        entry = self.found.setdefault(name, [0, row_id, value, expected])
        entry[0] += 1

    def keep(self, name: str, row_id: object, value: object, what: str, count: int = 1) -> None:
        """Record ``count`` values of ``name`` kept as they are although ``what`` (they are
        reported, never changed)."""
        entry = self.kept.setdefault(name, [0, row_id, value, what])
        entry[0] += count

    def note_infinite(self, table: pa.Table) -> None:
        """:meth:`keep` the infinite values of ``table``'s number columns: JSON has no
        infinity, so each is an ``Infinity`` literal or a number past a double's range
        (``1e400``); both read as ``inf``, which is kept and said."""
        ids = table.column("id") if "id" in table.column_names else None
        for name in table.column_names:
            column = table.column(name)
            if not pa.types.is_floating(column.type):
                continue
            infinite = pc.fill_null(pc.is_inf(column), False)
            count = pc.sum(infinite.cast(pa.int64())).as_py() or 0
            if count:
                first = pc.index(infinite, True).as_py()
                row_id = ids[first].as_py() if ids is not None else first
                what = (
                    "infinite: an Infinity literal or a number past a double's range "
                    "(such as 1e400)"
                )
                self.keep(name, row_id, column[first].as_py(), what, count)

    def warn(self) -> None:
        """Emit one :class:`SchemaWarning` per field that had problems."""
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
    """RFC 3339 strings → ``timestamp[ns, UTC]``, exact to the nanosecond.

    Arrow's cast accepts ``Z`` and numeric offsets with 0–9 fractional digits. RFC 3339 also
    allows a lower-case ``t``/``z``, read the same, and a leap second (``23:59:60``), read as
    the next instant (``23:59:60.25Z`` is ``00:00:00.25Z`` of the next day: a
    ``datetime64[ns]`` has no 61st second). Strings still rejected (no zone, garbage, more
    than 9 digits) become missing and are reported: a time without a zone is never read as
    local time.
    """
    target = pa.timestamp("ns", tz="UTC")
    try:
        return strings.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values = strings.to_pylist()
    out: list[object] = []
    for i, text in enumerate(values):
        if text is None:
            out.append(None)
            continue
        try:
            out.append(_timestamp_ns(text, target))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            row_id = ids[i] if not isinstance(ids, pa.Array | pa.ChunkedArray) else ids[i].as_py()
            problems.add(name, row_id, text, "an RFC 3339 timestamp with a zone")
            out.append(None)
    return pa.array(out, target)


_LEAP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}):60(?=[.Z+-])")


def _timestamp_ns(text: str, target: pa.DataType) -> int:
    """One RFC 3339 string as nanoseconds since the epoch (see :func:`parse_timestamps`);
    raises ``ArrowInvalid`` when it is none."""
    try:
        return int(pa.scalar(text, pa.string()).cast(target).value)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        upper = text.upper()
        leap = _LEAP.match(upper)
        if leap is None and upper == text:
            raise
    if leap is None:
        return int(pa.scalar(upper, pa.string()).cast(target).value)
    plain = _LEAP.sub(r"\1:59", upper, count=1)
    return int(pa.scalar(plain, pa.string()).cast(target).value) + 1_000_000_000


# --------------------------------------------------------------------------- records road


def _records_table(
    records: Sequence[Mapping[str, Any]],
    cols: Sequence[Column],
    problems: Problems,
    *,
    id_field: str = "id",
    extras: bool = True,
    skip: frozenset[str] = frozenset(),
    expand: Mapping[str, str] | None = None,
) -> pa.Table:
    """Build a typed Arrow table from dict records, checking every value.

    ``expand`` maps a free-form object field to the column prefix its keys get
    (``{"metadata": "metadata."}``); fields not in ``cols`` (and not skipped) are kept as extra
    columns with an inferred type when ``extras``.
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
            arrays[schema.extra_name(key)] = _infer_array([r.get(key) for r in good])
    for source, prefix in (expand or {}).items():
        flat = [_flatten_object(r.get(source), prefix) for r in good]
        keys: dict[str, None] = {}
        for row in flat:
            keys.update(dict.fromkeys(row))
        for key in keys:
            if key not in arrays:
                arrays[key] = _infer_array([row.get(key) for row in flat])
    return (
        pa.table(arrays)
        if arrays
        else pa.table({c.name: pa.array([], _TYPED_ARROW[c.wire]) for c in cols})
    )


def _flatten_object(value: object, prefix: str) -> dict[str, object]:
    """``{"a": {"b": 1}, "c": 2}`` → ``{prefix+"a.b": 1, prefix+"c": 2}``, in key order.

    Lists stay values; an empty object adds no key (as on the Arrow road). Iterative, so a
    deeply nested object cannot exhaust the stack.
    """
    out: dict[str, object] = {}
    if not isinstance(value, Mapping):
        return out
    stack: list[tuple[str, Any]] = [(prefix, iter(value.items()))]
    while stack:
        pre, items = stack[-1]
        for key, item in items:
            name = f"{pre}{key}"
            if isinstance(item, Mapping):
                stack.append((name + ".", iter(item.items())))
                break
            out[name] = item
        else:
            stack.pop()
    return out


def _infer_array(values: list[object]) -> pa.Array:
    """An Arrow array for free-form values; mixed types fall back to their JSON text."""
    try:
        array = pa.array(values, from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return pa.array([None if v is None else _json_text(v) for v in values], pa.string())
    if pa.types.is_null(array.type):
        return array
    if pa.types.is_struct(array.type) or pa.types.is_map(array.type):
        return pa.array([None if v is None else _json_text(v) for v in values], pa.string())
    return array


def _json_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return jsonparse.dumps_text(value)


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
        expand={"metadata": "metadata."},
    )
    problems.note_infinite(table)
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
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, _Fallback):
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
    raw = pj.read_json(
        io.BytesIO(buffer),
        read_options=pj.ReadOptions(block_size=block),
        parse_options=pj.ParseOptions(
            explicit_schema=_PAGE_SCHEMA, unexpected_field_behavior="infer"
        ),
    )
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
            arrays.update(_flatten_struct(child, "metadata."))
        elif pa.types.is_struct(child.type):
            raise _Fallback(name)  # an unknown object field: let the records road keep it as JSON
        else:
            arrays[schema.extra_name(name)] = child
    return pa.table(arrays)


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
    """A struct column → ``prefix+field`` columns, nested structs joined with dots."""
    if not pa.types.is_struct(array.type):
        if pa.types.is_null(array.type):
            return {}
        raise _Fallback(prefix)  # metadata that is not an object somewhere: records road decides
    out: dict[str, pa.Array] = {}
    valid = array.is_valid()
    for i in range(array.type.num_fields):
        name = prefix + array.type.field(i).name
        child = array.field(i)
        # a null struct row must give null children (StructArray.field ignores the parent mask)
        child = pc.if_else(valid, child, pa.scalar(None, child.type))
        if pa.types.is_struct(child.type):
            if child.type.num_fields == 0:
                continue
            out.update(_flatten_struct(child, name + "."))
        elif pa.types.is_null(child.type):
            out[name] = child
        else:
            out[name] = child
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

    Columns whose types disagree between batches (free-form metadata) are turned into their
    JSON text so nothing is lost.
    """
    tables = [t for t in tables if t.num_rows] or list(tables[:1]) or [_empty_table(cols)]
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    target = unify_schemas([t.schema for t in tables])
    fixed: list[pa.Table] = []
    for t in tables:
        for i, name in enumerate(t.column_names):
            if pa.types.is_string(target.field(name).type) and not pa.types.is_string(
                t.field(i).type
            ):
                t = t.set_column(i, name, as_text(t.column(i)))
        fixed.append(t)
    return pa.concat_tables(fixed, promote_options="permissive")


# --------------------------------------------------------------------------- type clashes
# The one rule for a column whose type differs between batches, pages or stored files
# (free-form metadata): Arrow's permissive promotion where it settles the clash (int64 and
# double give double, null and anything give that thing), otherwise text — every value as its
# JSON text, strings as they are — so nothing is lost. Used by concat_tables above and by the
# store's writer and reader (sessionkit.store._arrow.conform).

_CLASH = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


def unify_schemas(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """The union of ``schemas``, fields in first-seen order; a type clash that Arrow's
    permissive promotion cannot settle becomes text (``string``)."""
    try:
        return pa.unify_schemas(list(schemas), promote_options="permissive")
    except _CLASH:
        pass
    types: dict[str, list[pa.DataType]] = {}
    for sch in schemas:
        for f in sch:
            types.setdefault(f.name, []).append(f.type)
    fields = []
    for name, ts in types.items():
        try:
            fields.append(
                pa.unify_schemas(
                    [pa.schema([pa.field(name, t)]) for t in ts], promote_options="permissive"
                ).field(name)
            )
        except _CLASH:
            fields.append(pa.field(name, pa.string()))
    return pa.schema(fields)


def as_text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``column`` as a ``string`` array: each value's JSON text (strings unchanged, nulls kept)."""
    return pa.array([None if v is None else _json_text(v) for v in column.to_pylist()], pa.string())


def cast_or_text(
    column: pa.Array | pa.ChunkedArray, target: pa.DataType
) -> pa.Array | pa.ChunkedArray:
    """``column`` as ``target``: a plain cast, or :func:`as_text` when ``target`` is text and
    the cast cannot be made (lists, structs). Raises what the cast raises otherwise."""
    if column.type == target:
        return column
    try:
        return column.cast(target)
    except _CLASH:
        if not pa.types.is_string(target):
            raise
        return as_text(column)


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
    depend on which record came first.
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
    for name in extra:
        array = columns.pop(name)
        if pa.types.is_null(array.type):
            data[name] = pd.Series(pd.array([pd.NA] * n, dtype="object"), copy=False)
            continue
        data[name] = array.to_pandas(types_mapper=_pandas_type)
        del array
    frame = pd.DataFrame(data, index=pd.RangeIndex(n))
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
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            problems.add("result", row_id, raw, "a JSON object (or its text)")
            return {}
    if not isinstance(raw, Mapping):
        problems.add("result", row_id, raw, "a JSON object (or its text)")
        return {}
    return dict(raw)


def eval_runs_frame(
    runs: Iterable[tuple[str, Mapping[str, Any]]], *, strict: bool = False
) -> pd.DataFrame:
    """``(session_id, eval_run)`` pairs → the typed eval-runs frame.

    ``result`` may be an object or its JSON text; its ``passed``, ``score``, ``reason``,
    ``success`` and ``error`` become columns and its ``metadata`` is expanded into
    ``metadata.<key>`` columns.
    """
    problems = Problems("eval_runs", strict)
    flat: list[dict[str, Any]] = []
    for session_id, run in runs:
        if not isinstance(run, Mapping):
            problems.add("<record>", session_id, run, "an object")
            continue
        result = _eval_result(run.get("result"), run.get("id"), problems)
        row: dict[str, Any] = {k: v for k, v in run.items() if k != "result"}
        row["session_id"] = session_id
        row["passed"] = result.get("passed")
        row["score"] = result.get("score")
        row["reason"] = result.get("reason")
        row["result_success"] = result.get("success")
        row["result_error"] = result.get("error")
        row["metadata"] = result.get("metadata")
        for key, value in result.items():
            if key not in {"passed", "score", "reason", "success", "error", "metadata"}:
                row[f"result.{key}"] = value
        flat.append(row)
    table = _records_table(
        flat, schema.EVAL_RUN_COLUMNS, problems, expand={"metadata": "metadata."}
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
