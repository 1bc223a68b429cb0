"""Analysis helpers on small frames with answers computed by hand, and on the demo data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sessionkit as sk
from sessionkit import analysis as A
from sessionkit.emulator import load_demo

from .test_plot import TREE
from .test_plot import _sessions as small


def test_cost_by_agent_and_day() -> None:
    table = A.cost_by(small(), by="agent").set_index("agent")
    assert table.loc["a", "total_cost"] == 7.0 and table.loc["b", "total_cost"] == 1.0
    assert table.loc["a", "sessions"] == 3 and table.loc["a", "successful"] == 2
    assert table.loc["a", "cost_per_session"] == pytest.approx(7 / 3)
    assert table.loc["a", "cost_per_success"] == pytest.approx(3.5)
    assert table.loc["a", "cost_per_1k_tokens"] == pytest.approx(3.5 / ((1300 + 130) / 1000))
    daily = A.cost_by(small(), by="agent", freq="D")
    assert daily[daily["agent"] == "a"]["total_cost"].tolist() == [3.0, 4.0]
    weekly = A.cost_by(small(), freq="W")
    assert weekly["total_cost"].sum() == 8.0 and str(weekly["bucket"].dt.tz) == "UTC"


def test_reliability_with_wilson_interval() -> None:
    table = A.reliability(small(), by="agent").set_index("agent")
    assert table.loc["a", "failed"] == 1 and table.loc["a", "completed"] == 3
    assert table.loc["a", "failure_rate"] == pytest.approx(1 / 3)
    low, high = A.wilson_interval(np.array([1]), np.array([3]))
    assert (round(float(low[0]), 4), round(float(high[0]), 4)) == (
        0.0615,
        0.7923,
    )  # textbook values
    assert table.loc["a", "failure_rate_low"] == pytest.approx(0.0615, abs=1e-4)


def test_latency_percentiles() -> None:
    table = A.latency_percentiles(small(), by="agent").set_index("agent")
    assert table.loc["a", "p50"] == pd.Timedelta(seconds=1) and table.loc[
        "b", "p50"
    ] == pd.Timedelta(seconds=20)
    assert str(table["p99"].dtype) == "timedelta64[ns]" and table.loc["a", "count"] == 3


@pytest.mark.parametrize(
    ("message", "template"),
    [
        (
            "RateLimitError: 429 from api.openai.com: Rate limit reached for gpt-4o in organization org-AbC123xyZ "
            "on tokens per min (TPM): Limit 30000, Used 29874, Requested 1523. Please try again in 3.046s.",
            "RateLimitError: <num> from api.openai.com: Rate limit reached for gpt-4o in organization <id> "
            "on tokens per min (TPM): Limit <num>, Used <num>, Requested <num>. Please try again in <num>.",
        ),
        (
            "KeyNotFound: key 'cust:8812:profile' not found in store 'customers'",
            "KeyNotFound: key <str> not found in store <str>",
        ),
        (
            "ToolTimeoutError: tool 'web.search' did not respond within 30s (call_id call_1a2b3c4d5e6f7a8b, attempt 2 of 3)",
            "ToolTimeoutError: tool <str> did not respond within <num> (call_id <id>, attempt <num> of <num>)",
        ),
        (
            "UpstreamError: GET https://api.partner-2.example.com/v2/records/597f153b returned 503 after 3707ms",
            "UpstreamError: GET <url> returned <num> after <num>",
        ),
        (
            "failed at 2026-11-27T12:00:00.123Z for sess_0123456789abcdef0123456789abcdef",
            "failed at <ts> for <id>",
        ),
        ("hash 9f86d081884c7d659a2feaa0c55ad015 mismatch", "hash <hex> mismatch"),
        ("id 123e4567-e89b-12d3-a456-426614174000 unknown", "id <id> unknown"),
        ('value "it\'s 5" rejected', "value <str> rejected"),
        ("connect to 10.0.0.12 refused", "connect to <ip> refused"),
        ("mail bob@example.com bounced", "mail <email> bounced"),
        ("model claude-sonnet-4 overloaded", "model claude-sonnet-4 overloaded"),
        (
            "ValidationError: 1 validation error\nline 2 has details 99",
            "ValidationError: <num> validation error",
        ),
        ("  spaces   collapse  ", "spaces collapse"),
    ],
)
def test_error_template(message: str, template: str) -> None:
    assert A.error_template(message) == template


def test_failure_families_group_messages_that_differ_in_ids() -> None:
    frame = small()
    frame.loc[1, "error"] = "KeyNotFound: key 'cust:1:profile' not found in store 'a'"
    frame.loc[5, "error"] = "KeyNotFound: key 'cust:99:profile' not found in store 'b'"
    families = A.failure_families(frame)
    assert len(families) == 1 and families.loc[0, "count"] == 2 and families.loc[0, "share"] == 1.0
    assert families.loc[0, "agents"] == ["a", "b"] and len(families.loc[0, "example_ids"]) == 2


def _demo() -> pd.DataFrame:
    ds = load_demo()
    frame = sk.sessions_frame(ds.render_sessions(range(len(ds)), ds.now_ns))
    names = {a["identifier"]: a["name"] for a in ds.meta["agents"]}
    frame.insert(
        17,
        "agent",
        pd.Categorical(
            [next((names[x] for x in ids if x in names), None) for ids in frame["agent_ids"]]
        ),
    )
    return frame


def test_detect_changes_finds_the_planted_incidents() -> None:
    changes = A.detect_changes(_demo())
    incidents = {(i["agent"], i["deployment_id"], i["metric"]) for i in load_demo().incidents}
    top_two = {(r.agent, r.deployment_id, r.metric) for r in changes.head(2).itertuples()}
    assert top_two == incidents
    assert (changes.head(2)["p_value"] < 1e-6).all()


def test_detect_changes_is_silent_on_noise() -> None:
    rng = np.random.default_rng(1)
    n = 600
    rows = [
        {
            "id": f"sess_{i:032x}",
            "start_time": pd.Timestamp("2026-11-01T00:00Z") + pd.Timedelta(hours=i),
            "pending": False,
            "success": bool(rng.random() > 0.05),
            "total_cost": float(rng.lognormal(-5, 0.5)),
            "duration": pd.Timedelta(seconds=float(rng.lognormal(1, 0.5))),
            "deployment_id": f"deploy_{i // 200}",
            "agent": "x",
        }
        for i in range(n)
    ]
    changes = A.detect_changes(pd.DataFrame(rows))
    assert len(changes) == 6 and (changes["p_value"] > 0.01).all()


def test_failure_family_of_the_incident_is_tool_timeout() -> None:
    frame = _demo()
    incident = load_demo().incidents[0]
    families = A.failure_families(frame[frame["deployment_id"] == incident["deployment_id"]])
    assert families.loc[0, "template"].startswith("ToolTimeoutError")


def test_hotspots_and_failed_vs_successful() -> None:
    spans = sk.spans_frame(
        [("s1", TREE), ("s2", {"id": "x", "operation": "HTTP POST", "duration": 10.0})]
    )
    table = A.operation_hotspots(spans)
    assert table.loc["gen_ai.chat", "self"] == pd.Timedelta(90, "ms")
    assert table.loc["HTTP POST", "self"] == pd.Timedelta(5 + 10, "ms")  # 100 - 80 - 15, plus s2
    assert table.loc["HTTP POST", "sessions"] == 2 and table[
        "share_of_self"
    ].sum() == pytest.approx(1.0)
    sessions = pd.DataFrame(
        {"id": ["s1", "s2"], "pending": [False, False], "success": [False, True]}
    )
    diff = A.failed_vs_successful(spans, sessions)
    assert diff.loc["HTTP POST", "failed"] == pd.Timedelta(5, "ms") and diff.loc[
        "HTTP POST", "successful"
    ] == pd.Timedelta(10, "ms")


def test_eval_summaries() -> None:
    runs = sk.eval_runs_frame(
        [
            (
                "s1",
                {
                    "id": "evalrun_1",
                    "eval_id": "e1",
                    "pending": False,
                    "success": True,
                    "result": {"passed": True, "score": 0.9},
                },
            ),
            (
                "s1",
                {
                    "id": "evalrun_2",
                    "eval_id": "e2",
                    "pending": False,
                    "success": True,
                    "result": {"passed": False, "score": 0.2},
                },
            ),
            (
                "s2",
                {
                    "id": "evalrun_3",
                    "eval_id": "e1",
                    "pending": False,
                    "success": True,
                    "result": {"passed": False, "score": 0.4},
                },
            ),
        ]
    )
    summary = A.eval_summary(runs)
    assert summary.loc["e1", "pass_rate"] == 0.5 and summary.loc[
        "e1", "mean_score"
    ] == pytest.approx(0.65)
    sessions = pd.DataFrame(
        {
            "id": ["s1", "s2"],
            "agent": ["a", "b"],
            "pending": [False, False],
            "success": [True, False],
        }
    )
    odd = A.succeeded_but_failed_eval(sessions, runs)
    assert (
        odd["id"].tolist() == ["s1"]
        and odd.loc[0, "failed_evals"] == "e2"
        and odd.loc[0, "lowest_score"] == 0.2
    )
    assert A.eval_summary(runs, by="agent", sessions=sessions).loc["b", "pass_rate"] == 0.0


def test_empty_inputs_give_empty_frames() -> None:
    empty = small().iloc[0:0]
    assert len(A.cost_by(empty, by="agent")) == 0 and "cost_per_success" in A.cost_by(empty).columns
    assert len(A.reliability(empty, by="agent")) == 0 and len(A.failure_families(empty)) == 0
    assert len(A.detect_changes(empty)) == 0 and len(A.latency_percentiles(empty, by="agent")) == 0
    assert len(A.operation_hotspots(sk.empty_frame("spans"))) == 0 and len(A.movers(empty)) == 0


def test_detect_changes_over_time_windows() -> None:
    frame = _demo()
    incident = load_demo().incidents[0]
    triage = frame[frame["agent"] == "support-triage"]
    changes = A.detect_changes(
        triage, at="time", window="W", metrics=("failure_rate",), min_sessions=20
    )
    top = changes.iloc[0]
    assert top["agent"] == "support-triage" and top["after"] > top["before"] * 2
    assert pd.Timestamp(top["started"]) >= pd.Timestamp(incident["start"]) - pd.Timedelta(days=7)
