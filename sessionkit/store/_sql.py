"""SQL over a store: one in-memory DuckDB connection with a view per dataset, and query
results brought back to the contract dtypes.

May import: :mod:`._layout`, :mod:`._arrow`, :mod:`._files` (the error of a damaged file). DuckDB itself is imported on first use (it is
a heavy import a store that is never queried with SQL does not pay for).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import _arrow, _files
from ._arrow import DAY
from ._layout import ENTITIES, Layout

if TYPE_CHECKING:  # the type only: duckdb is imported on first use
    import duckdb as _duckdb


def sql_text(text: str) -> str:
    """``text`` as the inside of a single-quoted SQL string literal (quotes doubled)."""
    return text.replace("'", "''")


class SQL:
    """The DuckDB views of the store at ``layout``; thread-safe (one lock per connection)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._con: _duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    def connection(self) -> _duckdb.DuckDBPyConnection:
        """The store's DuckDB connection (in memory, ``TimeZone`` UTC), with views
        ``sessions``, ``eval_runs``, ``logs``, ``spans`` and ``agents`` over the datasets
        (plus their ``day`` column), refreshed to the files present now."""
        import duckdb

        with self._lock:
            if self._con is None:
                self._con = duckdb.connect()
                self._con.execute("SET TimeZone = 'UTC'")
            self._refresh_views(self._con)
            return self._con

    def _refresh_views(self, con: _duckdb.DuckDBPyConnection) -> None:
        for entity in ENTITIES:
            if self.layout.days(entity):
                pattern = str(self.layout.dataset_path(entity) / f"{DAY}=*" / "*.parquet")
                source = (
                    f"read_parquet('{sql_text(pattern)}', hive_partitioning = true, "
                    "union_by_name = true)"
                )
            else:
                con.register(f"_sessionkit_empty_{entity}", _arrow.empty_table(entity))
                source = f"(SELECT *, NULL::DATE AS day FROM _sessionkit_empty_{entity})"
            con.execute(f"CREATE OR REPLACE VIEW {entity} AS SELECT * FROM {source}")

    def query(
        self, query: str, params: Sequence[object] | Mapping[str, object] | None = None
    ) -> pd.DataFrame:
        """The result of ``query`` over the views of :meth:`connection`, fetched through Arrow,
        columns named like contract columns with the contract dtypes (an empty frame for a
        statement with no result)."""
        import duckdb

        try:
            con = self.connection()  # the views read every file's footer
            with self._lock:
                relation = con.sql(query, params=params)
                if relation is None:  # a statement with no result (SET, CREATE, ...)
                    return pd.DataFrame()
                fetch = getattr(relation, "to_arrow_table", None)  # DuckDB >= 1.4; .arrow() before
                result = fetch() if fetch is not None else relation.arrow()
            table = result.read_all() if isinstance(result, pa.RecordBatchReader) else result
        except duckdb.Error as exc:
            damaged = self._damaged()
            if damaged is None:
                raise  # the query's own error (a typo, a missing column): DuckDB says it best
            raise damaged from exc
        return _arrow.restore_dtypes(table)

    def _damaged(self) -> _files.StoreCorruptError | None:
        """The error naming the first partition file whose footer cannot be read (DuckDB's
        error names neither the file nor the fix), or ``None`` when every footer reads."""
        for entity in ENTITIES:
            for day in self.layout.days(entity):
                path = self.layout.file(entity, day)
                try:
                    pq.read_metadata(path)
                except _files.UNREADABLE as exc:
                    return _files.StoreCorruptError(path, self.layout.path, str(exc))
        return None
