"""Session status, as a person reads it: the repr, the HTML card, the inspector's card and the
panel table agree with the data for succeeded, failed and pending sessions."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import sessionkit as sk
from sessionkit.emulator import Emulator
from sessionkit.widgets import FilterPanel, SessionInspector
from tests.conftest import make_client


def _one_of_each(sessions: pd.DataFrame) -> dict[str, str]:
    pending = sessions["pending"].eq(True)
    ok = sessions["pending"].eq(False) & sessions["success"].eq(True)
    bad = sessions["pending"].eq(False) & sessions["success"].eq(False)
    return {
        "succeeded": str(sessions.loc[ok, "id"].iloc[0]),
        "failed": str(sessions.loc[bad, "id"].iloc[0]),
        "pending": str(sessions.loc[pending, "id"].iloc[0]),
    }


@pytest.fixture(scope="module")
def picked(demo_emu: Emulator) -> dict[str, str]:
    with make_client(demo_emu) as client:
        return _one_of_each(sk.load_sessions(client, progress=False))


@pytest.mark.parametrize("status", ["succeeded", "failed", "pending"])
def test_detail_repr_and_card_show_the_true_status(
    demo_emu: Emulator, picked: dict[str, str], status: str
) -> None:
    with make_client(demo_emu) as client:
        detail = sk.load_session(picked[status], client)
    assert detail.status == status
    assert f"status={status!r}" in repr(detail)
    assert f"<th style='text-align:left'>status</th><td>{status}</td>" in detail._repr_html_()
    inspector = SessionInspector(picked[status], client=make_client(demo_emu))
    assert f"<td>{status}</td>" in inspector.summary_html.value
    for other in {"succeeded", "failed", "pending"} - {status}:
        assert f"<td>{other}</td>" not in inspector.summary_html.value


def test_detail_repr_shows_human_units(demo_emu: Emulator, picked: dict[str, str]) -> None:
    with make_client(demo_emu) as client:
        detail = sk.load_session(picked["failed"], client)
    text = repr(detail)
    assert "0 days" not in text and re.search(r"duration='[0-9.]+ (ms|s|min [0-9]+ s)'", text)
    assert "total_cost='$" in text
    html = detail._repr_html_()
    assert "0 days" not in html and " UTC</td>" in html and "+00:00" not in html


def test_panel_table_shows_each_status(demo_emu: Emulator) -> None:
    with make_client(demo_emu) as client:
        sessions = sk.load_sessions(client, progress=False)
    picked = _one_of_each(sessions)
    panel = FilterPanel(sessions.loc[sessions["id"].isin(picked.values())], client=None)
    html = panel.table_html.value
    for status, sid in picked.items():
        row = html[html.index(sid) :].split("</tr>")[0]
        assert f"<td>{status}</td>" in row
        assert "0 days" not in row
