"""sessionkit.report._document: Report.write is atomic and private, and never leaves a part."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from sessionkit.report import Report


def _report(text: str = "<p>hello</p>") -> Report:
    tables = {"a": pd.DataFrame({"x": [1, 2]}), "b": pd.DataFrame({"y": ["p", "q"]})}
    return Report(text=text, fmt="html", tables=tables, incidents=["one change"])


def test_write_writes_text_and_csvs_privately_and_no_temp_file(tmp_path: Path) -> None:
    written = _report().write(tmp_path / "out" / "r.html", csv_dir=tmp_path / "csv")
    assert written.path == tmp_path / "out" / "r.html" and written.csv_dir == tmp_path / "csv"
    assert written.path.read_text() == "<p>hello</p>"
    assert stat.S_IMODE(written.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o700
    assert sorted(os.listdir(tmp_path / "out")) == ["r.html"]  # no temp file left
    assert sorted(os.listdir(tmp_path / "csv")) == ["a.csv", "b.csv"]
    assert pd.read_csv(tmp_path / "csv" / "b.csv")["y"].tolist() == ["p", "q"]


def test_write_returns_a_written_copy(tmp_path: Path) -> None:
    report = _report()
    written = report.write(tmp_path / "r.html")
    assert report.path is None and "not written yet" in report._repr_html_()
    assert written.csv_dir is None and str(tmp_path / "r.html") in written._repr_html_()
    assert written.text == report.text and written.incidents == ["one change"]


def test_write_into_a_directory_that_is_a_file_fails_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        _report().write(tmp_path / "file" / "r.html")
    assert sorted(os.listdir(tmp_path)) == ["file"]
    assert (tmp_path / "file").read_text() == "x"


def test_write_onto_a_directory_fails_and_leaves_no_temp_file(tmp_path: Path) -> None:
    (tmp_path / "r.html").mkdir()
    with pytest.raises(IsADirectoryError):
        _report().write(tmp_path / "r.html")
    assert sorted(os.listdir(tmp_path)) == ["r.html"]
    assert os.listdir(tmp_path / "r.html") == []


def test_a_write_failing_halfway_keeps_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    target.write_text("the previous report")
    broken = _report("<p>" + "x" * 100_000 + "\ud800</p>")  # not encodable: fails mid-write
    with pytest.raises(UnicodeEncodeError):
        broken.write(target)
    assert target.read_text() == "the previous report"
    assert sorted(os.listdir(tmp_path)) == ["r.html"]
