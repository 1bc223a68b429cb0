"""sessionkit.report._render: render_report is pure — no file touched, same frames, same text."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

import sessionkit as sk
from sessionkit.emulator import generate
from sessionkit.report import render_report


@cache
def _sessions() -> pd.DataFrame:
    ds = generate(400, seed=3)
    frame = sk.sessions_frame(ds.render_sessions(range(len(ds)), ds.now_ns))
    names = {a["identifier"]: a["name"] for a in ds.meta["agents"]}
    agent = [next((names[x] for x in ids if x in names), None) for ids in frame["agent_ids"]]
    return frame.assign(agent=pd.Categorical(agent))


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_render_writes_nothing_and_is_repeatable(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sessions = _sessions()
    before = sessions.copy()
    first = render_report(sessions, fmt=fmt)
    second = render_report(sessions, fmt=fmt)
    assert os.listdir(tmp_path) == []  # no file written, not even report.html
    assert first.path is None and first.csv_dir is None and first.fmt == fmt
    assert first.text == second.text and first.incidents == second.incidents
    assert first.tables.keys() == second.tables.keys()
    for name, table in first.tables.items():
        pd.testing.assert_frame_equal(table, second.tables[name])
    pd.testing.assert_frame_equal(sessions, before)  # the input is not changed either
    if fmt == "html":
        assert first.text.startswith("<!doctype html>") and "data:image/png;base64," in first.text
    else:
        assert first.text.startswith("# Agent sessions") and "<img" not in first.text


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="fmt must be"):
        render_report(_sessions(), fmt="pdf")
