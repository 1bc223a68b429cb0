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


def test_a_link_planted_at_the_temporary_name_is_never_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary name is opened O_EXCL | O_NOFOLLOW (and carries a random token): a
    symlink planted there made the write overwrite the link's target and chmod it 0600."""
    import secrets

    from sessionkit import durable

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    victim.chmod(0o644)
    target = tmp_path / "report.html"
    monkeypatch.setattr(secrets, "token_hex", lambda n: "0badc0de")
    planted = durable.tmp_path(target)
    planted.symlink_to(victim)
    with pytest.raises(FileExistsError):
        write_text(target, "new")
    assert victim.read_text() == "keep me" and stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert not target.exists()


def test_only_our_own_stale_temporaries_are_removed(tmp_path: Path) -> None:
    from sessionkit.durable import remove_stale_tmp
    from sessionkit.durable import tmp_path as temporary

    ours = temporary(tmp_path / "sessions" / "part.parquet")
    ours.parent.mkdir()
    ours.write_bytes(b"half")
    theirs = [
        tmp_path / ".vimswap.tmp",
        tmp_path / ".x.123.tmp",
        tmp_path / "sessions" / ".cache.tmp",
    ]
    for path in theirs:
        path.write_bytes(b"not ours")
    assert remove_stale_tmp(tmp_path) == 1
    assert not ours.exists() and all(p.exists() for p in theirs)
