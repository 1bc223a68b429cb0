"""sessionkit.durable: the one way a file is written (store partitions and manifest, reports)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from sessionkit.durable import write_atomic, write_text


def test_files_are_private_and_directories_created_private(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        target = tmp_path / "a" / "b" / "report.html"
        write_text(target, "héllo")
    finally:
        os.umask(old)
    assert target.read_text(encoding="utf-8") == "héllo"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    write_text(target, "old")

    def half_then_fail(fh: object) -> None:
        fh.write(b"new, half")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, half_then_fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_concurrent_writers_of_one_path_never_mix_their_bytes(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    texts = [str(i) * 200_000 for i in range(8)]
    errors: list[BaseException] = []

    def write(text: str) -> None:
        try:
            for _ in range(5):
                write_text(target, text)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_text() in texts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
