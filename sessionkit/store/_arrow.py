"""Frames ↔ the store's Arrow form, and Arrow results back to the contract dtypes. No I/O.

On disk every column has a plain Arrow type: categories are stored as their string values
(Parquet dictionary-encodes them anyway), timestamps as ``timestamp[ns, UTC]``, durations as
``duration[ns]``, nullable integers/booleans/floats as ``int64``/``bool``/``float64`` with
nulls. Reading goes through :func:`sessionkit.frames.to_pandas`, so a frame read back has the
loaders' dtypes by construction. Two columns need more than the schema table says: the
ordered ``severity`` category of logs (unknown spellings become extra categories after
``FATAL``, as in :func:`~sessionkit.frames.logs_frame`) and the sessions' ``agent`` category
(added by :func:`~sessionkit.loaders.label_agents`, categories sorted).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import frames, schema
from ..schema import Column

#: Sessions with no (valid) ``created_at`` are kept in this partition.
MISSING_DAY = "1970-01-01"
DAY = "day"
AGENT = Column("agent", "string", "category", "", "name of the session's agent")

_TYPED: dict[str, pa.DataType] = {
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


def arrow_type(col: Column) -> pa.DataType:
    """The Arrow type a contract column is stored as."""
    return _TYPED[col.wire]


def _contract_by_name() -> dict[str, Column]:
    out: dict[str, Column] = {}
    for cols in schema.ENTITIES.values():
        for col in cols:
            out.setdefault(col.name, col)
    out[AGENT.name] = AGENT
    return out


#: Every contract column name → its column (first entity wins; the shared names agree).
CONTRACT: dict[str, Column] = _contract_by_name()


# --------------------------------------------------------------------------- frame → Arrow


def _plain_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(t):
        return _plain_type(t.value_type)
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_list(t) or pa.types.is_list(t):
        return pa.list_(_plain_type(t.value_type))
    return t


def plain_table(table: pa.Table) -> pa.Table:
    """``table`` with dictionaries decoded, large types made plain, schema metadata dropped."""
    arrays = []
    for field, column in zip(table.schema, table.columns, strict=True):
        target = _plain_type(field.type)
        # compared as text: list<element: string> (as Parquet gives it back) == list<item:
        # string> for Arrow, but not for sets of types (frames.concat_tables) nor for Polars
        arrays.append(column if str(target) == str(field.type) else column.cast(target))
    return pa.table(arrays, names=table.column_names)


def frame_to_table(frame: pd.DataFrame) -> pa.Table:
    """A sessionkit frame → the plain Arrow table the store writes (the index is dropped)."""
    return plain_table(pa.Table.from_pandas(frame, preserve_index=False))


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


def severity_dtype(values: pd.Series) -> pd.CategoricalDtype:
    """The logs' ordered severity dtype for ``values`` (unknown spellings after FATAL)."""
    unknown = sorted(set(values.dropna().astype(str)) - set(schema.SEVERITIES))
    return pd.CategoricalDtype([*schema.SEVERITIES, *unknown], ordered=True)


def agent_category(values: pa.Array | pa.ChunkedArray) -> pd.Categorical:
    """The ``agent`` column as :func:`~sessionkit.loaders.label_agents` builds it: categories
    sorted, built from codes (no Python object per row)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    encoded = pc.dictionary_encode(values.cast(pa.string()))
    names = encoded.dictionary.to_pylist()
    order = sorted(range(len(names)), key=names.__getitem__)
    remap = np.empty(len(names) + 1, dtype=np.int32)
    remap[order] = np.arange(len(names), dtype=np.int32)
    remap[-1] = -1
    indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    codes = remap[indices]
    return pd.Categorical.from_codes(codes, categories=[names[i] for i in order])


def _special(frame: pd.DataFrame) -> pd.DataFrame:
    """Give text ``severity``/``agent`` columns their category dtypes."""
    for name in ("severity", AGENT.name):
        if name in frame.columns and isinstance(frame[name].dtype, pd.StringDtype):
            if name == "severity":
                frame[name] = frame[name].astype(severity_dtype(frame[name]))
            else:
                frame[name] = agent_category(pa.array(frame[name].array, pa.string()))
    return frame


def order_columns(table: pa.Table, order: Sequence[str]) -> pa.Table:
    """``table`` with the columns named in ``order`` first (in that order), the others after."""
    known = [c for c in order if c in table.column_names]
    rest = [c for c in table.column_names if c not in set(known)]
    names = known + rest
    return table if names == table.column_names else table.select(names)


def drop_empty_extras(table: pa.Table, entity: str) -> pa.Table:
    """Drop free-form columns (``metadata.*``, unknown fields) with no value in ``table``.

    Every partition file carries every column the dataset ever had; a frame loaded from the
    API only has the keys its rows carry, and so does a frame loaded from the store. Columns
    whose values were all sent as null (Arrow type ``null``) are kept, as the loaders keep them.
    """
    fixed = {c.name for c in schema.columns(entity)} | {AGENT.name, DAY}
    n = table.num_rows
    empty = [
        name
        for name, column in zip(table.column_names, table.columns, strict=True)
        if name not in fixed
        and (n == 0 or (column.null_count == n and not pa.types.is_null(column.type)))
    ]
    return table.drop_columns(empty) if empty else table


def table_to_frame(table: pa.Table, entity: str, order: Sequence[str] = ()) -> pd.DataFrame:
    """A table read from the store → the frame the loaders give for ``entity``.

    ``order`` is the column order first written (so a frame read back has its columns where
    they were); the ``day`` partition column is dropped.
    """
    if DAY in table.column_names:
        table = table.drop_columns([DAY])
    table = order_columns(table, order)
    agent = None
    if entity == "sessions" and AGENT.name in table.column_names:
        agent = table[AGENT.name]
        table = table.drop_columns([AGENT.name])
    cols = [c for c in schema.columns(entity) if c.name != "severity"]
    frame = frames.to_pandas(table, cols)
    if entity == "logs":
        severity = frame.pop("severity") if "severity" in frame.columns else None
        position = [c.name for c in schema.LOG_COLUMNS].index("severity")
        values = (
            severity
            if severity is not None
            else pd.Series(pd.array([pd.NA] * len(frame), dtype=schema.STRING))
        )
        frame.insert(position, "severity", values.astype(severity_dtype(values)))
    if agent is not None:
        frame.insert(frame.columns.get_loc("agent_ids") + 1, AGENT.name, agent_category(agent))
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
    plain = _plain_type(array.type)
    if plain != array.type:
        array = array.cast(plain)
    if col is None or array.type == arrow_type(col):
        return array
    try:
        return array.cast(arrow_type(col))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return array  # e.g. an aggregate reusing a contract name with another meaning


def restore_dtypes(table: pa.Table) -> pd.DataFrame:
    """An Arrow result (DuckDB, a hand-made query) → a frame whose columns named like contract
    columns get the contract dtypes; other columns get pandas' nullable dtypes. Column order
    is kept."""
    names = table.column_names
    if len(set(names)) != len(names):
        raise ValueError(f"the result has repeated column names: {names}; alias them")
    arrays = {}
    cols: list[Column] = []
    for name in names:
        col = CONTRACT.get(name)
        array = _restore_array(table[name], col)
        if col is not None and array.type == arrow_type(col) and name not in ("severity", "agent"):
            cols.append(col)
        arrays[name] = array
    frame = frames.to_pandas(pa.table(arrays), cols)
    return _special(frame[names])
