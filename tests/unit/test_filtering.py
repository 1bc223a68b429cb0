"""The pure filter behind the panel, on a small frame with hand-computed answers."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

import sessionkit as sk
from sessionkit.filtering import filter_frame, session_status, summarise


def _frame() -> pd.DataFrame:
    rows = []
    spec = [  # agent, trigger, env, start day, pending, success, cost, seconds, error, tier
        ("triage", "api", "production", 1, False, True, 0.01, 0.5, None, "gold"),
        (
            "triage",
            "email",
            "production",
            2,
            False,
            False,
            0.02,
            2.0,
            "Tool Timeout after 30s",
            "free",
        ),
        ("digest", "cron", "production", 3, False, True, 0.50, 40.0, None, None),
        ("digest", "cron", "preview", 4, True, False, None, None, None, "gold"),
        (
            "research",
            "manual",
            "development",
            5,
            False,
            False,
            1.25,
            300.0,
            "RateLimitError 429",
            "gold",
        ),
    ]
    for i, (_agent, trig, env, day, pending, success, cost, secs, err, tier) in enumerate(spec):
        rows.append(
            {
                "id": f"sess_{i:032x}",
                "created_at": f"2026-11-0{day}T10:00:00Z",
                "updated_at": f"2026-11-0{day}T10:00:00Z",
                "start_time": f"2026-11-0{day}T10:00:00Z",
                "pending": pending,
                "success": success,
                "trigger": trig,
                "env": env,
                "devmode": env == "development",
                "deployment_id": f"deploy_{i % 2}",
                "total_cost": cost,
                "duration": None if secs is None else int(secs * 1e9),
                "error": err,
                "agent_ids": [],
                "metadata": {"tier": tier} if tier else None,
            }
        )
    frame = sk.sessions_frame(rows)
    frame.insert(1, "agent", pd.Categorical([r[0] for r in spec]))
    return frame


def _ids(frame: pd.DataFrame) -> list[int]:
    return [int(s[5:], 16) for s in frame["id"]]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({}, [0, 1, 2, 3, 4]),
        ({"agents": ["digest"]}, [2, 3]),
        ({"triggers": {"cron", "api"}}, [0, 2, 3]),
        ({"envs": ["production"], "statuses": ["failed"]}, [1]),
        ({"statuses": ["pending"]}, [3]),
        ({"statuses": ["succeeded"]}, [0, 2]),
        ({"devmode": True}, [4]),
        ({"devmode": False}, [0, 1, 2, 3]),
        ({"min_cost": 0.02, "max_cost": 0.5}, [1, 2]),
        (
            {"min_duration": pd.Timedelta(seconds=1), "max_duration": pd.Timedelta(seconds=60)},
            [1, 2],
        ),
        ({"error_text": "timeout"}, [1]),
        ({"metadata": {"tier": "gold"}}, [0, 3, 4]),
        ({"metadata": {"metadata.tier": "free"}}, [1]),
        (
            {"start": pd.Timestamp("2026-11-02T00:00Z"), "end": pd.Timestamp("2026-11-04T00:00Z")},
            [1, 2],
        ),
        ({"deployments": ["deploy_1"]}, [1, 3]),
    ],
)
def test_filter_frame(criteria: dict[str, object], expected: list[int]) -> None:
    assert _ids(filter_frame(_frame(), **criteria)) == expected  # type: ignore[arg-type]


def test_status_and_summary() -> None:
    frame = _frame()
    assert session_status(frame).tolist() == [
        "succeeded",
        "failed",
        "succeeded",
        "pending",
        "failed",
    ]
    s = summarise(frame)
    assert (
        s["sessions"] == 5 and s["completed"] == 4 and s["failed"] == 2 and s["failure_rate"] == 0.5
    )
    assert s["total_cost"] == pytest.approx(1.78)


def test_bad_criteria_are_clear_errors() -> None:
    with pytest.raises(sk.InvalidArgumentError, match="aware"):
        filter_frame(_frame(), start=pd.Timestamp("2026-11-01"))
    with pytest.raises(sk.InvalidArgumentError, match="succeeded, failed, pending"):
        filter_frame(_frame(), statuses=["ok"])
    with pytest.raises(sk.InvalidArgumentError, match=r"metadata\.tier"):
        filter_frame(_frame(), metadata={"colour": "red"})


def test_agents_take_names_and_ids_like_load_sessions() -> None:
    stable_a, stable_b = "agent_" + "a" * 40, "agent_" + "b" * 40
    dep_a = "agentid_" + "1" * 40
    frame = _frame()  # agents: triage, triage, digest, digest, research
    lists = [[dep_a, stable_a], [stable_a], [stable_b], [stable_b], []]
    frame["agent_ids"] = pd.array(lists, dtype=pd.ArrowDtype(pa.list_(pa.string())))
    assert _ids(filter_frame(frame, agents=["digest"])) == [2, 3]
    assert _ids(filter_frame(frame, agents=[stable_a])) == [0, 1]
    assert _ids(filter_frame(frame, agents=[dep_a])) == [0]
    assert _ids(filter_frame(frame, agents=[dep_a, "research"])) == [0, 4]
    # a name on a frame loaded without names is an error, never a silently unfiltered frame
    with pytest.raises(sk.InvalidArgumentError, match="no 'agent' column"):
        filter_frame(frame.drop(columns="agent"), agents=["digest"])
