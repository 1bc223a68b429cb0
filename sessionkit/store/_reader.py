"""Reading a store: dataset scans with filter pushdown, sort, post-filters, detail reads, and
the warnings a read gives (nothing matched, maybe partial, details never synced).

A sessions load opens only the day partitions whose sessions can start in the filters' time
range (each day's ``start_time`` range is in the manifest: :func:`days_for`), filters rows
while scanning (:func:`row_filter`), then applies what Parquet cannot (:func:`post_filter`:
agent, metadata) and sorts (:func:`sessionkit.frames.sorted_table`). The functions that turn a
:class:`~sessionkit.params.SessionFilters` into scan expressions and day sets are plain
module-level functions, each taking the filters.

May import: :mod:`._layout`, :mod:`._scope`, :mod:`._arrow`, and sessionkit's ``params``,
``agents``, ``frames``, ``display``, ``errors``. Never the writer, the SQL views or the sync.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from .. import frames
from ..agents import AgentNames, agent_kind, sessions_with_any, unknown_agent
from ..display import format_timestamp
from ..errors import InvalidArgumentError, SessionKitWarning
from ..errors import warn as errors_warn
from ..params import FILTER_QUERY, SORT_COLUMNS, SessionFilters, session_ids
from . import _arrow
from ._arrow import DAY
from ._layout import Layout
from ._scope import AGENT_PARAM, describe_scopes, synced_scopes

_HIVE = ds.partitioning(pa.schema([(DAY, pa.string())]), flavor="hive")
_FORMAT = ds.ParquetFileFormat()
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


def flat_metadata(metadata: Mapping[str, object] | None) -> dict[str, object]:
    """The ``metadata=`` filter as flat ``a.b`` keys → values, as the frames' ``metadata.*``
    columns are named (``{}`` when not given)."""
    return frames._flatten_object(metadata, "") if metadata is not None else {}


def post_filter(
    table: pa.Table, metadata: Mapping[str, object], agent_ids: set[str] | None = None
) -> pa.Table:
    """The rows of ``table`` that pass the filters a scan cannot push down: ``agent``
    (sessions whose ``agent_ids`` hold any of ``agent_ids``) and ``metadata`` (flattened
    key = value, :func:`flat_metadata`)."""
    n = table.num_rows
    if not n:
        return table
    mask = np.ones(n, dtype=bool)
    if agent_ids is not None:
        mask &= sessions_with_any(table["agent_ids"], agent_ids)
    for key, value in metadata.items():
        column = f"metadata.{key}"
        if column not in table.column_names:
            mask[:] = False
            break
        values = frames.values_of(table[column])  # a JSON-text column's texts read back
        mask &= np.fromiter((json_equal(v, value) for v in values), dtype=bool, count=n)
    return table if mask.all() else table.filter(pa.array(mask))


def json_equal(a: object, b: object) -> bool:
    """JSON equality: ``1 == 1.0`` but ``True != 1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


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
        (a column missing from a file reads as nulls; a type clash reads as text).
        """
        chosen = self.layout.days(entity)
        if days is not None:
            wanted = set(days)
            chosen = [d for d in chosen if d in wanted]
        if not chosen:
            return None
        # newest day first: rows are stored newest first too, so a scan comes out in the
        # default order of sk.load_sessions (created_at descending) without a sort
        files = [str(self.layout.file(entity, d)) for d in reversed(chosen)]
        factory = ds.dataset(
            files,
            format=_FORMAT,
            partitioning=_HIVE,
            partition_base_dir=str(self.layout.dataset_path(entity)),
            filesystem=self.filesystem,
        )
        fragments = list(factory.get_fragments())
        unified = frames.unify_schemas([f.physical_schema for f in fragments])
        # category columns are read dictionary-encoded: no string per row is materialised and
        # the frame's categoricals are built from the codes (a 1M-session load: -40%)
        cats = {
            f.name
            for f in unified
            if f.name in _arrow.category_columns(entity) and pa.types.is_string(f.type)
        }
        fmt = _FORMAT
        if cats:
            options = ds.ParquetReadOptions(dictionary_columns=sorted(cats))
            fmt = ds.ParquetFileFormat(read_options=options)
            fragments = [
                fmt.make_fragment(f.path, factory.filesystem, f.partition_expression)
                for f in fragments
            ]
            text = pa.dictionary(pa.int32(), pa.string())
            unified = pa.schema([f.with_type(text) if f.name in cats else f for f in unified])
        unified = unified.append(pa.field(DAY, pa.string()))
        return ds.FileSystemDataset(fragments, unified, fmt, factory.filesystem)

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
        ``columns`` (those that exist; all when ``None``), newest day first."""
        dataset = self.open_dataset(entity, days)
        if dataset is None:
            table = _arrow.empty_table(entity)
            return (
                table.select([c for c in columns if c in table.column_names]) if columns else table
            )
        names = dataset.schema.names
        if columns is not None:
            columns = [c for c in dict.fromkeys(columns) if c in names]
        # the system allocator: Arrow's default (mimalloc) makes the first large scan of a
        # process about twice as slow (1.8 s vs 0.7 s for 1M sessions, measured)
        return dataset.to_table(columns=columns, filter=where, memory_pool=pa.system_memory_pool())

    def session_days(self, ids: Sequence[str]) -> dict[str, str]:
        """Stored session id → its day partition (``YYYY-MM-DD``), for those of ``ids`` that
        are in the store."""
        table = self.scan("sessions", None, pc.field("id").isin(list(ids)), ["id", "created_at"])
        days = _arrow.day_strings(table["created_at"]).to_pylist()
        return dict(zip(table["id"].to_pylist(), days, strict=True))

    def days_for(self, filters: SessionFilters) -> set[str] | None:
        """:func:`days_for` over this store's session days and manifest statistics."""
        stats = self.layout.manifest()["stats"].get("sessions", {})
        return days_for(filters, self.layout.days("sessions"), stats)

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
        metadata = flat_metadata(filters.metadata)
        need: list[str] | None = None
        if columns is not None:
            need = [*columns, SORT_COLUMNS[filters.sort], "id"]
            if filters.agent is not None:
                need.append("agent_ids")
            need += [f"metadata.{k}" for k in metadata]
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
