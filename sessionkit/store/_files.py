"""Durable, private files: atomic replace, the store lock and the JSON manifest. No pandas.

Every file the store writes goes to a temporary name in the same directory (a dot file, which
pyarrow, DuckDB, Dask and Spark all skip), is flushed and ``fsync``-ed, then renamed over the
target with :func:`os.replace`, and the directory is ``fsync``-ed: a reader (or a process killed
with SIGKILL at any instant) sees the old file or the new one, never half of one. Directories
are created ``0o700`` and files ``0o600``; nothing is pickled.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ..errors import SessionKitError

DIR_MODE = 0o700
FILE_MODE = 0o600
TMP_SUFFIX = ".tmp"


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


def ensure_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) with mode 0o700; existing directories are kept."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, DIR_MODE)
            os.chmod(directory, DIR_MODE)


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tmp_path(path: Path) -> Path:
    """The temporary sibling ``path`` is written to before the atomic rename."""
    return path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")


def write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``path`` through ``write(file)``: temp file, fsync, ``os.replace``, fsync dir."""
    ensure_dir(path.parent)
    tmp = tmp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def remove_stale_tmp(root: Path) -> int:
    """Delete temporary files left by a killed writer under ``root``; returns how many."""
    removed = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    return removed


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
