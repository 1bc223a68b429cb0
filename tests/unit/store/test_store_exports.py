"""``sessionkit.store.__all__`` is exactly the documented public API, and every name resolves."""

from __future__ import annotations

import sessionkit as sk
import sessionkit.store as store

#: What the README, the notebooks and ``Store.duckdb``'s docstring tell users to import.
DOCUMENTED = [
    "Store",
    "StoreCheck",
    "StoreCorruptError",
    "StoreLockedError",
    "StoreSourceError",
    "SyncResult",
    "restore_dtypes",
]


def test_all_is_exactly_the_documented_api() -> None:
    assert sorted(store.__all__) == sorted(DOCUMENTED)
    assert len(store.__all__) == len(set(store.__all__))


def test_each_public_name_resolves_to_a_store_object() -> None:
    for name in store.__all__:
        value = getattr(store, name)
        assert value.__module__.startswith("sessionkit.store."), name


def test_the_top_level_package_exports_the_same_objects() -> None:
    assert sk.Store is store.Store
    assert sk.StoreLockedError is store.StoreLockedError
    assert sk.SyncResult is store.SyncResult


def test_helpers_stay_importable_from_their_modules() -> None:
    from sessionkit.store._layout import DEFAULT_PATH, ENTITIES
    from sessionkit.store._sync import Selection

    assert store.Selection is Selection
    assert store.DEFAULT_PATH == DEFAULT_PATH and store.ENTITIES == ENTITIES
    for name in ("DEFAULT_PATH", "ENTITIES", "Selection"):
        assert name not in store.__all__


def test_the_sync_command_lives_in_the_cli_package_not_in_the_store() -> None:
    from sessionkit.cli import sync

    assert callable(sync.configure) and callable(sync.run)
    for name in ("configure_sync_parser", "run_sync"):
        assert not hasattr(store, name)
