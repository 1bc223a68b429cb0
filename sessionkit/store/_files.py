"""The store's files: its lock and its JSON manifest, on top of :mod:`sessionkit.durable`
(atomic, private writes; re-exported here so the store's layers reach every file operation in
one place). No pandas; nothing is pickled.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ..durable import FILE_MODE, ensure_dir, remove_stale_tmp, write_atomic
from ..errors import SessionKitError

# the store's layers reach durable's writes through this module (one place to intercept them)
__all__ = [
    "StoreLockedError",
    "ensure_dir",
    "exclusive_lock",
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


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or ``None`` when the file does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    value = orjson.loads(data)
    if not isinstance(value, dict):
        raise SessionKitError(f"{path} is not a store manifest (expected a JSON object)")
    return value


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Write ``value`` as JSON to ``path`` atomically (mode 0o600)."""
    data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    write_atomic(path, lambda fh: fh.write(data))
