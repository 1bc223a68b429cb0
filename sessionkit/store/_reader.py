"""Reading a store: dataset scans with filter pushdown, sort, post-filters, detail reads, and
the warnings a read gives (nothing matched, maybe partial, details never synced).

A sessions load opens only the day partitions whose sessions can start in the filters' time
range (each day's ``start_time`` range is in the manifest: :func:`days_for`), filters rows
while scanning (:func:`row_filter`), then applies what Parquet cannot (:func:`post_filter`:
agent, and metadata by the API's JSON value equality, :func:`metadata_mask`) and sorts
(:func:`sessionkit.frames.sorted_table`). The functions that turn a
:class:`~sessionkit.params.SessionFilters` into scan expressions and day sets are plain
module-level functions, each taking the filters.

May import: :mod:`._layout`, :mod:`._scope`, :mod:`._arrow`, and sessionkit's ``params``,
``agents``, ``frames``, ``display``, ``errors``. Never the writer, the SQL views or the sync.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .. import frames
from ..agents import AgentNames, agent_kind, sessions_with_any, unknown_agent
from ..display import format_timestamp
from ..errors import InvalidArgumentError, SessionKitWarning
from ..errors import warn as errors_warn
from ..params import FILTER_QUERY, SORT_COLUMNS, SessionFilters, session_ids
from . import _arrow, _files
from ._arrow import DAY
from ._files import StoreCorruptError
from ._layout import Layout
from ._scope import AGENT_PARAM, describe_scopes, synced_scopes

#: Every read verifies the CRC the writer records for each page: a flipped bit is an error
#: naming the file, never a changed value.
_VERIFY = ds.ParquetFragmentScanOptions(page_checksum_verification=True)
_HIVE = ds.partitioning(pa.schema([(DAY, pa.string())]), flavor="hive")
#: How many frames up a read's warning points (``errors.warn`` counts from its caller), so
#: that it names the user's line: past the warning method, the reader method and the facade's
#: ``load_filtered`` and ``load_sessions`` (sessions) or its ``load_<detail>`` (details).
_SESSIONS_STACK = 5
_DETAILS_STACK = 4


# --------------------------------------------------------------------------- filters → scans


def time_bounds(filters: SessionFilters) -> tuple[int | None, int | None]:
    """``start_time`` bounds in ns since the epoch: ``(inclusive low, exclusive high)``, the
    exact ``since``/``until`` of the filters (not the widened window sent to a server)."""
    low = filters.start.value if filters.start is not None else None
    high = filters.end.value if filters.end is not None else None
    return low, high


def row_filter(filters: SessionFilters) -> ds.Expression | None:
    """The scan expression of the filters a scan applies while reading (everything but
    agent and metadata); ``None`` when there is none."""
    terms: list[ds.Expression] = []
    low, high = time_bounds(filters)
    ts = pa.timestamp("ns", tz="UTC")
    if low is not None:
        terms.append(pc.field("start_time") >= pa.scalar(low, ts))
    if high is not None:
        terms.append(pc.field("start_time") < pa.scalar(high, ts))
    for column, value in filters.equal.items():  # env, ids as text; success, devmode as bool
        terms.append(pc.field(column) == value)
    for name, values in filters.lists.items():  # a choice filter's column is named as it is
        terms.append(pc.field(name).isin(list(values)))
    if not terms:
        return None
    expr = terms[0]
    for term in terms[1:]:
        expr = expr & term
    return expr


def days_for(
    filters: SessionFilters, days: Iterable[str], stats: Mapping[str, Mapping[str, Any]]
) -> set[str] | None:
    """The day partitions among ``days`` whose sessions may start in the filters' time range,
    judged by ``stats`` (day → ``min_start``/``max_start`` in ns, the manifest's); ``None``
    when the filters have no time range (every day)."""
    low, high = time_bounds(filters)
    if low is None and high is None:
        return None
    keep: set[str] = set()
    for day in days:
        s = stats.get(day)
        if s is None or s.get("min_start") is None:
            keep.add(day)  # no statistics (or starts unknown): cannot rule it out
            continue
        if low is not None and s["max_start"] < low:
            continue
        if high is not None and s["min_start"] >= high:
            continue
        keep.add(day)
    return keep


@dataclass(frozen=True)
class _Opened:
    """A dataset opened for a scan: the dataset, its fragments and their footer schemas (in
    scan order), whether their column types agree (:func:`_agree`) and, per file, the columns
    worth reading (:func:`._arrow.read_columns`; ``None``: all)."""

    dataset: ds.FileSystemDataset
    fragments: list[ds.ParquetFileFragment]
    footers: list[pa.Schema]
    agree: bool
    own: list[list[str] | None]

    def file_schema(self, i: int) -> pa.Schema:
        """The schema file ``i`` is scanned with alone: its own columns and types, and ``day``."""
        return self.footers[i].remove_metadata().append(pa.field(DAY, pa.string()))

    def sparse(self, columns: list[str] | None, wanted: list[list[str] | None]) -> bool:
        """Whether reading each file's own columns (``wanted``) reads far fewer column chunks
        than one scan of ``columns`` in every file (a wide dataset whose files each hold a
        value in few of its columns): then each file is read alone."""
        if columns is None or any(w is None for w in wanted):
            return False
        together = len(columns) * len(wanted)
        apart = sum(len(w or ()) for w in wanted)
        return together > 2 * apart and together - apart > 10_000


def _agree(footers: Sequence[pa.Schema], unified: pa.Schema) -> bool:
    """Whether every file's columns have the types of the union of the files' schemas (a file
    may lack columns: the scan reads them as nulls), so one scan reads them all as they are."""
    types = dict(zip(unified.names, unified.types, strict=True))
    for footer in footers:
        for name, t in zip(footer.names, footer.types, strict=True):
            if types[name] != t:
                return False
    return True


def metadata_column(key: str) -> str:
    """The column a top-level metadata ``key``'s value is in (as the frames name it)."""
    return next(iter(frames._flatten_object({key: 0}, "metadata.")))


def check_metadata_filter(metadata: Mapping[str, object] | None) -> None:
    """Raise :class:`~sessionkit.errors.InvalidArgumentError` for a ``metadata=`` filter the
    store cannot answer as the API does: a ``null`` value, or an empty object, at the top or
    inside an object. The frames (and so the store) hold a key whose value is ``null`` and a
    key that is absent alike — both a missing value — and an empty object leaves no column,
    so the store cannot tell the sessions the API would match."""
    stack: list[tuple[str, object]] = [(f"metadata[{k!r}]", v) for k, v in (metadata or {}).items()]
    while stack:
        where, value = stack.pop()
        if value is None or (isinstance(value, Mapping) and not value):
            shown = "null" if value is None else "{}"
            raise InvalidArgumentError(
                f"{where} = {shown}: a store cannot filter on a null value or an empty object "
                "(it keeps a key holding null, an empty object and an absent key alike, as a "
                "missing value). Load with store=None to let the API filter, or filter the "
                "frame yourself (e.g. frame['metadata.<key>'].isna())."
            )
        if isinstance(value, Mapping):
            stack.extend((f"{where}[{k!r}]", v) for k, v in value.items())


def post_filter(
    table: pa.Table, metadata: Mapping[str, object], agent_ids: set[str] | None = None
) -> pa.Table:
    """The rows of ``table`` that pass the filters a scan cannot push down: ``agent``
    (sessions whose ``agent_ids`` hold any of ``agent_ids``) and ``metadata`` (each top-level
    key's value equal to the given one as JSON values: :func:`metadata_mask`)."""
    n = table.num_rows
    if not n:
        return table
    mask = np.ones(n, dtype=bool)
    if agent_ids is not None:
        mask &= sessions_with_any(table["agent_ids"], agent_ids)
    if metadata:
        mask &= metadata_mask(table, metadata)
    return table if mask.all() else table.filter(pa.array(mask))


def metadata_mask(table: pa.Table, metadata: Mapping[str, object]) -> np.ndarray:
    """Which rows of a sessions table hold, at each top-level key of ``metadata``, a value
    equal to the given one by :func:`json_equal` — the API's ``metadata`` filter (the
    emulator's ``QueryEngine``). An object value matches a row whose object at that key has
    exactly the given keys (at every level) with equal values: each of its leaves' columns
    (``metadata.k.a``) equal, every other column under the key missing. A missing value is an
    absent key (:func:`check_metadata_filter` refuses filters that would need to tell)."""
    n = table.num_rows
    names = table.column_names
    present = set(names)
    mask = np.ones(n, dtype=bool)
    for key, value in metadata.items():
        column = metadata_column(key)
        if not isinstance(value, Mapping):
            mask &= _equal_mask(table, column, value, present)
            continue
        leaves = frames._flatten_object({key: value}, "metadata.")
        for name, leaf in leaves.items():
            mask &= _equal_mask(table, name, leaf, present)
        under = column + "."
        for name in names:
            if (name == column or name.startswith(under)) and name not in leaves:
                mask &= table[name].is_null().to_numpy(zero_copy_only=False)
    return mask


_INT64 = (-(2**63), 2**63 - 1)


def _equal_mask(table: pa.Table, name: str, value: object, present: set[str]) -> np.ndarray:
    """Rows whose column ``name`` holds a value :func:`json_equal` to ``value`` (never a
    missing value); vectorised for number, boolean and text columns."""
    n = table.num_rows
    none = np.zeros(n, dtype=bool)
    if name not in present:
        return none
    column = table[name]
    t = column.type
    scalar: object = None
    if isinstance(value, bool):
        if not pa.types.is_boolean(t):
            return none if _typed(t) else _each(column, value)
        scalar = value
    elif isinstance(value, int | float):
        if pa.types.is_integer(t):
            whole = isinstance(value, int) or (value == value and float(value).is_integer())
            if not whole or not _INT64[0] <= value <= _INT64[1]:
                return none
            scalar = int(value)
        elif pa.types.is_floating(t):
            if isinstance(value, int) and float(value) != value:
                return none  # an integer no double holds exactly equals no double
            scalar = float(value)
        else:
            return none if _typed(t) else _each(column, value)
    elif isinstance(value, str):
        if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
            if pa.types.is_timestamp(t):
                return _same_instant(column, value)
            return none if _typed(t) else _each(column, value)
        scalar = value
    else:
        return none if _typed(t) else _each(column, value)
    try:
        equal = pc.fill_null(pc.equal(column, pa.scalar(scalar, t)), False)
    except (pa.ArrowException, OverflowError):  # e.g. a negative value and an unsigned column
        return _each(column, value)
    return np.asarray(equal.to_numpy(zero_copy_only=False), dtype=bool)


def _typed(t: pa.DataType) -> bool:
    """Whether every value of a column of type ``t`` is of one JSON kind the vectorised
    comparisons know (number, boolean, text): another kind of value never equals them."""
    return bool(
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_null(t)
        or pa.types.is_timestamp(t)
    )


def _each(column: pa.ChunkedArray, value: object) -> np.ndarray:
    """:func:`json_equal` row by row: lists, and a column of each value's JSON text (the
    frames' type for a column whose values are of several kinds) read back as JSON."""
    values = frames.values_of(column)  # a JSON-text column's texts read back
    return np.fromiter(
        (v is not None and json_equal(v, value) for v in values), dtype=bool, count=len(values)
    )


def _same_instant(column: pa.ChunkedArray, value: str) -> np.ndarray:
    """A text filter on a column the page road read as timestamps (metadata text that looked
    like one): rows at the instant ``value`` names (the original text is not kept)."""
    try:
        instant = pd.Timestamp(value)
    except (ValueError, TypeError):
        return np.zeros(len(column), dtype=bool)
    if instant.tzinfo is not None:
        instant = instant.tz_convert("UTC")
    stamps = pd.to_datetime(pd.Series(column.to_pandas()), utc=True)
    want = instant if instant.tzinfo is not None else instant.tz_localize("UTC")
    return np.asarray((stamps == want).fillna(False), dtype=bool)


def json_equal(a: object, b: object) -> bool:
    """JSON value equality: numbers by value (``1 == 1.0``; an integer exactly), a boolean
    only with a boolean (``True != 1``), lists item by item, objects key by key."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


# --------------------------------------------------------------------------- the reader


class Reader:
    """Reads the datasets of the store at ``layout`` through ``filesystem`` (a ``pyarrow.fs``
    filesystem; ``None``: local)."""

    def __init__(self, layout: Layout, filesystem: Any = None) -> None:
        self.layout = layout
        self.filesystem = filesystem

    # ------------------------------------------------------------------ scanning

    def open_dataset(self, entity: str, days: Iterable[str] | None = None) -> ds.Dataset | None:
        """The dataset over the files of ``days`` (all when ``None``); ``None`` when no file.

        Only the chosen files are opened; the schema is the union of their footers' schemas
        (a column missing from a file reads as nulls; a type clash reads as text). A file
        whose footer cannot be read raises :class:`~._files.StoreCorruptError` naming it.
        """
        opened = self._open(entity, days)
        return None if opened is None else opened.dataset

    def _open(self, entity: str, days: Iterable[str] | None) -> _Opened | None:
        """:meth:`open_dataset`, with what :meth:`scan` needs to know of its files."""
        chosen = self.layout.days(entity)
        if days is not None:
            wanted = set(days)
            chosen = [d for d in chosen if d in wanted]
        if not chosen:
            return None
        # newest day first: rows are stored newest first too, so a scan comes out in the
        # default order of sk.load_sessions (created_at descending) without a sort
        files = [str(self.layout.file(entity, d)) for d in reversed(chosen)]
        # category columns are read dictionary-encoded: no string per row is materialised and
        # the frame's categoricals are built from the codes (a 1M-session load: -40%)
        options = ds.ParquetReadOptions(dictionary_columns=_arrow.category_columns(entity))
        fmt = ds.ParquetFileFormat(read_options=options, default_fragment_scan_options=_VERIFY)
        factory = ds.dataset(
            files,
            format=fmt,
            partitioning=_HIVE,
            partition_base_dir=str(self.layout.dataset_path(entity)),
            filesystem=self.filesystem,
        )
        fragments = list(factory.get_fragments())
        footers = [self._physical_schema(f) for f in fragments]  # read once, kept by each
        unified = frames.unify_schemas(footers)
        agree = all(f.equals(unified) for f in footers) or _agree(footers, unified)
        own = [_arrow.read_columns(f, entity) for f in footers]
        unified = unified.remove_metadata().append(pa.field(DAY, pa.string()))
        dataset = ds.FileSystemDataset(fragments, unified, fmt, factory.filesystem)
        return _Opened(dataset, fragments, footers, agree, own)

    def _physical_schema(self, fragment: ds.ParquetFileFragment) -> pa.Schema:
        try:
            return fragment.physical_schema
        except _files.UNREADABLE as exc:
            raise StoreCorruptError(Path(fragment.path), self.layout.path, str(exc)) from None

    def dataset(self, entity: str = "sessions") -> ds.Dataset:
        """One dataset as a ``pyarrow.dataset.Dataset`` with its ``day`` column (an empty one
        with the contract columns when the dataset has no file)."""
        found = self.open_dataset(entity)
        return found if found is not None else ds.dataset(_arrow.empty_table(entity))

    def scan(
        self,
        entity: str,
        days: Iterable[str] | None = None,
        where: ds.Expression | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """The rows of ``entity`` in ``days`` (all when ``None``) matching ``where``, with
        ``columns`` (those that exist; when ``None``, all but the free-form columns that hold
        no value in the chosen files, which a load drops anyway), newest day first.

        One scan reads all chosen files, except when their column types disagree (a sync
        interrupted while it widened a column: each file is then read alone and conformed,
        :func:`._arrow.conform`, never read as another type) or when most columns are empty
        in most files (a wide dataset of thousands of metadata keys: each file is read alone,
        only its columns holding a value). A file that cannot be read raises
        :class:`~._files.StoreCorruptError` naming it."""
        opened = self._open(entity, days)
        if opened is None:
            table = _arrow.empty_table(entity)
            return (
                table.select([c for c in columns if c in table.column_names]) if columns else table
            )
        names = opened.dataset.schema.names
        wanted: list[list[str] | None]
        if columns is not None:
            columns = [c for c in dict.fromkeys(columns) if c in names]
            wanted = [list(columns)] * len(opened.fragments)
        else:
            wanted = list(opened.own)
            if all(w is not None for w in wanted):  # no file lists nothing: skip empty columns
                keep = {c for w in wanted for c in w or ()}
                columns = [c for c in names if c in keep or c == DAY]
        if not opened.agree or opened.sparse(columns, wanted):
            return self._scan_apart(opened, where, columns, wanted)
        try:
            # the system allocator: Arrow's default (mimalloc) makes the first large scan of a
            # process about twice as slow (1.8 s vs 0.7 s for 1M sessions, measured)
            return opened.dataset.to_table(
                columns=columns, filter=where, memory_pool=pa.system_memory_pool()
            )
        except _files.UNREADABLE as exc:
            raise self._unreadable(opened.fragments, exc) from None

    def _scan_apart(
        self,
        opened: _Opened,
        where: ds.Expression | None,
        columns: list[str] | None,
        wanted: list[list[str] | None],
    ) -> pa.Table:
        """:meth:`scan` one file at a time (``wanted[i]``: the columns of file ``i``, all when
        ``None``); files whose types disagree are conformed to their settled schema."""
        parts = []
        for i, (fragment, own) in enumerate(zip(opened.fragments, wanted, strict=True)):
            schema_ = opened.file_schema(i)  # a column the file lacks is filled in below
            names = set(schema_.names)
            single = ds.FileSystemDataset(
                [fragment], schema_, opened.dataset.format, opened.dataset.filesystem
            )
            read = None if own is None else [c for c in own if c in names]
            if read is not None and DAY not in read and (columns is None or DAY in columns):
                read.append(DAY)
            try:
                parts.append(
                    single.to_table(columns=read, filter=where, memory_pool=pa.system_memory_pool())
                )
            except _files.UNREADABLE as exc:
                raise StoreCorruptError(Path(fragment.path), self.layout.path, str(exc)) from None
        if opened.agree:
            table = pa.concat_tables(parts, promote_options="permissive")
        else:
            plain = [_arrow.plain_table(p) for p in parts]
            table = pa.concat_tables(
                [_arrow.conform(p, _arrow.settled_schema(plain)) for p in plain]
            )
        order = columns if columns is not None else opened.dataset.schema.names
        present = set(table.column_names)
        return table.select([c for c in order if c in present])

    def _unreadable(self, fragments: list[ds.ParquetFileFragment], exc: Exception) -> Exception:
        """The :class:`~._files.StoreCorruptError` of the first of ``fragments`` that cannot
        be read whole (a scan failed with ``exc``), else ``exc`` itself."""
        for fragment in fragments:
            try:
                pq.read_table(
                    fragment.path, filesystem=self.filesystem, page_checksum_verification=True
                )
            except _files.UNREADABLE as bad:
                return StoreCorruptError(Path(fragment.path), self.layout.path, str(bad))
        return exc

    def session_days(self, ids: Sequence[str]) -> dict[str, str]:
        """Stored session id → its day partition (``YYYY-MM-DD``), for those of ``ids`` that
        are in the store."""
        table = self.scan("sessions", None, pc.field("id").isin(list(ids)), ["id", "created_at"])
        days = _arrow.day_strings(table["created_at"]).to_pylist()
        return dict(zip(table["id"].to_pylist(), days, strict=True))

    def days_for(self, filters: SessionFilters) -> set[str] | None:
        """:func:`days_for` over this store's session days and their verified statistics
        (:meth:`verified_stats`)."""
        if time_bounds(filters) == (None, None):
            return None
        days = self.layout.days("sessions")
        return days_for(filters, days, self.verified_stats(days))

    def verified_stats(self, days: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """Per day of ``days``, the ``start_time`` range (``min_start``/``max_start`` in ns)
        its file holds: the manifest's statistics when the file is still the one they were
        recorded for (same size and modification time), else the file's own Parquet
        statistics — a manifest restored from a backup, or a file changed behind the store's
        back, never makes pruning skip rows a file holds. A day with neither is absent (never
        pruned)."""
        stats = self.layout.manifest()["stats"].get("sessions", {})
        out: dict[str, Mapping[str, Any]] = {}
        for day in days:
            recorded = stats.get(day)
            key = self.layout.file_key("sessions", day)
            if isinstance(recorded, Mapping) and key is not None and recorded.get("file") == key:
                out[day] = recorded
                continue
            found = self.layout.footer_stats(day)
            if found is not None:
                out[day] = found
        return out

    def files(self, entity: str, filters: SessionFilters | None) -> list[Path]:
        """The partition files a sessions load with ``filters`` opens (``entity`` = sessions),
        or all files of ``entity`` (``filters`` = ``None``, or a detail dataset)."""
        days = self.layout.days(entity)
        if entity == "sessions" and filters is not None:
            pruned = self.days_for(filters)
            if pruned is not None:
                days = [d for d in days if d in pruned]
        return [self.layout.file(entity, d) for d in days]

    # ------------------------------------------------------------------ sessions

    def agent_ids_for(self, value: str) -> set[str]:
        """The ids sessions must carry one of for ``agent=value`` (a name, a stable id or a
        per-deployment id; see :mod:`sessionkit.agents`): the agent's stable id, as the API
        filters, from the names the syncs learned. An unknown name raises
        :class:`~sessionkit.agents.UnknownAgentError`, a name two agents share
        :class:`~sessionkit.agents.AmbiguousAgentError`."""
        names = AgentNames(dict(self.layout.manifest()["agent_names"]))
        stable = names.stable_for(value)
        if stable is not None:
            return {stable}
        if agent_kind(value) == "name":
            raise unknown_agent(value, names.known(), f"the store {self.layout.path}")
        return {value}  # an id the store never named: match it as it is

    def sessions_table(
        self, filters: SessionFilters, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """The stored sessions matching ``filters``, sorted and limited as they ask, as Arrow
        (``columns`` plus what the sort and post-filters need; all columns when ``None``)."""
        where = row_filter(filters)
        metadata = dict(filters.metadata or {})
        check_metadata_filter(metadata)
        need: list[str] | None = None
        if columns is not None and not any(isinstance(v, Mapping) for v in metadata.values()):
            # (an object value needs every column under its key: all are read then)
            need = [*columns, SORT_COLUMNS[filters.sort], "id"]
            if filters.agent is not None:
                need.append("agent_ids")
            need += [metadata_column(k) for k in metadata]
        agents = self.agent_ids_for(filters.agent) if filters.agent is not None else None
        table = self.scan("sessions", self.days_for(filters), where, need)
        table = post_filter(table, metadata, agents)
        table = frames.sorted_table(table, SORT_COLUMNS[filters.sort], filters.direction)
        if filters.limit is not None:
            table = table.slice(0, filters.limit)
        return table

    def load_filtered(
        self, filters: SessionFilters, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """The sessions frame of :meth:`sessions_table` (the loaders' dtypes); warns when it is
        empty although the store has sessions, or when no sync covers ``filters``."""
        table = self.sessions_table(filters, columns)
        if columns is None:
            table = _arrow.drop_empty_extras(table, "sessions")
        frame = _arrow.table_to_frame(table, "sessions")
        if columns is not None:
            frame = frame[[c for c in columns if c in frame.columns]]
        if frame.empty and filters.selective:
            self._warn_no_match(filters)
        else:
            self._warn_partial(filters)
        return frame

    def _warn_partial(self, filters: SessionFilters) -> None:
        """Warn when no sync of this store covers ``filters``: every scope was synced with a
        filter (``agent=``, ``env=``, ...) this load does not also ask for, so sessions outside
        those scopes were never copied and the answer may be partial."""
        manifest = self.layout.manifest()
        scopes = synced_scopes(manifest)
        if not scopes or any(scope.whole_project for scope in scopes):
            return  # never synced, or synced without filters: the store is the whole project
        asked = dict(filters.params)
        for name, values in filters.lists.items():  # one value is sent like any filter
            query = FILTER_QUERY[name]
            if len(values) == 1 and query is not None:  # (a sync's scope holds it so)
                asked.setdefault(query, values[0])
        if asked.get(AGENT_PARAM) is not None:
            try:
                asked[AGENT_PARAM] = next(iter(self.agent_ids_for(asked[AGENT_PARAM])))
            except InvalidArgumentError:
                return
        if any(scope.covers(asked) for scope in scopes):
            return
        listed = describe_scopes(scopes, manifest["agent_names"])
        errors_warn(
            f"{self.layout.path} was synced only for {listed}: sessions outside "
            f"{'that scope' if len(scopes) == 1 else 'those scopes'} were never copied, so "
            "this load may be partial. Add the same filter to the load, or run "
            "store.sync(client, ...) with this load's filters (or none) first.",
            SessionKitWarning,
            stacklevel=_SESSIONS_STACK,
        )

    def _warn_no_match(self, filters: SessionFilters) -> None:
        """Warn that ``filters`` matched nothing in a store that has sessions, naming the
        values of the simple filters the store does hold, and the scopes it was synced with."""
        listed = {"env": "env", "trigger": "trigger", "deploymentId": "deployment_id"}
        asked = [k for k in listed if k in filters.params or listed[k] in filters.lists]
        table = self.scan("sessions", None, None, ["id", *(listed[k] for k in asked)])
        if table.num_rows == 0:
            return
        hints = [
            f"{listed[k]} values in the store: "
            f"{sorted(v for v in pc.unique(table[listed[k]]).to_pylist() if v)[:10]}"
            for k in asked
        ]
        if filters.windowed:
            start = pc.min_max(self.scan("sessions", None, None, ["start_time"])["start_time"])
            hints.append(
                f"its sessions started {format_timestamp(start['min'].as_py())} to "
                f"{format_timestamp(start['max'].as_py())}"
            )
        manifest = self.layout.manifest()
        scopes = synced_scopes(manifest)
        if any(not scope.whole_project for scope in scopes):
            hints.append(f"it was synced for {describe_scopes(scopes, manifest['agent_names'])}")
        errors_warn(
            f"No sessions in {self.layout.path} match {filters.described_text()}, "
            f"although the store has {table.num_rows:,}"
            + ("; " + "; ".join(hints) if hints else "")
            + ".",
            SessionKitWarning,
            stacklevel=_SESSIONS_STACK,
        )

    # ------------------------------------------------------------------ details

    def load_detail(self, entity: str, sessions_or_ids: object) -> pd.DataFrame:
        """The stored rows of a detail dataset for the given sessions (a frame, ids; all when
        ``None``): logs by session and time, other details in the order of the ids asked for.
        Warns when some of those sessions never had this detail synced."""
        if sessions_or_ids is None:
            table = _arrow.drop_empty_extras(self.scan(entity), entity)
            frame = _arrow.table_to_frame(table, entity)
            ids: list[str] | None = None
        else:
            ids = session_ids(sessions_or_ids)
            days = None
            if isinstance(sessions_or_ids, pd.DataFrame) and {"id", "created_at"} <= set(
                sessions_or_ids.columns
            ):
                created = pa.array(sessions_or_ids["created_at"], pa.timestamp("ns", tz="UTC"))
                days = set(_arrow.day_strings(created).to_pylist())
            where = pc.field("session_id").isin(ids)
            table = _arrow.drop_empty_extras(self.scan(entity, days, where), entity)
            frame = _arrow.table_to_frame(table, entity)
        if entity == "logs":
            if len(frame):
                frame = frame.sort_values(
                    ["session_id", "timestamp"], kind="stable", ignore_index=True
                )
        elif ids is not None and len(frame):
            position = pd.Index(ids).get_indexer(frame["session_id"].to_numpy(dtype=object))
            frame = frame.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)
        self._warn_unsynced(entity, ids, frame)
        return frame

    def _warn_unsynced(self, entity: str, ids: list[str] | None, frame: pd.DataFrame) -> None:
        """Warn when some of ``ids`` (``None``: the whole store) never had their details (or
        logs, for ``logs``) stored: they are missing here, not necessarily from the API."""
        manifest = self.layout.manifest()
        done = set(manifest["logs" if entity == "logs" else "details"])
        present = set(frame["session_id"].dropna().astype(str)) if len(frame) else set()
        count: list[str] | None = None
        pending: set[str] = set()
        if ids is None:
            if done or present or not self.layout.days("sessions"):
                return
            what = "the store's sessions"
        else:
            count = [i for i in ids if i not in done and i not in present]
            if not count:
                return
            table = self.scan("sessions", None, pc.field("id").isin(count), ["id", "pending"])
            pending = set(table.filter(pc.fill_null(table["pending"], False))["id"].to_pylist())
            what = f"{len(count):,} of the {len(ids):,} sessions asked for"
        part = "logs" if entity == "logs" else "details"
        logs = ", logs=True" if entity == "logs" else ""
        if count and len(pending) == len(count):
            message = (
                f"{entity}: {what} are still pending; their {part} are stored once they "
                "complete (the next sync after that fetches them), or read the API (store=None)."
            )
        else:
            example = (
                f"store.sync(details=ids{logs}) with the {len(count):,} ids (e.g. {count[0]!r})"
                if count
                else f"store.sync(details='all'{logs})"
            )
            still = f" ({len(pending):,} of them still pending)" if pending else ""
            message = (
                f"{entity}: {what} never had their {part} synced into {self.layout.path}{still}, "
                f"so they have no {entity} here. Fetch them with {example} or `sessionkit sync "
                f"--details all{' --logs' if entity == 'logs' else ''}`, or read the API "
                "(store=None)."
            )
        errors_warn(message, SessionKitWarning, stacklevel=_DETAILS_STACK)
