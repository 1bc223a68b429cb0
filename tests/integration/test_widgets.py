"""Widget panels: set control values, check the filtered frame and the numbers shown."""

from __future__ import annotations

import pandas as pd
import pytest

import sessionkit as sk
from sessionkit.display import format_duration
from sessionkit.emulator import Emulator
from sessionkit.filtering import filter_frame, summarise
from sessionkit.widgets import FilterPanel, SessionInspector
from tests.conftest import make_client


@pytest.fixture(scope="module")
def sessions(demo_emu: Emulator) -> pd.DataFrame:
    return sk.load_sessions(make_client(demo_emu), progress=False)


def test_initial_panel_shows_everything(sessions: pd.DataFrame) -> None:
    panel = FilterPanel(sessions, debounce=0, plot="(none)")
    assert len(panel.filtered) == len(sessions) == 3000
    assert f"<b>{len(sessions):,}</b> of {len(sessions):,} sessions" in panel.summary_html.value
    assert panel.summary == summarise(sessions)


def test_controls_filter_and_update_the_summary(sessions: pd.DataFrame) -> None:
    panel = FilterPanel(sessions, debounce=0, plot="(none)")
    panel.controls["agents"].value = ("support-triage",)
    panel.controls["statuses"].value = ("failed",)
    expected = filter_frame(sessions, agents=["support-triage"], statuses=["failed"])
    assert panel.filtered["id"].tolist() == expected["id"].tolist() and 0 < len(expected) < 200
    assert panel.summary["failure_rate"] == 1.0
    assert f"<b>{len(expected):,}</b> of 3,000" in panel.summary_html.value
    panel.controls["error_text"].value = "timeout"
    assert panel.filtered["error"].str.contains("timeout", case=False).all()
    assert len(panel.filtered) < len(expected)
    days = panel.controls["days"].options
    # three days from the day of the matching sessions' median (so the range holds some)
    middle = panel.filtered["start_time"].sort_values().iloc[len(panel.filtered) // 2].floor("D")
    k = next(i for i, (_label, day) in enumerate(days) if day == middle)
    before = len(panel.filtered)
    panel.controls["days"].value = (days[k][1], days[k + 2][1])
    assert 0 < len(panel.filtered) < before
    assert panel.filtered["start_time"].min() >= days[k][1]
    assert panel.filtered["start_time"].max() < days[k + 2][1] + pd.Timedelta(days=1)


def test_table_lists_the_top_sessions_and_inspects_one(
    demo_emu: Emulator, sessions: pd.DataFrame
) -> None:
    panel = FilterPanel(sessions, debounce=0, plot="(none)", client=make_client(demo_emu))
    panel.controls["sort_by"].value = "duration"
    top = panel.top_sessions()
    assert top["duration"].tolist() == sessions["duration"].nlargest(15).tolist()
    assert (
        top["id"].iloc[0] in panel.table_html.value
        and list(panel.inspect_id.options) == top["id"].tolist()
    )
    inspector = panel.inspect(top["id"].iloc[0])
    assert inspector is not None and inspector.detail.id == top["id"].iloc[0]


def test_metadata_and_cost_controls(sessions: pd.DataFrame) -> None:
    panel = FilterPanel(sessions, debounce=0, plot="(none)")
    panel.controls["metadata_key"].value = "metadata.customer_tier"
    panel.controls["metadata_value"].value = "enterprise"
    assert (panel.filtered["metadata.customer_tier"] == "enterprise").all() and len(
        panel.filtered
    ) > 0
    high = float(sessions["total_cost"].quantile(0.9))
    panel.controls["cost"].value = (high, panel.controls["cost"].max)
    assert (panel.filtered["total_cost"] >= high - 1e-3).all()


def test_debounced_updates_arrive(sessions: pd.DataFrame) -> None:
    import time

    panel = FilterPanel(sessions, debounce=0.05, plot="(none)")
    panel.controls["triggers"].value = ("cron",)
    deadline = time.monotonic() + 5
    while len(panel.filtered) == len(sessions) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert set(panel.filtered["trigger"]) == {"cron"}


def test_inspector_filters_logs_by_severity(demo_emu: Emulator, sessions: pd.DataFrame) -> None:
    failed = sessions[(sessions["success"] == False) & (sessions["pending"] == False)]  # noqa: E712
    inspector = SessionInspector(failed["id"].iloc[0], client=make_client(demo_emu))
    everything = len(inspector.logs_shown)
    inspector.controls["min_severity"].value = "ERROR"
    assert 0 < len(inspector.logs_shown) < everything
    assert (inspector.logs_shown["severity"] >= "ERROR").all()
    assert (
        "ERROR" in inspector.logs_html.value
        and failed["id"].iloc[0] in inspector.summary_html.value
    )


def test_sessionkit_imports_without_ipywidgets_and_the_panel_says_how_to_install() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['ipywidgets'] = None\n"  # makes `import ipywidgets` fail
        "import sessionkit as sk\n"
        "from sessionkit.widgets import FilterPanel\n"
        "try:\n"
        "    FilterPanel(sk.empty_frame('sessions'))\n"
        "except ImportError as exc:\n"
        "    print('ImportError:', exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "ImportError: sessionkit's panels need ipywidgets: pip install 'ipywidgets>=8'" in out


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, sessionkit; print(sorted(m for m in ('ipywidgets', 'matplotlib', 'duckdb') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_duration_slider_labels_read_like_the_rest_of_sessionkit(sessions: pd.DataFrame) -> None:
    options = FilterPanel(sessions, debounce=0, plot="(none)").controls["duration"].options
    labels = [label for label, _ in options]
    assert labels[0] == "0 ms" and labels[-1] == "∞"
    assert labels == [format_duration(seconds) for _, seconds in options]


def test_an_agent_name_selects_what_load_sessions_agent_selects(
    demo_emu: Emulator, sessions: pd.DataFrame
) -> None:
    """The panel and filter_frame mean by an agent name what load_sessions(agent=) means:
    every session the agent took part in, called by another agent too (it used to be only
    the sessions it was the calling agent of: 732 of doc-extractor's 937)."""
    client = make_client(demo_emu)
    nested = 0
    for name in sessions["agent"].dropna().unique():
        loaded = sk.load_sessions(client, agent=str(name), progress=False)
        picked = filter_frame(sessions, agents=[str(name)])
        assert set(picked["id"]) == set(loaded["id"]), name
        nested += int((picked["agent"] != name).sum())
        panel = FilterPanel(sessions, debounce=0, plot="(none)")
        panel.controls["agents"].value = (str(name),)
        assert len(panel.filtered) == len(loaded)
    assert nested > 0  # the demo has nested calls, so the test tells the two meanings apart


def test_the_untouched_panel_keeps_sessions_without_a_start_time(sessions: pd.DataFrame) -> None:
    """The first view said "10 of 13": the full day range still filtered on start_time, and
    sessions without one were dropped (#15 item 12). Narrowing the days does filter them."""
    odd = sessions.head(13).copy()
    odd.loc[odd.index[:3], "start_time"] = pd.NaT
    panel = FilterPanel(odd, debounce=0, plot="(none)")
    assert len(panel.filtered) == 13
    assert "<b>13</b> of 13 sessions" in panel.summary_html.value
    days = panel.controls["days"].options
    panel.controls["days"].value = (
        (days[0][1], days[-2][1]) if len(days) > 2 else (days[0][1], days[0][1])
    )
    assert panel.filtered["start_time"].notna().all()
