"""The synthetic project: determinism, formats, consistency and the planted incidents."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from sessionkit.emulator import generate, load_demo
from sessionkit.emulator.catalog import AGENTS, FAMILIES, PROFILES, TRIGGERS, parse_iso
from sessionkit.emulator.dataset import Dataset
from sessionkit.emulator.texts import build_logs

DATA = Path(__file__).resolve().parents[3] / "data" / "demo" / "sessions.jsonl.gz"
FAMILY_PATTERNS = {
    "rate_limit": r"^RateLimitError: 429 from api\.(openai|anthropic)\.com",
    "tool_timeout": r"^ToolTimeoutError: tool '[\w.]+' did not respond within \d+s",
    "validation": r"^ValidationError: 1 validation error for ExtractionResult",
    "kv_miss": r"^KeyNotFound: key 'cust:\d+:profile' not found in store '[\w-]+'$",
    "context": r"^BadRequestError: context_length_exceeded",
    "upstream": r"^UpstreamError: GET https://\S+ returned 50\d after \d+ms$",
    "auth_expired": r"^AuthError: 401 Unauthorized from https://\S+: credentials for client",
    "schema_drift": r"^SchemaError: response of tool '[\w.]+' is missing required field",
    "quota_exceeded": r"^QuotaExceededError: monthly quota of \d+ requests exhausted",
}


@pytest.fixture(scope="module")
def demo() -> Dataset:
    return load_demo()


@pytest.fixture(scope="module")
def records(demo: Dataset) -> list[dict]:
    return demo.render_sessions(range(len(demo)), demo.now_ns)


def test_committed_file_is_exactly_the_generators_output(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.jsonl.gz"
    load_demo().to_jsonl(fresh)
    assert gzip.decompress(fresh.read_bytes()) == gzip.decompress(DATA.read_bytes())
    header = orjson.loads(gzip.decompress(DATA.read_bytes()).split(b"\n", 1)[0])
    assert (
        header["format"] == "sessionkit-demo/1"
        and header["sessions"] == 3000
        and header["incidents"] == load_demo().incidents
        and [i["kind"] for i in header["incidents"]]
        == ["failure", "cost", "latency", "eval", "new_error_family"]
    )


def test_deterministic_across_calls(records: list[dict]) -> None:
    again = generate()
    assert again.render_sessions(range(len(again)), again.now_ns) == records
    other = generate(seed=8)
    assert other.render_sessions([0], other.now_ns) != records[:1]


def test_id_formats(demo: Dataset, records: list[dict]) -> None:
    assert all(re.fullmatch(r"sess_[0-9a-f]{32}", r["id"]) for r in records)
    assert len({r["id"] for r in records}) == len(records)
    for r in records:
        assert all(re.fullmatch(r"agent(id)?_[0-9a-f]{40}", a) for a in r["agent_ids"])
    detail = demo.detail(10, demo.now_ns)
    for run in detail["eval_runs"]:
        assert re.fullmatch(r"evalrun_[0-9a-f]{32}", run["id"])


def test_timestamps_parse_back_to_the_truth(demo: Dataset, records: list[dict]) -> None:
    created = [pd.Timestamp(r["created_at"]).value for r in records]
    assert created == list(demo.columns["created_ns"])
    ends = [pd.Timestamp(r["end_time"]).value for r in records if r["end_time"]]
    done = demo.columns["end_ns"][demo.columns["end_ns"] <= demo.now_ns]
    assert ends == list(done)
    texts = [r["start_time"] for r in records]
    digits = {len(m.group(1)) if (m := re.search(r"\.(\d+)", t)) else 0 for t in texts}
    assert digits == set(range(10))
    assert any(t.endswith("Z") for t in texts) and any(
        re.search(r"[+-]\d\d:\d\d$", t) for t in texts
    )
    assert all(parse_iso(t) == pd.Timestamp(t).value for t in texts[:500])


def test_pending_semantics(demo: Dataset) -> None:
    pending = np.flatnonzero(demo.columns["end_ns"] > demo.now_ns)
    assert 0.005 < len(pending) / len(demo) < 0.03
    soon = [i for i in pending if demo.columns["end_ns"][i] - demo.now_ns < 20 * 10**9]
    assert soon, "no session completes within 20 s after now"
    # a session still running for a minute more: its last log lines are not written yet
    i = next(int(j) for j in pending if demo.columns["end_ns"][j] - demo.now_ns > 60 * 10**9)
    before = demo.render_sessions([i], demo.now_ns)[0]
    assert before["pending"] and before["end_time"] is None and before["duration"] is None
    assert (
        before["success"] is False
        and before["total_cost"] is None
        and before["updated_at"] == before["start_time"]
    )
    assert demo.detail(i, demo.now_ns)["session"]["timeline"] is None
    later = int(demo.columns["end_ns"][i]) + 1
    after = demo.render_sessions([i], later)[0]
    assert not after["pending"] and after["duration"] == int(demo.columns["duration_ns"][i])
    assert (
        abs(parse_iso(after["end_time"]) - parse_iso(after["start_time"]) - after["duration"])
        < 10**9
    )
    assert len(demo.logs(i, demo.now_ns)) < len(demo.logs(i, later))


def test_consistency(demo: Dataset, records: list[dict]) -> None:
    done = [r for r in records if not r["pending"]]
    assert all(r["total_cost"] >= r["llm_cost"] for r in done if r["total_cost"] is not None)
    assert all(r["cpu_time"] <= r["duration"] for r in done)
    assert {r["trigger"] for r in records} == set(TRIGGERS)
    assert any(r["total_cost"] is None for r in done) and any("metadata" not in r for r in records)
    assert any(r.get("metadata") is None and "metadata" in r for r in records)
    assert any(r["deployment_id"] == "" for r in records) and any(r["deleted"] for r in records)
    failed = [r for r in done if not r["success"]]
    assert 0.04 < len(failed) / len(done) < 0.10
    for r in failed:
        assert sum(bool(re.search(p, r["error"])) for p in FAMILY_PATTERNS.values()) == 1, r[
            "error"
        ]
    i = demo.position(failed[0]["id"])
    assert i is not None
    detail = demo.detail(i, demo.now_ns)
    timeline = detail["session"]["timeline"]
    assert (
        timeline["error"] == failed[0]["error"]
        and abs(timeline["duration"] * 1e6 - failed[0]["duration"]) < 1e3
    )
    assert any(line["severity"] == "ERROR" for line in demo.logs(i, demo.now_ns))
    severities = {line["severity"] for j in range(300) for _, line in build_logs(demo.facts(j))}
    assert {"TRACE", "DEBUG", "INFO", "ERROR"} <= severities and severities & {
        "warning",
        "Warn",
        "Info",
        "CRITICAL",
    }
    results = [
        run["result"] for j in range(300) for run in demo.detail(j, demo.now_ns)["eval_runs"]
    ]
    assert any(isinstance(x, str) for x in results) and any(isinstance(x, dict) for x in results)


def _agent_names(demo: Dataset) -> np.ndarray:
    return np.array([a.name for a in PROFILES])[demo._a["agent"][: len(demo)]]


def test_planted_incidents_are_visible_in_the_columns(demo: Dataset) -> None:
    names = _agent_names(demo)
    done = demo.columns["end_ns"] <= demo.now_ns
    failure, cost, _latency, _eval, _family = demo.incidents
    mine = names == failure["agent"]
    after = mine & (demo.columns["deployment_id"] == failure["deployment_id"]) & done
    before = mine & (demo.columns["created_ns"] < pd.Timestamp(failure["start"]).value) & done
    rate_before = 1 - demo.columns["success"][before].mean()
    rate_after = 1 - demo.columns["success"][after].mean()
    assert rate_before < 0.08 and rate_after > 0.18 and after.sum() > 100
    families = demo._a["family"][: len(demo)][after & ~demo.columns["success"]]
    assert (families == FAMILIES.index("tool_timeout")).mean() > 0.6
    mine = names == cost["agent"]
    costs = demo._a["total_cost"][: len(demo)]
    after = mine & (demo.columns["deployment_id"] == cost["deployment_id"])
    before = (
        mine
        & (demo.columns["created_ns"] < pd.Timestamp(cost["start"]).value)
        & (demo.columns["deployment_id"] != "")
    )
    # the whale session (a decoy) sits before the deployment: the median is the fair measure
    assert np.median(costs[after]) / np.median(costs[before]) > 2.0
    assert cost["after"] / cost["before"] > 1.8  # means, the whale included


def _host_calls(demo: Dataset, rows: np.ndarray, host: str) -> list[float]:
    """Durations (ms) of the outbound calls to ``host`` in the timelines of ``rows``."""
    out = []
    for i in rows.tolist():
        stack = [demo.timeline(i)]
        while stack:
            span = stack.pop()
            stack.extend(span.get("children", []))
            if span["operation"] == "HTTP GET" and span["attributes"].get("host") == host:
                out.append(span["duration"])
    return out


def test_the_new_planted_incidents_are_visible_in_the_data(demo: Dataset) -> None:
    """Measured from the rendered data itself, not from the plans: the host's calls got slower
    (the agent's p95 doubled, its median barely moved), one eval's pass rate fell while the
    sessions kept succeeding, and a family no session had before appeared."""
    names = _agent_names(demo)
    done = demo.columns["end_ns"] <= demo.now_ns
    ok = done & demo.columns["success"] & ~demo.columns["devmode"]
    starts = demo.columns["start_ns"]
    _failure, _cost, latency, quality, family = demo.incidents
    t0 = pd.Timestamp(latency["start"]).value
    assert pd.Timestamp(latency["start"]).hour == 13  # mid-day, no deployment of the agent then
    deploys = [d["start_ns"] for d in demo.meta["deployments"] if d["key"].startswith("sms-")]
    assert all(abs(d - t0) > 86400 * 10**9 for d in deploys)
    mine = ok & (names == latency["agent"])
    calls_before = _host_calls(demo, np.flatnonzero(mine & (starts < t0)), latency["subject"])
    calls_after = _host_calls(demo, np.flatnonzero(mine & (starts >= t0)), latency["subject"])
    assert len(calls_after) >= 20 and np.median(calls_after) > 5 * np.median(calls_before)
    seconds = demo.columns["duration_ns"] / 1e9
    p95 = [np.quantile(seconds[mine & side], 0.95) for side in (starts < t0, starts >= t0)]
    p50 = [np.median(seconds[mine & side]) for side in (starts < t0, starts >= t0)]
    assert p95[1] / p95[0] > 1.7 and p50[1] / p50[0] < 1.35
    # the eval regression: pass rate of one eval down ~40 points, the sessions still succeed
    mine = done & (names == quality["agent"]) & ~demo.columns["devmode"]
    after = mine & (demo.columns["deployment_id"] == quality["deployment_id"])
    before = mine & (starts < pd.Timestamp(quality["start"]).value)

    def pass_rate(rows: np.ndarray) -> float:
        runs = [r for i in np.flatnonzero(rows)[:400] for r in demo.eval_runs(int(i))]
        results = [r["result"] for r in runs if r["eval_name"] == quality["eval"]]
        parsed = [orjson.loads(x) if isinstance(x, str) else x for x in results if x]
        return float(np.mean([x["passed"] for x in parsed if x["success"]]))

    assert pass_rate(before) - pass_rate(after) > 0.3
    # (until the new family, which also hits this agent's calls to the search host, begins)
    until_family = after & (starts < pd.Timestamp(family["start"]).value)
    fail = [1 - demo.columns["success"][side].mean() for side in (before, until_family)]
    assert fail[1] - fail[0] < 0.05
    # the new family: none before its start, at least 8 after, all at the host it names
    new = ~demo.columns["success"] & (
        demo._a["family"][: len(demo)] == FAMILIES.index(family["family"])
    )
    assert new.sum() >= 8 and (starts[new] >= pd.Timestamp(family["start"]).value).all()
    assert all(family["subject"] in demo.error(int(i)) for i in np.flatnonzero(new))


def test_the_decoys_are_there(demo: Dataset) -> None:
    """A tiny agent with a handful of sessions, most failing, and one whale session."""
    names = _agent_names(demo)
    tiny = names == PROFILES[-1].name
    assert 3 <= tiny.sum() <= 6 and (~demo.columns["success"][tiny]).sum() >= 3
    costs = demo._a["total_cost"][: len(demo)]
    extractor = names == "doc-extractor"
    whale = int(np.argmax(np.where(extractor, costs, 0)))
    assert costs[whale] > 30 * np.median(costs[extractor]) and demo.columns["success"][whale]
    assert (costs[extractor] > 10 * np.median(costs[extractor])).sum() == 1


def test_grow_appends_at_the_live_rate_and_keeps_order() -> None:
    ds = generate(200, seed=3, live_rate=10.0)
    assert ds.grow(ds.now_ns - 1) == 0
    added = ds.grow(ds.now_ns + 5 * 10**9)
    assert added == 51 and len(ds) == 251
    assert ds.grow(ds.now_ns + 5 * 10**9) == 0
    assert np.all(np.diff(ds.columns["created_ns"]) >= 0)
    new_id = str(ds.columns["id"][-1])
    assert ds.position(new_id) == 250 and len(set(ds.columns["id"])) == 251
    rendered = ds.render_sessions([250], ds.now_ns + 10**12)[0]
    assert rendered["id"] == new_id and not rendered["pending"]


def test_twenty_thousand_sessions_generate_quickly() -> None:
    ds = generate(20_000, seed=5)
    assert len(ds) == 20_000 and len(set(ds.columns["id"])) == 20_000
    assert np.all(np.diff(ds.columns["created_ns"]) >= 0)


OTHER_NAMES = ("intake-bot", "invoice-parser", "kb-searcher", "voice-line", "nightly-rollup")


def _wire_text(ds: Dataset, rows: range) -> str:
    """Everything the API would send about ``rows``: list records, details (timelines, agents,
    eval runs) and log lines, as one JSON text."""
    parts = [orjson.dumps(ds.render_sessions(rows, ds.now_ns)).decode()]
    for i in rows:
        parts.append(orjson.dumps(ds.detail(i, ds.now_ns)).decode())
        parts.append(orjson.dumps([line for _t, line in build_logs(ds.facts(i))]).decode())
    return "\n".join(parts)


def test_other_agent_names_rename_everything_the_wire_carries() -> None:
    demo = generate(400, seed=11)
    other = generate(400, seed=11, agent_names=OTHER_NAMES)
    text = _wire_text(other, range(len(other)))
    for name in (a.name for a in AGENTS):
        assert name not in text, f"the demo's name {name!r} leaked into another project"
    tiny = "intake-bot-webhook"  # the tiny decoy agent is named after the first agent
    assert {a["name"] for a in other.meta["agents"]} == {*OTHER_NAMES, tiny}
    named = {a["name"] for i in range(len(other)) for a in other.detail(i, other.now_ns)["agents"]}
    assert named == {*OTHER_NAMES, tiny}
    assert other.meta["incidents"][0]["agent"] == "intake-bot"  # the support-triage profile
    # same behaviour (profiles by position), other ids derived from the other names
    np.testing.assert_array_equal(demo.columns["success"], other.columns["success"])
    np.testing.assert_array_equal(demo.columns["duration_ns"], other.columns["duration_ns"])
    assert set(demo.columns["deployment_id"]).isdisjoint(set(other.columns["deployment_id"]) - {""})
    demo_ids = {x for ids in demo.columns["agent_identifiers"] for x in ids}
    assert demo_ids.isdisjoint({x for ids in other.columns["agent_identifiers"] for x in ids})


def test_default_agent_names_are_the_demo_project_byte_for_byte(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    generate(300, seed=5).to_jsonl(a)
    generate(300, seed=5, agent_names=[p.name for p in AGENTS]).to_jsonl(b)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("a", "b"), "exactly 5 names"),
        (("a", "b", "c", "d", "a"), "distinct"),
        (("a", "b", "c", "d", " "), "non-blank"),
        (("a", "b", "c", "d", "agent_x"), "looks like an agent id"),
        ("abcde", "not one string"),
    ],
)
def test_bad_agent_names_are_refused_with_the_reason(names: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(10, agent_names=names)  # type: ignore[arg-type]
