"""One session's text, rendered from plain facts (no dataset): timeline, logs, eval runs."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import numpy as np

from sessionkit.emulator.catalog import AGENTS, row_rng
from sessionkit.emulator.texts import (
    SessionFacts,
    _pick,
    build_eval_runs,
    build_logs,
    build_timeline,
    error_message,
    session_error,
)

ERROR = "KeyNotFound: key 'cust:1:profile' not found in store 'customers'"
FACTS = SessionFacts(
    seed=7,
    key=1667,
    session_id="sess_" + "a" * 32,
    thread_id="thrd_" + "b" * 24,
    agent=0,
    nested=-1,
    trigger="api",
    family="kv_miss",
    model="gpt-4o-mini",
    success=False,
    error=ERROR,
    start_ns=1_793_205_692_300_000_000,
    end_ns=1_793_205_693_000_000_000,
    duration_ns=700_000_000,
    prompt_tokens=500,
    completion_tokens=400,
    agent_names=("triage", "b", "c", "d", "e"),
    agent_identifiers=tuple(f"agent_{str(k) * 40}" for k in range(5)),
    base_now_ns=1_795_780_800_000_000_000,
)


def _spans(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node] + [s for child in node.get("children", []) for s in _spans(child)]


def test_log_lines_of_a_known_session() -> None:
    lines = [line for _, line in build_logs(FACTS)]
    assert [(line["severity"], line["body"]) for line in lines] == [
        ("INFO", "session sess_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa started: agent triage"),
        ("DEBUG", "loaded 3 items from key-value store"),
        ("TRACE", "prompt assembled"),
        ("DEBUG", "calling model gpt-4o-mini (attempt 1)"),
        ("DEBUG", "calling model gpt-4o-mini (attempt 1)"),
        ("ERROR", ERROR),
    ]
    assert lines[0]["timestamp"] == "2026-10-28T16:41:32.300000Z"
    stamps = [ts for ts, _ in build_logs(FACTS)]
    assert stamps == sorted(stamps) and FACTS.start_ns <= stamps[0] and stamps[-1] <= FACTS.end_ns


def test_timeline_of_a_known_session() -> None:
    root = build_timeline(FACTS)
    assert root["operation"] == "HTTP POST" and root["duration"] == 700.0
    assert root["attributes"] == {
        "http.method": "POST",
        "http.host": "agents.example-shop.com",
        "http.user_agent": "node",
        "http.path": "/api/triage",
    }
    (run,) = root["children"]
    assert run["operation"] == "agent.run"
    assert run["attributes"]["@agentuity/agentName"] == "triage"
    assert run["attributes"]["@agentuity/agentId"] == FACTS.agent_identifiers[0]
    assert run["attributes"]["@agentuity/threadId"] == FACTS.thread_id
    failing = [s for s in _spans(root) if "error" in s]
    assert [s["operation"] for s in failing] == ["HTTP POST", "agent.run", "agentuity.keyvalue.get"]
    assert all(s["error"] == ERROR for s in failing)
    assert [s["operation"] for s in run["children"]] == [
        "agentuity.keyvalue.get",
        "gen_ai.chat",
        "gen_ai.chat",
        "agentuity.keyvalue.set",
    ]
    assert build_timeline(FACTS) == root  # deterministic


def test_timeline_variants_follow_the_facts() -> None:
    ok = build_timeline(replace(FACTS, success=True, error=None, thread_id=""))
    assert not any("error" in s for s in _spans(ok))
    assert "@agentuity/threadId" not in ok["children"][0]["attributes"]
    cron = build_timeline(replace(FACTS, trigger="cron"))
    assert cron["operation"] == "cron.trigger"
    nested = build_timeline(replace(FACTS, agent=2, nested=1, success=True, error=None))
    names = [
        s["attributes"]["@agentuity/agentName"]
        for s in _spans(nested)
        if s["operation"] == "agent.run"
    ]
    assert names == ["c", "b", "b"]  # the nested call nests once more (depth 3 stops)


def test_eval_runs_of_a_known_session() -> None:
    runs = build_eval_runs(FACTS)
    assert [r["eval_name"] for r in runs] == ["helpfulness", "tone", "pii-leak"]
    assert all(re.fullmatch(r"evalrun_[0-9a-f]{32}", r["id"]) for r in runs)
    assert runs[0]["created_at"] == "2026-10-28T16:41:50.000000Z"
    assert isinstance(runs[0]["result"], str) and isinstance(runs[1]["result"], dict)


def test_session_error_is_the_salt_2_message_of_the_family() -> None:
    text = session_error(7, 1667, "rate_limit", 0)
    assert text == error_message("rate_limit", row_rng(7, 1667, 2), AGENTS[0])
    assert text.startswith("RateLimitError: 429 from api.openai.com")
    assert session_error(7, 1667, "rate_limit", 3).startswith(
        "RateLimitError: 429 from api.anthropic"
    )


def test_pick_is_the_draw_rng_choice_makes() -> None:
    """``_pick`` replaces ``rng.choice`` in the error texts: same value, same state after."""
    for seed in range(300):
        mine, numpy_s = np.random.default_rng([seed, 2]), np.random.default_rng([seed, 2])
        assert _pick(mine, (15, 30, 30, 60)) == int(numpy_s.choice([15, 30, 30, 60]))
        assert mine.random() == numpy_s.random()
