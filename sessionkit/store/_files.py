"""The store's files: its lock and its JSON manifest, on top of :mod:`sessionkit.durable`
(atomic, private writes; re-exported here so the store's layers reach every file operation in
one place), and the error of a file that cannot be read. No pandas; nothing is pickled.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from ..durable import FILE_MODE, TMP_NAME, ensure_dir, fsync_dir, remove_stale_tmp, write_atomic
from ..errors import SessionKitError

# the store's layers reach durable's writes through this module (one place to intercept them)
__all__ = [
    "UNREADABLE",
    "StoreCorruptError",
    "StoreLockedError",
    "damage",
    "ensure_dir",
    "exclusive_lock",
    "fsync_dir",
    "is_tmp",
    "read_json",
    "remove_stale_tmp",
    "write_atomic",
    "write_json",
]


class StoreLockedError(SessionKitError):
    """Another process is syncing this store (its lock file is held)."""

    def __init__(self, lock_path: Path, pid: int | None) -> None:
        self.lock_path = lock_path
        self.pid = pid
        holder = f"process {pid}" if pid is not None else "another process (pid not yet written)"
        super().__init__(
            f"The store is locked: {lock_path} is held by {holder}, which is syncing it. "
            "Wait for that sync to finish (or stop it), then sync again; only one sync may "
            "write a store at a time (reading it meanwhile is fine)."
        )


class StoreCorruptError(SessionKitError):
    """A file of the store cannot be read (damaged, truncated, not what the store wrote).

    ``path`` is the file, ``store`` the store's directory. The message says how to repair it:
    :meth:`Store.repair` (``sessionkit store check --repair``) moves what cannot be read aside
    and rebuilds the manifest, so the next sync fetches the lost sessions again.
    """

    def __init__(self, path: Path, store: Path, reason: str) -> None:
        self.path = path
        self.store = store
        self.reason = reason = damage(reason)
        super().__init__(
            f"{path} cannot be read: {reason}. The store's file is damaged; nothing was "
            f"changed. Run `sessionkit store check --repair --store {store}` (or "
            f"Store({str(store)!r}).repair()): it moves what cannot be read into "
            f"{store / 'quarantine'} and rebuilds the manifest, and the next sync fetches "
            "those sessions again."
        )


#: What reading a damaged Parquet file raises (Arrow's errors, or an OSError such as "Couldn't
#: deserialize thrift" or a failed page CRC); :class:`StoreCorruptError` is raised in its place.
UNREADABLE: tuple[type[Exception], ...] = (pa.ArrowException, OSError)

_SOURCE = re.compile(r"Could not open Parquet input source '[^']*': ")


def damage(reason: str) -> str:
    """What is wrong with a file, from a reader's error text: one line, without the file's
    path (the messages name it once) and without a closing period."""
    text = " ".join(_SOURCE.sub("", reason).split())
    return text.rstrip(". ")


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``lock_path`` or raise :class:`StoreLockedError`.

    The holder's pid is written into the file so a refused process can name it. The lock is
    released by the kernel when the holder dies, even by SIGKILL; the file itself stays.
    """
    ensure_dir(lock_path.parent)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreLockedError(lock_path, _read_pid(fd)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def is_tmp(name: str) -> bool:
    """Whether a file name is that of a temporary file of :func:`write_atomic`."""
    return bool(TMP_NAME.match(name))


def read_json(path: Path, store: Path) -> dict[str, Any] | None:
    """The JSON object in ``path`` (a file of the store at ``store``), or ``None`` when the
    file does not exist; raises :class:`StoreCorruptError` when it is not a JSON object."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StoreCorruptError(path, store, f"it is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise StoreCorruptError(path, store, "it is not a JSON object")
    return value


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Write ``value`` as JSON to ``path`` atomically (mode 0o600)."""
    data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    write_atomic(path, lambda fh: fh.write(data))
