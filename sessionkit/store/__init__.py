"""A local store of sessions: Parquet datasets kept in sync with the API, queried with SQL.

::

    import sessionkit as sk
    from sessionkit.store import Store

    store = Store()                          # data/store under the working directory
    store.sync(client, since="90d", details="failed")   # first run: history; then: changes only
    week = store.load_sessions(since="7d", trigger="cron")   # reads 7 day partitions
    store.sql("SELECT agent, day, sum(total_cost) AS cost FROM sessions GROUP BY ALL")

Module map (each imports only the modules listed before it, never one after):

* :mod:`._files` — atomic private files, the lock, JSON (no pandas).
* :mod:`._arrow` — frames ↔ the store's Arrow form, dtype restoration, file-schema union and
  conforming (no I/O).
* :mod:`._scope` — the scope a sync covered: read from the manifest, matched, rendered (pure).
* :mod:`._layout` — paths, day partitions, the manifest (read, copy, save), the lock.
* :mod:`._reader` — scans with pushdown (the ``SessionFilters`` → expression / day-set
  functions), sort, post-filters, detail reads, and a read's warnings.
* :mod:`._writer` — session merges, detail replacement, partition writes at one schema.
* :mod:`._sql` — the DuckDB views and ``sql()``.
* :mod:`._check` — what is wrong with a store's files (:class:`StoreCheck`) and the repair.
* :mod:`._sync` — the sync run (:class:`SyncResult`), over the layout, reader and writer.
* :mod:`._store` — :class:`Store`, the facade composing all of the above.

``sessionkit sync`` is :mod:`sessionkit.cli.sync` (it uses :class:`Store`; nothing here imports
the CLI).

``__all__`` is the public API; the helpers the CLI and the tests use stay importable from
their modules.
"""

from ._arrow import restore_dtypes
from ._check import StoreCheck
from ._files import StoreCorruptError, StoreLockedError
from ._layout import DEFAULT_PATH as DEFAULT_PATH
from ._layout import ENTITIES as ENTITIES
from ._store import Store
from ._sync import Selection as Selection
from ._sync import StoreSourceError, SyncResult

#: The public API: what the README and the notebooks use, and the converter
#: :meth:`Store.duckdb` points to. DEFAULT_PATH, ENTITIES and Selection stay
#: importable from here as before but are not promised.
__all__ = [
    "Store",
    "StoreCheck",
    "StoreCorruptError",
    "StoreLockedError",
    "StoreSourceError",
    "SyncResult",
    "restore_dtypes",
]
