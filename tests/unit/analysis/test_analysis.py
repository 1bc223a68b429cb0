"""Analysis helpers on small hand-built frames whose answers are computed by hand here (in the
comments), on seeded synthetic frames with planted changes, and on the demo dataset."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sessionkit as sk
from sessionkit import analysis as A
from sessionkit.analysis.reliability import RELIABILITY_COLUMNS
from tests.conftest import demo_sessions, empty_sessions_with_agent

T = pd.Timestamp
MS = pd.Timedelta(1, "ms")
S = pd.Timedelta(1, "s")

# agent, start, pending, success, total_cost, llm_cost, prompt, completion, seconds, error, env, deployment
ROWS: list[tuple[Any, ...]] = [
    ("a", "2026-11-01T10:00:00Z", False, True, 1.0, 0.5, 1000, 100, 1.0, None, "production", "d1"),
    ("a", "2026-11-01T11:00:00Z", False, False, 2.0, 1.0, 2000, 200, 3.0, "E1", "production", "d1"),
    # 23:30 at -02:00 is 01:30 UTC on the 2nd: buckets are UTC
    (
        "a",
        "2026-11-01T23:30:00-02:00",
        False,
        True,
        4.0,
        2.0,
        3000,
        300,
        2.0,
        None,
        "preview",
        "d2",
    ),
    ("b", "2026-11-01T12:00:00Z", False, True, 0.5, 0.25, 500, 50, 10.0, None, "production", ""),
    ("b", "2026-11-02T12:00:00Z", False, False, 0.5, 0.25, 500, 50, 20.0, "E2", None, ""),
    (
        None,
        "2026-11-02T13:00:00Z",
        True,
        False,
        None,
        None,
        None,
        None,
        None,
        None,
        "production",
        "d1",
    ),
    ("b", "2026-11-02T14:00:00Z", False, True, 0.0, 0.0, 0, 0, 30.0, None, "production", ""),
]


def _sessions(rows: Sequence[tuple[Any, ...]] = ROWS) -> pd.DataFrame:
    records = []
    for i, (_a, start, pending, ok, cost, llm, pt, ct, secs, error, env, dep) in enumerate(rows):
        records.append(
            {
                "id": f"sess_{i:032x}",
                "start_time": start,
                "created_at": start,
                "pending": pending,
                "success": ok,
                "error": error,
                "total_cost": cost,
                "llm_cost": llm,
                "llm_prompt_token_count": pt,
                "llm_completion_token_count": ct,
                "duration": None if secs is None else int(secs * 1e9),
                "cpu_time": None if secs is None else int(secs * 5e8),
                "env": env,
                "deployment_id": dep,
                "agent_ids": [],
            }
        )
    frame = sk.sessions_frame(records)
    frame.insert(1, "agent", pd.Categorical([r[0] for r in rows]))
    return frame


# --------------------------------------------------------------------------- cost


def test_cost_by_agent_by_hand() -> None:
    table = A.cost_by(_sessions(), by="agent")
    assert table["agent"].tolist() == ["a", "b", "(none)"]  # by total cost, largest first
    a, b, none = (table.iloc[i] for i in range(3))
    assert (a["sessions"], a["successful"], a["total_cost"], a["llm_cost"]) == (3, 2, 7.0, 3.5)
    assert a["cost_per_session"] == pytest.approx(7 / 3)
    assert a["cost_per_success"] == pytest.approx(3.5)  # 7 USD for 2 useful answers
    assert (a["prompt_tokens"], a["completion_tokens"]) == (6000, 600)
    assert a["cost_per_1k_tokens"] == pytest.approx(3.5 / 6.6)
    assert b["cost_per_session"] == pytest.approx(1 / 3) and b["cost_per_success"] == 0.5
    assert none["sessions"] == 1 and none["total_cost"] == 0.0  # pending: no cost yet
    assert math.isnan(none["cost_per_success"]) and math.isnan(none["cost_per_1k_tokens"])
    assert list(table.columns) == ["agent", *A.cost.COST_COLUMNS]
    assert str(table["sessions"].dtype) == "int64" and str(table["total_cost"].dtype) == "float64"


def test_cost_by_several_keys_and_missing_values() -> None:
    table = A.cost_by(_sessions(), by=["agent", "env"]).set_index(["agent", "env"])
    assert table.loc[("a", "production"), "total_cost"] == 3.0
    assert table.loc[("a", "preview"), "total_cost"] == 4.0
    assert table.loc[("b", "(none)"), "sessions"] == 1  # env missing
    assert len(table) == 5  # observed combinations only
    deployments = A.cost_by(_sessions(), by="deployment_id").set_index("deployment_id")
    assert deployments.loc["(none)", "sessions"] == 3  # "" is no deployment
    assert "" not in deployments.index


def test_cost_by_day_buckets_are_utc() -> None:
    daily = A.cost_by(_sessions(), freq="D")
    assert daily["bucket"].tolist() == [T("2026-11-01", tz="UTC"), T("2026-11-02", tz="UTC")]
    assert daily["total_cost"].tolist() == [3.5, 4.5] and daily["sessions"].tolist() == [3, 4]
    by_agent = A.cost_by(_sessions(), by="agent", freq="D")
    day2 = by_agent[by_agent["bucket"] == T("2026-11-02", tz="UTC")]
    assert day2["agent"].tolist() == ["a", "b", "(none)"] and day2["total_cost"].tolist() == [
        4.0,
        0.5,
        0.0,
    ]
    weekly = A.cost_by(_sessions(), freq="W")  # weeks start on Monday: 2026-10-26
    assert weekly["bucket"].tolist() == [T("2026-10-26", tz="UTC"), T("2026-11-02", tz="UTC")]
    assert str(weekly["bucket"].dtype) == "datetime64[ns, UTC]"
    overall = A.cost_by(_sessions())
    assert len(overall) == 1 and overall.loc[0, "total_cost"] == 8.0


def test_cost_by_metadata_key() -> None:
    frame = _sessions()
    frame["metadata.tier"] = pd.array(
        ["gold", "gold", None, "free", "free", None, "free"], "string"
    )
    table = A.cost_by(frame, by="metadata.tier").set_index("metadata.tier")
    assert table["total_cost"].to_dict() == {"gold": 3.0, "free": 1.0, "(none)": 4.0}


def test_top_sessions() -> None:
    frame = _sessions()
    top = A.top_sessions(frame, 2)
    assert top["id"].tolist() == [frame.loc[2, "id"], frame.loc[1, "id"]]  # 4.0, 2.0 USD
    assert list(top.columns) == [
        "id",
        "agent",
        "start_time",
        "duration",
        "total_cost",
        "success",
        "error",
    ]
    slow = A.top_sessions(frame, 2, by="duration")
    assert slow["duration"].tolist() == [30 * S, 20 * S]
    cpu = A.top_sessions(frame, 1, by="cpu_time")
    assert cpu["cpu_time"].tolist() == [15 * S]  # by is added when not a default column


def _mover_frame() -> pd.DataFrame:
    rows = [  # day 3 is the period still filling, so day 2 is compared with day 1
        ("a", "2026-11-01T10:00:00Z", 1.0, "d1"),
        ("a", "2026-11-01T11:00:00Z", 2.0, "d1"),
        ("a", "2026-11-02T10:00:00Z", 4.0, "d2"),
        ("b", "2026-11-01T10:00:00Z", 0.5, "x1"),
        ("b", "2026-11-02T10:00:00Z", 0.5, "x1"),
        ("b", "2026-11-02T11:00:00Z", 0.0, "x2"),
        ("c", "2026-11-01T11:00:00Z", 3.0, "y1"),  # absent on day 2
        ("a", "2026-11-03T01:00:00Z", 100.0, "d2"),
    ]
    return _sessions(
        [(a, t, False, True, c, c, 1, 1, 1.0, None, "production", d) for a, t, c, d in rows]
    )


def test_movers_day_over_day() -> None:
    table = A.movers(_mover_frame())
    assert table["agent"].tolist() == ["a", "b", "c"]  # |+2.5| > |-0.25|; c has no day 2 (NaN)
    a = table.iloc[0]
    assert (a["before"], a["after"], a["change"]) == (1.5, 4.0, 2.5)
    assert a["change_pct"] == pytest.approx(2.5 / 1.5)
    assert (a["n_before"], a["n_after"]) == (2, 1)
    assert a["before_at"] == T("2026-11-01", tz="UTC") and a["after_at"] == T(
        "2026-11-02", tz="UTC"
    )
    assert table.iloc[1]["change"] == -0.25 and math.isnan(table.iloc[2]["after"])
    summed = A.movers(_mover_frame(), agg="sum").set_index("agent")
    assert summed.loc["a", "change"] == 1.0 and summed.loc["c", "change"] == -3.0  # absent = 0
    # with now on day 4, day 3 is complete: a went from 4.0 to 100.0
    late = A.movers(_mover_frame(), now="2026-11-04T00:00:01Z").set_index("agent")
    assert late.loc["a", "change"] == 96.0


def test_movers_between_deployments() -> None:
    table = A.movers(_mover_frame(), compare="deployment_id").set_index("agent")
    assert table.loc["a", "before_at"] == "d1" and table.loc["a", "after_at"] == "d2"
    assert table.loc["a", "before"] == 1.5 and table.loc["a", "after"] == 52.0  # (4 + 100) / 2
    assert table.loc["b", "change"] == -0.5  # x1: 0.5 → x2: 0.0
    assert "c" not in table.index  # one deployment only
    assert table.index.tolist() == ["a", "b"]


# --------------------------------------------------------------------------- latency


def test_latency_percentiles_by_hand() -> None:
    table = A.latency_percentiles(_sessions(), by="agent").set_index("agent")
    assert table.index.tolist() == ["a", "b"]  # the pending session has no duration
    # a: 1, 2, 3 s → p50 2 s; p90 at position 0.9 × 2 = 1.8 → 2 + 0.8 = 2.8 s
    assert table.loc["a", "p50"] == 2 * S and table.loc["a", "p90"] == pd.Timedelta(2.8, "s")
    # b: 10, 20, 30 s → p99 at position 1.98 → 29.8 s
    assert table.loc["b", "p50"] == 20 * S and table.loc["b", "p99"] == pd.Timedelta(29.8, "s")
    assert table["count"].tolist() == [3, 3]
    assert all(str(table[c].dtype) == "timedelta64[ns]" for c in ("p50", "p90", "p95", "p99"))
    cpu = A.latency_percentiles(_sessions(), by="agent", column="cpu_time").set_index("agent")
    assert cpu.loc["a", "p50"] == 1 * S
    daily = A.latency_percentiles(_sessions(), freq="D")
    assert daily["p50"].tolist() == [3 * S, 20 * S]  # day 1: 1, 3, 10 s; day 2: 2, 20, 30 s
    overall = A.latency_percentiles(_sessions(), q=(0.5, 0.999))
    assert list(overall.columns) == ["count", "p50", "p99.9"]
    assert overall.loc[0, "p50"] == pd.Timedelta(6.5, "s")  # 1, 2, 3, 10, 20, 30


# --------------------------------------------------------------------------- reliability


def test_wilson_interval_holds_the_rate_exactly_at_zero_and_one() -> None:
    n = np.array([1, 2, 3, 7, 10, 13, 100, 1000, 0])
    for k in (np.zeros_like(n), n):
        low, high = A.wilson_interval(k, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = k / np.where(n > 0, n, np.nan)
        done = n > 0
        assert (low[done] <= rate[done]).all() and (rate[done] <= high[done]).all()
        assert np.isnan(low[~done]).all() and np.isnan(high[~done]).all()


def test_wilson_interval_known_cases() -> None:
    low, high = A.wilson_interval(np.array([1, 0, 5, 0]), np.array([3, 10, 10, 0]))
    assert low[0] == pytest.approx(0.0615, abs=1e-4) and high[0] == pytest.approx(0.7923, abs=1e-4)
    assert low[1] == 0.0 and high[1] == pytest.approx(3.8415 / 13.8415, abs=1e-4)  # z²/(n+z²)
    assert low[2] == pytest.approx(0.2366, abs=1e-4) and high[2] == pytest.approx(0.7634, abs=1e-4)
    assert math.isnan(low[3]) and math.isnan(high[3])


def test_reliability_by_hand() -> None:
    table = A.reliability(_sessions(), by="agent").set_index("agent")
    a = table.loc["a"]
    assert (a["sessions"], a["completed"], a["succeeded"], a["failed"], a["pending"]) == (
        3,
        3,
        2,
        1,
        0,
    )
    assert a["failure_rate"] == pytest.approx(1 / 3) and a["success_rate"] == pytest.approx(2 / 3)
    assert a["failure_rate_low"] == pytest.approx(0.0615, abs=1e-4)
    assert a["failure_rate_high"] == pytest.approx(0.7923, abs=1e-4)
    none = table.loc["(none)"]
    assert none["pending"] == 1 and none["completed"] == 0 and math.isnan(none["failure_rate"])
    daily = A.reliability(_sessions(), freq="D")
    assert daily["failed"].tolist() == [1, 1] and daily["completed"].tolist() == [3, 3]
    assert list(daily.columns) == ["bucket", *RELIABILITY_COLUMNS]


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("message", "template"),
    [
        (
            "RateLimitError: 429 from api.openai.com: Rate limit reached for gpt-4o in organization "
            "org-AbC123xyZ on tokens per min (TPM): Limit 30000, Used 29874, Requested 1523. "
            "Please try again in 3.046s.",
            "RateLimitError: <num> from api.openai.com: Rate limit reached for gpt-4o in organization "
            "<id> on tokens per min (TPM): Limit <num>, Used <num>, Requested <num>. "
            "Please try again in <num>.",
        ),
        (
            "KeyNotFound: key 'cust:8812:profile' not found in store 'customers'",
            "KeyNotFound: key <str> not found in store <str>",
        ),
        (
            "ToolTimeoutError: tool 'web.search' did not respond within 30s "
            "(call_id call_1a2b3c4d5e6f7a8b, attempt 2 of 3)",
            "ToolTimeoutError: tool <str> did not respond within <num> (call_id <id>, attempt <num> of <num>)",
        ),
        (  # URL: fixed path kept; host (listed in failure_families), id and query values masked
            "UpstreamError: GET https://api.partner-2.example.com/v2/records/597f153b?page=3&q=x returned 503 after 3707ms.",
            "UpstreamError: GET https://<host>/v2/records/<id>?page=<str>&q=<str> "
            "returned <num> after <num>.",
        ),
        (
            "failed at 2026-11-27T12:00:00.123+02:00 for sess_0123456789abcdef0123456789abcdef",
            "failed at <ts> for <id>",
        ),
        (
            "agent agent_"
            + "ab12" * 10
            + " in thread thrd_9f8e7d6c5b4a and evalrun_"
            + "0" * 31
            + "1",
            "agent <id> in thread <id> and <id>",
        ),
        ("hash 9f86d081884c7d659a2feaa0c55ad015 mismatch", "hash <hex> mismatch"),
        ("id 123e4567-e89b-12d3-a456-426614174000 unknown", "id <id> unknown"),
        # nested quotes stay inside one value; an apostrophe in a word opens nothing
        ("value \"it's '5'\" rejected", "value <str> rejected"),
        ("can't read 'x' of users' data", "can't read <str> of users' data"),
        (
            "Unexpected token ' in JSON at position 5",
            "Unexpected token ' in JSON at position <num>",
        ),
        (
            'body {"error": {"code": 400, "msg": "bad \\"x\\""}}',
            "body {<str>: {<str>: <num>, <str>: <str>}}",
        ),
        ("connect to 10.0.0.12:5432 refused", "connect to <ip>:<num> refused"),
        ("connect ECONNREFUSED ::1:8080", "connect ECONNREFUSED <ip>"),
        ("mail bob.smith+x@example.co.uk bounced", "mail <email> bounced"),
        (  # model names keep their digits
            "model claude-3-5-sonnet-20241022 overloaded; fell back to gpt-4o-mini, llama3:70b, gpt-3.5-turbo",
            "model claude-3-5-sonnet-20241022 overloaded; fell back to gpt-4o-mini, llama3:70b, gpt-3.5-turbo",
        ),
        (
            "open /var/data/sess_0123456789abcdef0123456789abcdef/out.json: no such file",
            "open /var/data/<id>/out.json: no such file",
        ),
        (
            "GET /api/users/12345/profile returned HTTP/1.1 404",
            "GET /api/users/<num>/profile returned HTTP/1.1 <num>",
        ),
        (
            "memory 512MB exceeded (used 1,536.5 MB, 87%) at 12:03:44",
            "memory <num> exceeded (used <num> MB, <num>) at <ts>",
        ),
        ("request req_8Fh2kLm9Qx7Zp1Rt failed: 0xdeadBEEF", "request <id> failed: <hex>"),
        ("cost $0.05 over budget of -1.5 USD", "cost $<num> over budget of <num> USD"),
        (
            "ValidationError: 1 validation error\nline 2 has details 99",
            "ValidationError: <num> validation error",
        ),
        (
            'Traceback (most recent call last):\n  File "x.py", line 3, in <module>\nZeroDivisionError: division by zero',
            "ZeroDivisionError: division by zero",
        ),
        ("  spaces \t  collapse  ", "spaces collapse"),
        ("", ""),
    ],
)
def test_error_template(message: str, template: str) -> None:
    assert A.error_template(message) == template


def _failures(errors: Sequence[tuple[str | None, str | None, str]]) -> pd.DataFrame:
    return _sessions(
        [
            (agent, start, False, False, 1.0, 0.5, 1, 1, 1.0, error, "production", "d1")
            for agent, error, start in errors
        ]
    )


def test_failure_families_group_messages_that_differ_in_ids_and_numbers() -> None:
    frame = _failures(
        [
            (
                "b",
                "KeyNotFound: key 'cust:1:profile' not found in store 'a'",
                "2026-11-01T10:00:00Z",
            ),
            (
                "a",
                "KeyNotFound: key 'cust:99:profile' not found in store 'b'",
                "2026-11-03T10:00:00Z",
            ),
            (
                "a",
                "ToolTimeoutError: tool 'x' did not respond within 30s (call_id call_1a2b3c4d5e)",
                "2026-11-02T10:00:00Z",
            ),
            (
                "a",
                "ToolTimeoutError: tool 'y' did not respond within 5s (call_id call_9f8e7d6c5b)",
                "2026-11-02T11:00:00Z",
            ),
            (
                None,
                "ToolTimeoutError: tool 'z' did not respond within 12.5s (call_id call_00aa11bb22)",
                "2026-11-02T12:00:00Z",
            ),
            (
                "a",
                "ToolTimeoutError: tool 'x' did not respond within 1s (call_id call_00aa11bb33)",
                "2026-11-02T09:00:00Z",
            ),
            ("b", None, "2026-11-04T10:00:00Z"),
        ]
    )
    frame = pd.concat([frame, _sessions()], ignore_index=True)  # 2 more failures: E1 (a), E2 (b)
    families = A.failure_families(frame)
    assert families["count"].tolist() == [4, 2, 1, 1, 1]
    assert families["share"].tolist() == pytest.approx([4 / 9, 2 / 9, 1 / 9, 1 / 9, 1 / 9])
    top = families.iloc[0]
    assert (
        top["template"]
        == "ToolTimeoutError: tool <str> did not respond within <num> (call_id <id>)"
    )
    assert top["agents"] == ["(none)", "a"]
    assert top["first_seen"] == T("2026-11-02T09:00:00Z") and top["last_seen"] == T(
        "2026-11-02T12:00:00Z"
    )
    assert top["example_ids"] == [frame.loc[i, "id"] for i in (4, 3, 2)]  # most recent first
    assert top["example_error"] == frame.loc[4, "error"]
    keys = families.iloc[1]
    assert keys["agents"] == ["a", "b"] and keys["template"].startswith("KeyNotFound: key <str>")
    assert "(no error message)" in families["template"].tolist()
    assert families["template"].tolist()[2:] == ["(no error message)", "E1", "E2"]  # ties by name
    assert len(A.failure_families(frame, top=2)) == 2
    assert str(families["first_seen"].dtype) == "datetime64[ns, UTC]"


# --------------------------------------------------------------------------- changes


def _synthetic(
    rng: np.random.Generator, spec: Sequence[tuple[str, str, int, float, float, float]]
) -> pd.DataFrame:
    """(agent, deployment, sessions, failure rate, median cost USD, median seconds) blocks,
    one after the other in time; costs and durations log-normal (sigma 0.6)."""
    frames = []
    start = T("2026-11-01T00:00:00Z")
    for agent, deployment, n, fail, cost, secs in spec:
        frames.append(
            pd.DataFrame(
                {
                    "id": [f"sess_{agent}{deployment}{i}" for i in range(n)],
                    "agent": agent,
                    "deployment_id": deployment,
                    "start_time": start + pd.to_timedelta(np.arange(n) * 60, unit="s"),
                    "pending": False,
                    "success": rng.random(n) >= fail,
                    "total_cost": cost * rng.lognormal(0.0, 0.6, n),
                    "duration": pd.to_timedelta(secs * rng.lognormal(0.0, 0.6, n), unit="s"),
                }
            )
        )
        start += pd.Timedelta(days=1)
    frame = pd.concat(frames, ignore_index=True)
    frame["agent"] = frame["agent"].astype("category")
    frame["deployment_id"] = frame["deployment_id"].astype("category")
    frame["duration"] = frame["duration"].astype("timedelta64[ns]")
    return frame


PLANTED = [
    ("triage", "t1", 500, 0.04, 0.01, 2.0),
    ("triage", "t2", 500, 0.25, 0.01, 2.0),  # failure rate 4% → 25%
    ("extract", "e1", 300, 0.05, 0.02, 5.0),
    ("extract", "e2", 300, 0.05, 0.06, 5.0),  # cost per session × 3
    ("chat", "c1", 400, 0.03, 0.005, 1.0),
    ("chat", "c2", 400, 0.03, 0.005, 1.0),  # nothing changed
    ("chat", "c3", 400, 0.03, 0.005, 1.0),
]


def test_detect_changes_puts_the_planted_incidents_first() -> None:
    changes = A.detect_changes(_synthetic(np.random.default_rng(7), PLANTED))
    assert len(changes) == 4 * 3  # 4 pairs × 3 metrics
    first, second = changes.iloc[0], changes.iloc[1]
    found = {(r["agent"], r["deployment_id"], r["metric"]) for r in (first, second)}
    assert found == {("triage", "t2", "failure_rate"), ("extract", "e2", "cost_per_session")}
    assert (changes.head(2)["p_value"] < 1e-9).all()
    rate = changes[(changes["agent"] == "triage") & (changes["metric"] == "failure_rate")].iloc[0]
    assert rate["before"] == pytest.approx(0.04, abs=0.025) and rate["after"] == pytest.approx(
        0.25, abs=0.04
    )
    assert (
        rate["evidence"] > 0
        and rate["previous"] == "t1"
        and (rate["n_before"], rate["n_after"]) == (500, 500)
    )
    assert rate["started"] == T("2026-11-02T00:00:00Z")
    cost = changes[
        (changes["agent"] == "extract") & (changes["metric"] == "cost_per_session")
    ].iloc[0]
    assert cost["ratio"] == pytest.approx(3.0, rel=0.2)
    quiet = changes[changes["agent"] == "chat"]
    assert (quiet["p_value"] > 0.01).all()
    rank = changes["direction"].map({"worse": 0, "better": 1, "same": 2}).astype(int)
    assert rank.is_monotonic_increasing  # regressions first, then improvements
    for _, part in changes.groupby(rank):
        assert part["score"].is_monotonic_decreasing  # each by score
    assert (rate["direction"], cost["direction"]) == ("worse", "worse")


def test_a_regression_outranks_the_deployment_that_fixed_it() -> None:
    """Found by a new user on another project: the fix (24.9% -> 3.2%, many sessions) was
    ranked above the regression that caused it, and notebook 03 opened the fix."""
    rng = np.random.default_rng(3)
    parts = []
    for dep, n, rate, day in (("d1", 400, 0.03, 1), ("d2", 300, 0.25, 5), ("d3", 2000, 0.03, 9)):
        parts.append(
            pd.DataFrame(
                {
                    "id": [f"sess_{dep}_{k}" for k in range(n)],
                    "agent": "a",
                    "deployment_id": dep,
                    "start_time": T(f"2026-11-{day:02d}T00:00:00Z")
                    + pd.to_timedelta(np.arange(n), unit="min"),
                    "success": pd.array(rng.random(n) >= rate, dtype="boolean"),
                    "pending": pd.array([False] * n, dtype="boolean"),
                }
            )
        )
    sessions = pd.concat(parts, ignore_index=True)
    changes = A.detect_changes(sessions, metrics=("failure_rate",))
    fix = changes[changes["deployment_id"] == "d3"].iloc[0]
    cause = changes.iloc[0]
    assert cause["deployment_id"] == "d2" and cause["direction"] == "worse"
    assert fix["direction"] == "better" and fix["score"] > cause["score"]  # ranked after anyway


def _two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> float:
    p = (k1 + k2) / (n1 + n2)
    return (k2 / n2 - k1 / n1) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))


def test_detect_changes_statistics_by_hand() -> None:
    # 40 sessions each: 2 failures, then 10; costs constant 1 then 2 but for one session each
    rows = []
    for dep, fails, cost in (("d1", 2, 1.0), ("d2", 10, 2.0)):
        for i in range(40):
            rows.append(
                {
                    "agent": "x",
                    "deployment_id": dep,
                    "start_time": T("2026-11-01T00:00:00Z") + pd.Timedelta(minutes=len(rows)),
                    "pending": False,
                    "success": i >= fails,
                    "total_cost": cost * (1.5 if i == 0 else 1.0),
                    "duration": pd.Timedelta(seconds=1 + i),
                }
            )
    changes = A.detect_changes(pd.DataFrame(rows), metrics=("failure_rate", "p50_duration"))
    rate = changes[changes["metric"] == "failure_rate"].iloc[0]
    z = _two_proportion_z(2, 40, 10, 40)  # 0.05 → 0.25: pooled 0.15, z = 0.2 / 0.0798 = 2.505
    assert rate["evidence"] == pytest.approx(z) and z == pytest.approx(2.5055, abs=1e-3)
    assert rate["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)))  # 0.0122
    assert rate["ratio"] == pytest.approx(5.0) and rate["change"] == pytest.approx(0.2)
    p50 = changes[changes["metric"] == "p50_duration"].iloc[0]
    assert p50["before"] == p50["after"] == 20.5 and p50["evidence"] == 0.0  # same durations
    assert p50["p_value"] == 1.0
    with pytest.raises(ValueError, match="p<q>_duration"):
        A.detect_changes(pd.DataFrame(rows), metrics=("latency",))


def test_detect_changes_skips_small_deployments() -> None:
    spec = [
        ("x", "a", 100, 0.05, 0.01, 1.0),
        ("x", "hotfix", 10, 0.05, 0.01, 1.0),  # fewer than min_sessions: left out
        ("x", "b", 100, 0.05, 0.01, 1.0),
    ]
    changes = A.detect_changes(_synthetic(np.random.default_rng(1), spec))
    assert set(changes["deployment_id"]) == {"b"} and set(changes["previous"]) == {"a"}
    assert len(A.detect_changes(_synthetic(np.random.default_rng(1), spec), min_sessions=5)) == 6


NOISE = [
    (agent, f"{agent}{k}", 300, fail, cost, secs)
    for agent, fail, cost, secs in (
        ("p", 0.05, 0.01, 2.0),
        ("q", 0.10, 0.002, 0.5),
        ("r", 0.02, 0.05, 8.0),
    )
    for k in range(4)
]


def test_detect_changes_is_silent_on_noise() -> None:
    changes = A.detect_changes(_synthetic(np.random.default_rng(2026), NOISE))
    assert len(changes) == 3 * 3 * 3  # 3 agents × 3 pairs × 3 metrics
    assert (changes["p_value"] > 0.01).all()


def test_detect_changes_p_values_are_calibrated() -> None:
    """Under no change, p < 0.05 about 5% of the time (not a tuned seed): 15 seeds × 27 tests."""
    p = np.concatenate(
        [
            A.detect_changes(_synthetic(np.random.default_rng(s), NOISE))["p_value"]
            for s in range(15)
        ]
    )
    assert len(p) == 405 and 0.01 <= (p < 0.05).mean() <= 0.10


def test_detect_changes_over_time_windows() -> None:
    frame = _synthetic(np.random.default_rng(3), PLANTED[:2])  # t2 starts on 2026-11-02
    changes = A.detect_changes(frame, at="time", window="D", metrics=("failure_rate",))
    assert list(changes.columns[:3]) == ["agent", "time", "started"]
    top = changes.iloc[0]
    assert top["time"] == T("2026-11-02", tz="UTC") and top["previous"] == T("2026-11-01", tz="UTC")
    assert top["p_value"] < 1e-9


# --------------------------------------------------------------------------- timelines

TREE: dict[str, Any] = {
    "id": "r",
    "operation": "HTTP POST",
    "duration": 100.0,
    "children": [
        {
            "id": "a",
            "operation": "agent.run",
            "duration": 80.0,
            "children": [
                {"id": "k", "operation": "agentuity.keyvalue.get", "duration": 10.0},
                {"id": "l", "operation": "gen_ai.chat", "duration": 60.0, "error": "boom"},
            ],
        },
        {"id": "h", "operation": "HTTP GET", "duration": 15.0},
    ],
}
# self times: HTTP POST 100 - 80 - 15 = 5, agent.run 80 - 10 - 60 = 10, kv 10, chat 60, GET 15


def _spans() -> pd.DataFrame:
    return sk.spans_frame(
        [
            ("s1", TREE),
            ("s2", {"id": "x", "operation": "HTTP POST", "duration": 10.0}),
            ("s3", {"id": "y", "operation": "HTTP POST", "duration": 30.0}),
        ]
    )


def test_operation_hotspots_by_hand() -> None:
    table = A.operation_hotspots(_spans())
    assert table.index.tolist() == [
        "gen_ai.chat",
        "HTTP POST",
        "HTTP GET",
        "agent.run",
        "agentuity.keyvalue.get",
    ]  # by self time (ties keep name order)
    post = table.loc["HTTP POST"]
    assert (post["count"], post["sessions"]) == (3, 3)
    assert post["self"] == 45 * MS and post["total"] == 140 * MS  # 5 + 10 + 30; 100 + 10 + 30
    assert post["mean"] == pd.Timedelta(140 / 3, "ms").round("ns")
    assert post["p95"] == pd.Timedelta(30 + 0.9 * 70, "ms")  # 10, 30, 100 at position 1.9
    assert table.loc["gen_ai.chat", "share_of_self"] == pytest.approx(60 / 140)
    assert table["share_of_self"].sum() == pytest.approx(1.0)
    paths = A.operation_hotspots(_spans(), by="path")
    assert paths.loc["HTTP POST > agent.run > gen_ai.chat", "self"] == 60 * MS
    only = A.operation_hotspots(_spans(), sessions=pd.DataFrame({"id": ["s2"]}))
    assert only.index.tolist() == ["HTTP POST"] and only.loc["HTTP POST", "self"] == 10 * MS


def test_failed_vs_successful_by_hand() -> None:
    sessions = pd.DataFrame(
        {
            "id": ["s1", "s2", "s3", "s4"],
            "pending": [False, False, False, True],
            "success": [False, True, True, False],
        }
    )
    table = A.failed_vs_successful(_spans(), sessions)
    assert table.index[0] == "gen_ai.chat"  # failed sessions spend 60 ms there, successful none
    chat = table.loc["gen_ai.chat"]
    assert (
        chat["failed"] == 60 * MS
        and chat["successful"] == pd.Timedelta(0)
        and math.isnan(chat["ratio"])
    )
    post = table.loc["HTTP POST"]  # failed: 5 ms over 1 session; successful: (10 + 30) / 2
    assert post["failed"] == 5 * MS and post["successful"] == 20 * MS
    assert post["difference"] == -15 * MS and post["ratio"] == pytest.approx(0.25)
    assert (post["failed_sessions"], post["successful_sessions"]) == (1, 2)
    assert table.index[-1] == "HTTP POST"


# --------------------------------------------------------------------------- evals


def _run(
    i: int, eval_id: str, passed: bool | None, score: float | None, **over: Any
) -> dict[str, Any]:
    result: dict[str, Any] = {"success": True, "passed": passed}
    if score is not None:
        result["score"] = score
    run = {
        "id": f"evalrun_{i:032x}",
        "eval_id": eval_id,
        "created_at": "2026-11-01T10:00:00Z",
        "pending": False,
        "success": True,
        "error": None,
        "result": result,
    }
    run.update(over)
    return run


def _runs() -> pd.DataFrame:
    return sk.eval_runs_frame(
        [
            ("s1", _run(1, "e1", True, 0.9)),
            ("s2", _run(2, "e1", False, 0.4)),
            ("s3", _run(3, "e1", True, 0.8)),
            (
                "s3",
                _run(
                    4,
                    "e1",
                    False,
                    None,
                    success=False,
                    error="judge timeout",
                    result={"success": False, "passed": False, "error": "judge timeout"},
                ),
            ),
            ("s1", _run(5, "e2", False, 0.2)),
            ("s2", _run(6, "e2", None, None, pending=True, result=None)),
            ("s3", _run(7, "e3", False, None)),
        ]
    )


EVAL_SESSIONS = pd.DataFrame(
    {
        "id": ["s1", "s2", "s3"],
        "agent": ["a", "b", "a"],
        "pending": [False, False, False],
        "success": [True, False, True],
    }
)


def test_eval_summary_by_hand() -> None:
    table = A.eval_summary(_runs())
    assert table.index.tolist() == ["e2", "e3", "e1"]  # worst pass rate first
    e1 = table.loc["e1"]
    assert (e1["runs"], e1["completed"], e1["errored"]) == (
        4,
        3,
        1,
    )  # the judge timeout is not a fail
    assert e1["pass_rate"] == pytest.approx(2 / 3) and e1["mean_score"] == pytest.approx(0.7)
    # scores 0.4, 0.8, 0.9: q25 at position 0.5 → 0.6, q75 at 1.5 → 0.85
    assert (e1["q25"], e1["q50"], e1["q75"]) == pytest.approx((0.6, 0.8, 0.85))
    e2 = table.loc["e2"]
    assert (e2["runs"], e2["completed"], e2["pass_rate"], e2["mean_score"]) == (2, 1, 0.0, 0.2)
    assert math.isnan(table.loc["e3", "mean_score"])
    agents = A.eval_summary(_runs(), by="agent", sessions=EVAL_SESSIONS)
    assert agents.loc["a", "runs"] == 5 and agents.loc["a", "pass_rate"] == pytest.approx(2 / 4)
    assert agents.loc["b", "completed"] == 1 and agents.loc["b", "pass_rate"] == 0.0
    with pytest.raises(ValueError, match="sessions="):
        A.eval_summary(_runs(), by="agent")


def test_succeeded_but_failed_eval() -> None:
    table = A.succeeded_but_failed_eval(EVAL_SESSIONS, _runs())
    # s2 failed itself; s3's errored run is not an eval failure, its e3 failure has no score
    assert table["id"].tolist() == ["s1", "s3"]
    assert table["failed_evals"].tolist() == [["e2"], ["e3"]]
    assert table.loc[0, "lowest_score"] == 0.2 and math.isnan(table.loc[1, "lowest_score"])
    assert table["agent"].tolist() == ["a", "a"]


# --------------------------------------------------------------------------- empty inputs


def test_empty_inputs_give_empty_frames_with_the_same_columns() -> None:
    full, empty = _sessions(), empty_sessions_with_agent()
    cases = [
        (lambda f: A.cost_by(f, by="agent"), "cost_by"),
        (lambda f: A.cost_by(f, by=["agent", "env"], freq="D"), "cost_by freq"),
        (lambda f: A.cost_by(f), "cost_by all"),
        (lambda f: A.top_sessions(f), "top"),
        (lambda f: A.movers(f), "movers"),
        (lambda f: A.movers(f, compare="deployment_id"), "movers deployments"),
        (lambda f: A.latency_percentiles(f, by="agent", freq="D"), "latency"),
        (lambda f: A.latency_percentiles(f), "latency all"),
        (lambda f: A.reliability(f, by="agent"), "reliability"),
        (lambda f: A.failure_families(f), "families"),
        (lambda f: A.detect_changes(f, min_sessions=1), "changes"),
        (lambda f: A.detect_changes(f, at="time", min_sessions=1), "changes time"),
        (lambda f: A.summary_by_agent(f), "summary"),
    ]
    for call, name in cases:
        out = call(empty)
        assert len(out) == 0, name
        assert list(out.columns) == list(call(full).columns), name
    assert (A.latency_percentiles(empty).dtypes.astype(str).tolist()) == [
        "int64",
        *["timedelta64[ns]"] * 4,
    ]
    spans, runs = sk.empty_frame("spans"), sk.empty_frame("eval_runs")
    for out, like in (
        (A.operation_hotspots(spans), A.operation_hotspots(_spans())),
        (A.failed_vs_successful(spans, empty), A.failed_vs_successful(_spans(), EVAL_SESSIONS)),
        (A.eval_summary(runs), A.eval_summary(_runs())),
        (
            A.succeeded_but_failed_eval(empty, runs),
            A.succeeded_but_failed_eval(EVAL_SESSIONS, _runs()),
        ),
    ):
        assert len(out) == 0 and list(out.columns) == list(like.columns)
    assert A.error_template("   ") == ""


def test_missing_group_column() -> None:
    bare = sk.empty_frame("sessions")  # as loaded by hand: no agent column yet
    for out in (
        A.cost_by(bare, by="agent"),
        A.reliability(bare, by="agent", freq="D"),
        A.latency_percentiles(bare, by="agent"),
        A.movers(bare),
        A.detect_changes(bare),
        A.failure_families(bare),
        A.summary_by_agent(bare),
    ):
        assert len(out) == 0
    with pytest.raises(KeyError, match="loaders add 'agent'"):
        A.cost_by(_sessions().drop(columns="agent"), by="agent")


def test_duplicate_index_labels_are_fine() -> None:
    frame = _sessions()
    frame.index = [0] * len(frame)  # e.g. frames concatenated without ignore_index
    assert A.cost_by(frame, by="agent")["total_cost"].tolist() == [7.0, 1.0, 0.0]
    assert A.reliability(frame, by="agent")["failed"].tolist() == [0, 1, 1]  # (none), a, b
    assert A.top_sessions(frame, 1)["total_cost"].tolist() == [4.0]


# --------------------------------------------------------------------------- demo dataset


def test_demo_incidents_rank_first_and_their_failure_family_is_found() -> None:
    from sessionkit.emulator import load_demo

    frame = demo_sessions()
    # detect_changes compares deployments on session metrics: of the demo's planted incidents
    # it sees the two of that shape (the others are the findings engine's: test_findings.py)
    incidents = [
        i
        for i in load_demo().incidents
        if i["where"] == "deployment" and i["metric"] in ("failure_rate", "cost_per_session")
    ]
    assert len(incidents) == 2
    changes = A.detect_changes(frame)
    planted = {(i["agent"], i["deployment_id"], i["metric"]) for i in incidents}
    ranked = [(r.agent, r.deployment_id, r.metric) for r in changes.head(len(planted)).itertuples()]
    assert set(ranked) == planted
    assert (changes.head(len(planted))["p_value"] < 1e-6).all()
    for incident in incidents:
        if not incident.get("family"):
            continue
        mine = frame[
            (frame["agent"] == incident["agent"])
            & (frame["deployment_id"] == incident["deployment_id"])
        ]
        families = A.failure_families(mine)
        family = {"tool_timeout": "ToolTimeoutError"}.get(incident["family"], incident["family"])
        assert families.loc[0, "template"].startswith(family)
        assert families.loc[0, "agents"] == [incident["agent"]]


def test_bucket_start_accepts_offset_aliases_for_months() -> None:
    times = pd.Series(pd.to_datetime(["2026-11-05T10:00Z", "2026-10-03T01:00Z"]))
    expected = [pd.Timestamp("2026-11-01", tz="UTC"), pd.Timestamp("2026-10-01", tz="UTC")]
    assert A.bucket_start(times, "MS").tolist() == expected == A.bucket_start(times, "M").tolist()


def test_one_failure_against_several_hosts_is_one_family_listing_them() -> None:
    """Found by a new user: the same upstream error split into one family per host."""
    errors = [
        "UpstreamError: GET https://api.partner-1.example.com/v2/records/1a2b3c4d returned 503",
        "UpstreamError: GET https://API.partner-2.example.com:8443/v2/records/99442986 returned 502",
        "UpstreamError: GET https://api.partner-1.example.com/v2/records/697ea0c8 returned 503",
        "KeyNotFound: key 'cust:1:profile' not found in store 'customers'",
    ]
    sessions = pd.DataFrame(
        {
            "id": [f"sess_{i:032x}" for i in range(4)],
            "start_time": pd.to_datetime(["2026-11-01T00:00Z"] * 4, utc=True),
            "success": pd.array([False] * 4, dtype="boolean"),
            "pending": pd.array([False] * 4, dtype="boolean"),
            "error": pd.array(errors, dtype="string"),
        }
    )
    families = A.failure_families(sessions)
    assert families["template"].tolist() == [
        "UpstreamError: GET https://<host>/v2/records/<id> returned <num>",
        "KeyNotFound: key <str> not found in store <str>",
    ]
    assert families["count"].tolist() == [3, 1]
    assert families["hosts"].tolist() == [
        ["api.partner-1.example.com", "api.partner-2.example.com:8443"],
        [],
    ]
    assert list(A.failure_families(sessions.head(0)).columns) == list(families.columns)
