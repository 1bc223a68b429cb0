"""Frames ↔ the store's Arrow form, and Arrow results back to the contract dtypes. No I/O.

On disk every column has a plain Arrow type: categories are stored as their string values
(Parquet dictionary-encodes them anyway), timestamps as ``timestamp[ns, UTC]``, durations as
``duration[ns]``, nullable integers/booleans/floats as ``int64``/``bool``/``float64`` with
nulls. Reading goes through :func:`sessionkit.frames.to_pandas`, so a frame read back has the
loaders' dtypes by construction. Two columns need more than the schema table says: the
ordered ``severity`` category of logs (unknown spellings become extra categories after
``FATAL``, as in :func:`~sessionkit.frames.logs_frame`) and the sessions' ``agent`` category
(added by :func:`~sessionkit.loaders.label_agents`, categories sorted). Conforming a table
to the partition files' unified schema (:func:`conform`; the unification rule itself is
:func:`sessionkit.frames.unify_schemas`) lives here too: the reader and the writer both need it.

May import: :mod:`sessionkit.frames`, :mod:`sessionkit.schema`, :mod:`sessionkit.agents`,
:mod:`sessionkit.errors`.
Imports no other store module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import frames, schema
from ..agents import stable_agent_ids
from ..errors import InvalidArgumentError
from ..schema import Column

#: Sessions with no (valid) ``created_at`` are kept in this partition.
MISSING_DAY = "1970-01-01"
DAY = "day"
AGENT = Column("agent", "string", "category", "", "name of the session's agent")
AGENT_ID = Column(
    "agent_id", "string", "category", "", "stable id (agent_…) of the session's agent"
)
#: Session columns sessionkit derives (not sent by the list endpoint), after ``agent_ids``.
DERIVED = (AGENT, AGENT_ID)


def arrow_type(col: Column) -> pa.DataType:
    """The Arrow type a contract column is stored as (that of the frame builders)."""
    return frames._TYPED_ARROW[col.wire]


def empty_table(entity: str) -> pa.Table:
    """No rows, every contract column of ``entity`` with its stored Arrow type."""
    return frames._empty_table(schema.columns(entity))


def _contract_by_name() -> dict[str, Column]:
    out: dict[str, Column] = {}
    for cols in schema.ENTITIES.values():
        for col in cols:
            out.setdefault(col.name, col)
    for col in DERIVED:
        out[col.name] = col
    return out


#: Every contract column name → its column (first entity wins; the shared names agree).
CONTRACT: dict[str, Column] = _contract_by_name()


# --------------------------------------------------------------------------- frame → Arrow


def plain_type(t: pa.DataType) -> pa.DataType:
    """``t`` as the store writes it: dictionaries decoded, large strings and lists plain."""
    if pa.types.is_dictionary(t):
        return plain_type(t.value_type)
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_list(t) or pa.types.is_list(t):
        return pa.list_(plain_type(t.value_type))
    return t


def _nested(t: pa.DataType) -> bool:
    """Whether ``t`` may differ from its plain form (a primitive type never does)."""
    return bool(
        pa.types.is_dictionary(t)
        or pa.types.is_large_string(t)
        or pa.types.is_list(t)
        or pa.types.is_large_list(t)
    )


def plain_table(table: pa.Table) -> pa.Table:
    """``table`` with dictionaries decoded, large types made plain, schema metadata dropped."""
    arrays = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if not _nested(field.type):  # most columns: no type text built (10k columns: 0.1 s)
            arrays.append(column)
            continue
        target = plain_type(field.type)
        # compared as text: list<element: string> (as Parquet gives it back) == list<item:
        # string> for Arrow, but not for sets of types (frames.concat_tables) nor for Polars
        arrays.append(column if str(target) == str(field.type) else column.cast(target))
    return pa.table(arrays, names=table.column_names)


def check_contract(table: pa.Table, entity: str) -> pa.Table:
    """``table`` with its contract columns of the contract Arrow types (all-missing columns are
    cast); a column of another type raises, naming it — a naive timestamp is never guessed."""
    cols = {c.name: c for c in schema.columns(entity)}
    if entity == "sessions":
        cols.update((c.name, c) for c in DERIVED)
    for i, name in enumerate(table.column_names):
        col = cols.get(name)
        if col is None:
            continue
        target = arrow_type(col)
        got = table.column(i).type
        if got == target:
            continue
        if pa.types.is_null(got) or (pa.types.is_integer(got) and pa.types.is_integer(target)):
            table = table.set_column(i, name, table.column(i).cast(target))
            continue
        raise InvalidArgumentError(
            f"{entity}.{name} is {got}, expected {target} (the dtype {col.dtype_name} of "
            "sessionkit.schema); build frames with the sessionkit loaders or frame builders"
        )
    return table


def frame_to_table(frame: pd.DataFrame) -> pa.Table:
    """A sessionkit frame → the plain Arrow table the store writes (the index is dropped); its
    JSON-text columns (``frame.attrs[frames.JSON_COLUMNS]``) typed :data:`frames.JSON` again."""
    table = plain_table(pa.Table.from_pandas(frame, preserve_index=False))
    return frames.mark_json(table, frame.attrs.get(frames.JSON_COLUMNS, ()))


def day_strings(created_at: pa.ChunkedArray | pa.Array) -> pa.Array:
    """UTC day (``YYYY-MM-DD``) of each timestamp; missing ones go to :data:`MISSING_DAY`."""
    if isinstance(created_at, pa.ChunkedArray):
        created_at = created_at.combine_chunks()
    if not pa.types.is_timestamp(created_at.type) or created_at.type.tz is None:
        raise TypeError(f"created_at must be timestamp with a zone, got {created_at.type}")
    utc = created_at.cast(pa.timestamp("ns", tz="UTC"))
    days = pc.strftime(utc, format="%Y-%m-%d")
    return pc.fill_null(days, MISSING_DAY)


def latest_by_id(table: pa.Table, key: str = "id") -> pa.Table:
    """One row per ``key``: the one with the latest ``updated_at`` (later rows win ties)."""
    n = table.num_rows
    if n < 2 or pc.count_distinct(table[key]).as_py() == n:
        return table
    order = pa.table(
        {"k": table[key], "u": table["updated_at"], "i": pa.array(np.arange(n, dtype=np.int64))}
    ).sort_by([("k", "ascending"), ("u", "descending"), ("i", "descending")])
    keys = order["k"].to_numpy(zero_copy_only=False)
    first = np.ones(n, dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    keep = np.sort(order["i"].to_numpy()[first])
    return table.take(pa.array(keep))


# --------------------------------------------------------------------------- Arrow → frame


def categorical(values: pa.Array | pa.ChunkedArray, *, agent: bool = False) -> pd.Categorical:
    """Text (plain or dictionary-encoded) → a categorical with sorted categories, built from
    codes without a Python object per row. Its dtype is that of ``series.astype("category")``
    on the loaders' string column (what :func:`~sessionkit.frames.to_pandas` does) or, with
    ``agent=True``, of the ``agent`` column :func:`~sessionkit.loaders.label_agents` builds."""
    if isinstance(values, pa.ChunkedArray):
        if pa.types.is_dictionary(values.type):
            values = values.unify_dictionaries()
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    if not pa.types.is_dictionary(values.type):
        values = pc.dictionary_encode(values.cast(pa.string()))
    names = values.dictionary.cast(pa.string()).to_pylist()
    indices = pc.fill_null(values.indices, -1).to_numpy(zero_copy_only=False)
    used = np.zeros(len(names) + 1, dtype=bool)
    used[indices] = True  # a file's dictionary also holds values the filters left out
    order = sorted((i for i in range(len(names)) if used[i]), key=names.__getitem__)
    remap = np.full(len(names) + 1, -1, dtype=np.int32)  # the last slot: null → code -1
    remap[order] = np.arange(len(order), dtype=np.int32)
    codes = remap[indices]
    ordered = [names[i] for i in order]
    categories = ordered if agent else pd.Index(ordered, dtype=schema.STRING)
    return pd.Categorical.from_codes(codes, categories=categories)


def category_columns(entity: str) -> list[str]:
    """Columns of ``entity`` read as categories (``severity`` apart: it has its own order)."""
    names = [
        c.name for c in schema.columns(entity) if c.dtype == "category" and c.name != "severity"
    ]
    return [*names, *(c.name for c in DERIVED)] if entity == "sessions" else names


def _special(frame: pd.DataFrame) -> pd.DataFrame:
    """Give text ``severity``/``agent`` columns their category dtypes."""
    for name in ("severity", AGENT.name):
        if name in frame.columns and isinstance(frame[name].dtype, pd.StringDtype):
            if name == "severity":
                frame[name] = frame[name].astype(
                    schema.severity_dtype(frame[name].dropna().unique())
                )
            else:
                frame[name] = categorical(pa.array(frame[name].array, pa.string()), agent=True)
    return frame


#: The key of a partition file's schema metadata that lists the columns holding a value in it
#: (JSON). Every file carries every column of its dataset; most free-form columns of a wide
#: dataset (thousands of metadata keys) are empty in any one file, and a read skips them.
VALUED = b"sessionkit.valued_columns"


def with_valued(table: pa.Table) -> pa.Table:
    """``table`` with its schema metadata naming the columns that hold a value (:data:`VALUED`)."""
    n = table.num_rows
    names = [
        name
        for name, column in zip(table.column_names, table.columns, strict=True)
        if column.null_count < n
    ]
    return table.replace_schema_metadata({VALUED: orjson.dumps(names)})


def read_columns(footer: pa.Schema, entity: str) -> list[str] | None:
    """The columns of a partition file (its ``footer`` schema) worth reading: those holding a
    value (:data:`VALUED`), the contract columns, and columns of Arrow type ``null`` (kept as
    the loaders keep them); ``None`` (read all) when the file does not list its valued columns
    (written by another tool or an older sessionkit)."""
    listed = (footer.metadata or {}).get(VALUED)
    if listed is None:
        return None
    try:
        valued = set(orjson.loads(listed))
    except orjson.JSONDecodeError:
        return None
    fixed = _fixed(entity)
    return [
        name
        for name, t in zip(footer.names, footer.types, strict=True)
        if name in valued or name in fixed or pa.types.is_null(t)
    ]


def _fixed(entity: str) -> set[str]:
    """The columns of ``entity`` that every load has (contract, derived, ``day``)."""
    return {c.name for c in schema.columns(entity)} | {c.name for c in DERIVED} | {DAY}


def drop_empty_extras(table: pa.Table, entity: str) -> pa.Table:
    """Drop free-form columns (``metadata.*``, unknown fields) with no value in ``table``.

    Every partition file carries every column the dataset ever had; a frame loaded from the
    API only has the keys its rows carry, and so does a frame loaded from the store. Columns
    whose values were all sent as null (Arrow type ``null``) are kept, as the loaders keep them.
    """
    fixed = _fixed(entity)
    n = table.num_rows
    empty = [
        name
        for name, column in zip(table.column_names, table.columns, strict=True)
        if name not in fixed
        and (n == 0 or (column.null_count == n and not pa.types.is_null(column.type)))
    ]
    return table.drop_columns(empty) if empty else table


def table_to_frame(table: pa.Table, entity: str) -> pd.DataFrame:
    """A table read from the store → the frame the loaders give for ``entity`` (column order
    included: :func:`~sessionkit.frames.to_pandas` decides it); ``day`` is dropped.

    Category columns may come dictionary-encoded (as the store reads them): they are built
    from codes here, the other columns by :func:`~sessionkit.frames.to_pandas`."""
    if DAY in table.column_names:
        table = table.drop_columns([DAY])
    n = table.num_rows
    if (
        entity == "sessions"
        and AGENT_ID.name not in table.column_names
        and "agent_ids" in table.column_names
    ):
        # stores written before agent_id existed: derive it, as the loaders do
        table = table.append_column(AGENT_ID.name, stable_agent_ids(table["agent_ids"]))
    cols = [c for c in schema.columns(entity) if c.name != "severity"]
    texts = {
        name: table[name] if name in table.column_names else pa.nulls(n, pa.string())
        for name in category_columns(entity)
        if name not in (AGENT.name, AGENT_ID.name) or name in table.column_names
    }
    table = table.drop_columns([name for name in texts if name in table.column_names])
    for i, field in enumerate(table.schema):
        # Parquet names a list's child "element", the loaders' frames "item": same values,
        # but a different dtype string (and a different type for Polars or a schema check)
        if pa.types.is_list(field.type) and field.type.value_field.name != "item":
            table = table.set_column(
                i, field.name, table.column(i).cast(pa.list_(field.type.value_type))
            )
    frame = frames.to_pandas(table, [c for c in cols if c.name not in texts])
    for name, values in texts.items():
        frame[name] = categorical(frames.empty_as_missing(name, values), agent=name == AGENT.name)
    names = [c.name for c in cols]
    if entity == "sessions":
        derived = [c.name for c in DERIVED if c.name in texts]
        at = names.index("agent_ids") + 1
        names[at:at] = derived
    known = set(names)
    extras = [c for c in frame.columns if c not in known]
    frame = frame[names + extras]
    if entity == "logs":
        severity = frame.pop("severity") if "severity" in frame.columns else None
        position = [c.name for c in schema.LOG_COLUMNS].index("severity")
        values = (
            severity
            if severity is not None
            else pd.Series(pd.array([pd.NA] * len(frame), dtype=schema.STRING))
        )
        frame.insert(
            position, "severity", values.astype(schema.severity_dtype(values.dropna().unique()))
        )
    return frame


def _restore_array(array: pa.ChunkedArray, col: Column | None) -> pa.ChunkedArray:
    t = array.type
    if pa.types.is_decimal(t):  # DuckDB sums integers to HUGEINT → decimal128(38, 0)
        try:
            array = array.cast(pa.int64()) if t.scale == 0 else array.cast(pa.float64())
        except pa.ArrowInvalid:
            array = array.cast(pa.float64())
    elif pa.types.is_timestamp(t) and t.tz is not None:
        array = array.cast(pa.timestamp("ns", tz="UTC"))
    plain = plain_type(array.type)
    if plain != array.type:
        array = array.cast(plain)
    if col is None or array.type == arrow_type(col) or not _same_kind(array.type, col):
        return array  # e.g. count(*) AS id keeps its integers
    try:
        return array.cast(arrow_type(col))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return array


def _same_kind(source: pa.DataType, col: Column) -> bool:
    """Whether a result column of type ``source`` can carry contract column ``col``'s values:
    the same kind of value (integer nanoseconds count as a duration: Parquet stores them so)."""
    target = arrow_type(col)
    for test in (pa.types.is_timestamp, pa.types.is_boolean, pa.types.is_string, pa.types.is_list):
        if test(target):
            return bool(test(source))
    if pa.types.is_duration(target):
        return bool(pa.types.is_duration(source) or pa.types.is_integer(source))
    if pa.types.is_integer(target):
        return bool(pa.types.is_integer(source))
    return bool(pa.types.is_floating(source) or pa.types.is_integer(source))


#: A result column whose name ends like this holds nanoseconds of a duration (e.g.
#: ``sum(duration) AS total_duration``, ``avg(cpu_time) AS mean_cpu_time``).
DURATION_SUFFIXES = ("duration", "cpu_time")
_DURATION = Column("duration", "ns", schema.TIMEDELTA, "ns", "")


def restore_dtypes(table: pa.Table) -> pd.DataFrame:
    """An Arrow result (DuckDB, a hand-made query) → a frame whose columns named like contract
    columns get the contract dtypes, and whose numeric columns named ``…duration`` or
    ``…cpu_time`` (aggregates of the nanosecond duration columns) become ``timedelta64[ns]``
    (an average rounded to the nanosecond); other columns get pandas' nullable dtypes. Column
    order is kept."""
    names = table.column_names
    if len(set(names)) != len(names):
        raise ValueError(f"the result has repeated column names: {names}; alias them")
    arrays = {}
    cols: list[Column] = []
    for name in names:
        col = CONTRACT.get(name)
        if col is None and name.endswith(DURATION_SUFFIXES):
            array = table[name]
            if pa.types.is_decimal(array.type) or pa.types.is_floating(array.type):
                array = pc.round(array.cast(pa.float64())).cast(pa.int64())
            if pa.types.is_integer(array.type):
                arrays[name] = array.cast(pa.int64()).cast(pa.duration("ns"))
                cols.append(replace(_DURATION, name=name))
                continue
        array = _restore_array(table[name], col)
        if col is not None and array.type == arrow_type(col) and name not in ("severity", "agent"):
            cols.append(col)
        arrays[name] = array
    frame = frames.to_pandas(pa.table(arrays), cols)
    return _special(frame[names])


# --------------------------------------------------------------------------- file schemas


def conform(table: pa.Table, target: pa.Schema) -> pa.Table:
    """``table`` with exactly the fields of ``target``, in its order: a missing column is all
    nulls, a column of another type is cast to the target's type
    (:func:`sessionkit.frames.cast_or_text`: JSON text, with a warning naming the column,
    when the column became JSON text). Give it a target from :func:`settled_schema` (or
    :func:`widen_lossy`): a cast that would change a value raises."""
    n = table.num_rows
    have = dict(zip(table.column_names, table.columns, strict=True))  # one list, not one a field
    arrays = []
    for field in target:
        column = have.get(field.name)
        if column is not None:
            arrays.append(frames.cast_or_text(column, field.type, name=field.name))
        else:
            arrays.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(arrays, schema=target)


#: The type :func:`sessionkit.frames.unify_schemas` gives a column whose values are of kinds no
#: one type holds (a boolean and a list): text, each value's JSON text. Asked of the frames'
#: rule rather than written here, so the store widens to what the frames widen to.
TEXT: pa.DataType = (
    frames.unify_schemas([pa.schema([("x", pa.bool_())]), pa.schema([("x", pa.list_(pa.bool_()))])])
    .field("x")
    .type
)


def _exact_cast(column: pa.ChunkedArray, target: pa.DataType) -> bool:
    """Whether ``column`` casts to ``target`` keeping every value (Arrow's safe cast: an
    integer beyond 2**53 does not become a double, a double with a fraction not an integer)."""
    try:
        column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return False
    return True


def widen_lossy(target: pa.Schema, tables: Iterable[pa.Table]) -> pa.Schema:
    """``target`` with every field that some table's column cannot be cast to without changing
    a value made text (:data:`TEXT`: :func:`sessionkit.frames.cast_or_text` then writes each
    value as its JSON text) — the store's last resort. Only columns whose type differs from
    the target's are checked (a type drift between syncs), so a settled table costs one pass
    over its schema."""
    types = dict(zip(target.names, target.types, strict=True))
    text: set[str] = set()
    for table in tables:
        for name, t, column in zip(
            table.column_names, table.schema.types, table.columns, strict=True
        ):
            want = types.get(name)
            if want is None or want in (t, TEXT) or name in text:
                continue
            if not _exact_cast(column, want):
                text.add(name)
    if not text:
        return target
    return pa.schema([f.with_type(TEXT) if f.name in text else f for f in target])


def settled_schema(tables: Sequence[pa.Table], base: pa.Schema | None = None) -> pa.Schema:
    """The one schema ``tables`` (and a dataset of schema ``base``) can all be conformed to
    without changing a value of ``tables``: the union of the schemas
    (:func:`sessionkit.frames.unify_schemas`: Arrow's promotion, text on a clash) with
    promotions that would change one of their values made text (:func:`widen_lossy`)."""
    schemas = [t.schema for t in tables] if base is None else [base, *(t.schema for t in tables)]
    if len(schemas) == 1:
        return schemas[0]
    return widen_lossy(frames.unify_schemas(schemas), tables)


def stack(tables: Sequence[pa.Table]) -> pa.Table:
    """``tables`` one under another at their :func:`settled_schema` (no value changed)."""
    if len(tables) == 1:
        return tables[0]
    target = settled_schema(tables)
    return pa.concat_tables([conform(t, target) for t in tables])
