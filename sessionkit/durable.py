"""Durable, private files: the one way sessionkit writes a file (the store's partitions and
manifest, the report and its CSV tables).

A file goes to a temporary name in the same directory (a dot file, which pyarrow, DuckDB, Dask
and Spark all skip), is flushed and ``fsync``-ed, then renamed over the target with
:func:`os.replace`, and the directory is ``fsync``-ed: a reader (or a process killed with
SIGKILL at any instant) sees the old file or the new one, never half of one. Directories are
created ``0o700`` and files ``0o600`` whatever the umask. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

DIR_MODE = 0o700
FILE_MODE = 0o600
TMP_SUFFIX = ".tmp"
#: The temporary files :func:`write_atomic` makes, the only ones :func:`remove_stale_tmp`
#: deletes (another tool's ``.something.tmp`` beside a store is left alone).
TMP_NAME = re.compile(r"^\..+\.\d+\.\d+\.[0-9a-f]{8}\.tmp$")


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
    """A fresh temporary sibling of ``path``, written before the atomic rename: named by
    process, thread and 8 random hex digits (two writers of one path never share one, and the
    name cannot be guessed to plant a link there); :data:`TMP_NAME` matches it."""
    token = secrets.token_hex(4)
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{token}{TMP_SUFFIX}")


def write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``path`` through ``write(file)``: temp file, fsync, ``os.replace``, fsync dir."""
    ensure_dir(path.parent)
    tmp = tmp_path(path)
    # O_EXCL | O_NOFOLLOW: a file or a symlink already at that name is never written through
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
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
            if TMP_NAME.match(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    return removed


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through :func:`write_atomic` (its directory is
    created 0700 when missing)."""
    data = text.encode("utf-8")
    write_atomic(path, lambda fh: fh.write(data))
