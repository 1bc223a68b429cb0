"""A local store of sessions: Parquet datasets kept in sync with the API, queried with SQL.

::

    import sessionkit as sk
    from sessionkit.store import Store

    store = Store()                          # data/store under the working directory
    store.sync(client, since="90d", details="failed")   # first run: history; then: changes only
    week = store.load_sessions(since="7d", trigger="cron")   # reads 7 day partitions
    store.sql("SELECT agent, day, sum(total_cost) AS cost FROM sessions GROUP BY ALL")

Module map: :mod:`._store` (layout, reading, SQL, merging), :mod:`._sync` (the sync walk),
:mod:`._arrow` (frames ↔ Arrow, dtype restoration), :mod:`._files` (atomic files, lock,
manifest). ``sessionkit sync`` is :mod:`sessionkit.cli.sync`.
"""

from ._arrow import restore_dtypes
from ._files import StoreLockedError
from ._store import DEFAULT_PATH, ENTITIES, Store
from ._sync import Selection, SyncResult, walk_pages

__all__ = [
    "DEFAULT_PATH",
    "ENTITIES",
    "Selection",
    "Store",
    "StoreLockedError",
    "SyncResult",
    "restore_dtypes",
    "walk_pages",
]
