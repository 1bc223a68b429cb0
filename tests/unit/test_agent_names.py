"""Agent names without a server (odd projects, driven through callbacks): names that look like
ids, nested callers, shared names, the lookup budget and the unknown-name message."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

import sessionkit as sk
from sessionkit.agents import (
    MAX_AGENT_LOOKUPS,
    AgentNames,
    agent_kind,
    resolve_agent,
    unknown_agent,
)
from sessionkit.params import session_filters


def _sid(n: int) -> str:
    return f"sess_{n:032x}"


def _stable(n: int) -> str:
    return f"agent_{n:040x}"


def _deploy(n: int) -> str:
    return f"agentid_{n:040x}"


def _detail(n: int, agents: list[tuple[str, str]], carried: list[str]) -> dict[str, object]:
    return {
        "session": {"id": _sid(n), "agent_ids": carried},
        "agents": [{"name": name, "identifier": ident} for name, ident in agents],
    }


def test_an_agent_called_agent_something_is_a_name() -> None:
    assert agent_kind("agent_smith") == "name" and agent_kind("agentid_x") == "name"
    assert agent_kind(_stable(1)) == "stable" and agent_kind(_deploy(1)) == "deployment"
    names = AgentNames()
    names.learn(_detail(1, [("agent_smith", _stable(1))], [_deploy(1), _stable(1)]))
    assert names.stable_for("agent_smith") == _stable(1)
    assert names.stable_for(_deploy(1)) == _stable(1)


def test_a_detail_naming_only_the_caller_does_not_name_the_nested_agent() -> None:
    """Session 1: caller A (ids d1, s1) called B (ids d2, s2), but its detail lists only A.
    B's ids must stay unnamed, whichever session is learned first."""
    nested = _detail(1, [("A", _stable(1))], [_deploy(1), _stable(1), _deploy(2), _stable(2)])
    own = _detail(2, [("B", _stable(2))], [_deploy(2), _stable(2)])
    for order in ((nested, own), (own, nested)):
        names = AgentNames()
        for detail in order:
            names.learn(detail)
        # A's deployment id stays unnamed too: the nested detail cannot say whose it is
        assert names.names == {_stable(1): "A", _deploy(2): "B", _stable(2): "B"}


def test_a_name_two_agents_share_is_ambiguous_everywhere() -> None:
    names = AgentNames()
    names.learn(_detail(1, [("twin", _stable(1))], [_stable(1)]))
    names.learn(_detail(2, [("twin", _stable(2))], [_stable(2)]))
    with pytest.raises(sk.AmbiguousAgentError, match="name of 2 agents") as info:
        names.stable_for("twin")
    assert info.value.ids == (_stable(1), _stable(2))
    assert names.stable_for(_stable(2)) == _stable(2)  # an id is never ambiguous
    # found by an outside attacker: a deployment id of a twin was refused as ambiguous
    names.learn(_detail(3, [("twin", _stable(2))], [_deploy(2), _stable(2)]))
    assert names.stable_for(_deploy(2)) == _stable(2)  # its pair, seen in a detail
    unpaired = AgentNames(dict(names.names))  # a store's manifest keeps names only
    assert unpaired.stable_for(_deploy(2)) is None  # matched as given, not refused


def test_the_lookup_budget_counts_details_not_ids() -> None:
    """Every agent has two ids; one detail names both, so a budget of 10 names 10 agents."""
    lists = [[_deploy(n), _stable(n)] for n in range(30)]
    fetched: list[str] = []

    def fetch(ids: list[str]) -> list[dict[str, object] | None]:
        fetched.extend(ids)
        return [
            _detail(
                int(s[5:], 16),
                [(f"a{int(s[5:], 16)}", _stable(int(s[5:], 16)))],
                lists[int(s[5:], 16)],
            )
            for s in ids
        ]

    names = AgentNames()
    with pytest.warns(sk.SchemaWarning, match="at most 10 session details"):
        names.name(lists, [_sid(n) for n in range(30)], fetch, budget=10)
    assert len(fetched) == 10 and len(names.known()) == 10


def test_an_unknown_name_search_is_bounded_and_says_so() -> None:
    """A project with endless agents: looking for a name none has stops at the limit."""
    served = {"pages": 0}

    def pages(params: dict[str, str]) -> Iterator[bytes]:
        for page in range(10_000):
            served["pages"] += 1
            rows = [
                {"id": _sid(page * 100 + k), "agent_ids": [_stable(page * 100 + k)]}
                for k in range(100)
            ]
            yield orjson.dumps({"success": True, "data": rows})

    def fetch(ids: list[str]) -> list[dict[str, object] | None]:
        return [
            _detail(
                0,
                [(f"agent-{s[-6:]}", "agent_" + s[5:].rjust(40, "0"))],
                ["agent_" + s[5:].rjust(40, "0")],
            )
            for s in ids
        ]

    with pytest.raises(sk.UnknownAgentError) as info:
        resolve_agent(session_filters(agent="nobody"), AgentNames(), pages, fetch)
    assert served["pages"] <= MAX_AGENT_LOOKUPS // 100 + 1
    assert f"searched {MAX_AGENT_LOOKUPS:,} session details" in str(info.value)
    assert len(str(info.value)) < 1_500 and len(info.value.known) == MAX_AGENT_LOOKUPS


def test_the_unknown_agent_message_stays_short() -> None:
    error = unknown_agent("x" * 10_000, [f"agent-{n}" for n in range(5_000)], "the store")
    assert len(str(error)) < 1_500 and "and 4,980 more" in str(error)
    assert len(error.known) == 5_000
