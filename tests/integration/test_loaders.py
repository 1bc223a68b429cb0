"""Loaders over real loopback HTTP against the emulator, compared with the dataset's truth."""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
import pandas as pd
import pytest

import sessionkit as sk
from sessionkit import schema
from sessionkit.emulator import Emulator, Faults
from tests.conftest import by_id, make_client, truth_frame


def _dtype_names(frame: pd.DataFrame) -> dict[str, str]:
    return {
        c: ("category" if isinstance(t, pd.CategoricalDtype) else str(t))
        for c, t in frame.dtypes.items()
    }


def test_load_sessions_equals_truth_values_and_dtypes(
    demo_emu: Emulator, demo_client: sk.Client
) -> None:
    got = sk.load_sessions(demo_client, progress=False, agent_names=False)
    want = truth_frame(demo_emu)
    assert len(got) == len(want) > 1000
    pd.testing.assert_frame_equal(by_id(got), by_id(want))
    names = _dtype_names(got)
    for col in schema.SESSION_COLUMNS:
        assert names[col.name] == col.dtype_name, col.name
    assert "timeline" not in got.columns
    assert any(c.startswith("metadata.") for c in got.columns)


def test_default_order_is_created_desc(demo_client: sk.Client) -> None:
    got = sk.load_sessions(demo_client, progress=False, agent_names=False)
    assert got["created_at"].is_monotonic_decreasing
    assert not got["id"].duplicated().any()


@pytest.mark.parametrize(
    ("sort", "column"),
    [
        ("created", "created_at"),
        ("updated", "updated_at"),
        ("duration", "duration"),
        ("startTime", "start_time"),
    ],
)
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_and_direction(
    small_client: sk.Client, sort: str, column: str, direction: str
) -> None:
    got = sk.load_sessions(
        small_client, sort=sort, direction=direction, progress=False, agent_names=False
    )
    values = got[column].dropna()
    assert values.is_monotonic_increasing if direction == "asc" else values.is_monotonic_decreasing
    assert len(got) == got["id"].nunique()


def _filter_cases(truth: pd.DataFrame) -> list[tuple[dict[str, object], pd.Series]]:
    row = truth.dropna(subset=["thread_id"]).iloc[0]
    with_meta = (
        truth.dropna(subset=["metadata.customer_tier"])
        if "metadata.customer_tier" in truth
        else None
    )
    agent_id = truth["agent_ids"].iloc[0][0]  # a per-deployment id (agentid_...)
    stable_id = truth["agent_ids"].iloc[0][1]  # the demo sends [agentid_X, agent_X] pairs
    assert agent_id.startswith("agentid_") and stable_id.startswith("agent_")
    start = truth["start_time"].sort_values().iloc[len(truth) // 3]
    end = truth["start_time"].sort_values().iloc[2 * len(truth) // 3]
    cases: list[tuple[dict[str, object], pd.Series]] = [
        ({"trigger": "cron"}, truth["trigger"] == "cron"),
        ({"trigger": ["cron", "email"]}, truth["trigger"].isin(["cron", "email"])),
        ({"env": "preview"}, truth["env"] == "preview"),
        ({"success": False}, truth["success"] == False),  # noqa: E712
        ({"success": True}, truth["success"] == True),  # noqa: E712
        ({"devmode": True}, truth["devmode"] == True),  # noqa: E712
        ({"org_id": str(row["org_id"])}, truth["org_id"] == row["org_id"]),
        ({"project_id": str(row["project_id"])}, truth["project_id"] == row["project_id"]),
        (
            {"deployment_id": str(row["deployment_id"]) or "x"},
            truth["deployment_id"] == (row["deployment_id"] or "x"),
        ),
        ({"thread_id": str(row["thread_id"])}, truth["thread_id"] == row["thread_id"]),
        # any id of an agent selects every session that agent took part in (its stable id's)
        ({"agent": agent_id}, truth["agent_ids"].map(lambda ids: stable_id in ids)),
        ({"agent": stable_id}, truth["agent_ids"].map(lambda ids: stable_id in ids)),
        ({"since": start}, truth["start_time"] >= start),
        ({"until": end}, truth["start_time"] < end),
        (
            {"since": start, "until": end},
            (truth["start_time"] >= start) & (truth["start_time"] < end),
        ),
    ]
    if with_meta is not None and len(with_meta):
        tier = with_meta["metadata.customer_tier"].iloc[0]
        cases.append(
            ({"metadata": {"customer_tier": tier}}, truth["metadata.customer_tier"] == tier)
        )
    return cases


def test_every_filter_matches_a_reference_filter(
    demo_emu: Emulator, demo_client: sk.Client
) -> None:
    truth = truth_frame(demo_emu)
    for kwargs, mask in _filter_cases(truth):
        got = sk.load_sessions(demo_client, progress=False, agent_names=False, **kwargs)  # type: ignore[arg-type]
        want = truth[mask.fillna(False).astype(bool)]
        assert sorted(got["id"]) == sorted(want["id"]), kwargs
        assert len(want) > 0, f"the reference filter {kwargs} matched nothing: a weak test"


def test_limit_and_empty_result(demo_client: sk.Client) -> None:
    top = sk.load_sessions(demo_client, limit=250, progress=False, agent_names=False)
    every = sk.load_sessions(demo_client, progress=False, agent_names=False)
    assert top["id"].tolist() == every["id"].head(250).tolist()
    with pytest.warns(sk.SessionKitWarning, match="No sessions match since='2001-01-01"):
        empty = sk.load_sessions(
            demo_client, since="2001-01-01T00:00Z", until="2001-01-02T00:00Z", progress=False
        )
    assert len(empty) == 0 and str(empty["agent"].dtype) == "category"
    assert str(empty["agent_id"].dtype) == "category"
    assert [c for c in empty.columns if c not in ("agent", "agent_id")] == [
        c.name for c in schema.SESSION_COLUMNS
    ]
    assert (
        str(empty["created_at"].dtype) == "datetime64[ns, UTC]"
        and str(empty["duration"].dtype) == "timedelta64[ns]"
    )


def test_agent_names_label_every_session(demo_emu: Emulator, demo_client: sk.Client) -> None:
    got = sk.load_sessions(demo_client, progress=False)
    assert str(got["agent"].dtype) == "category"
    assert got["agent"].notna().all()
    ds = demo_emu.dataset
    for sid, name in got[["id", "agent"]].sample(40, random_state=1).itertuples(index=False):
        agents = ds.detail(ds.position(sid), demo_emu.now())["agents"]
        assert name in {a["name"] for a in agents}


def test_details_loaders_match_the_detail_endpoint(
    demo_emu: Emulator, demo_client: sk.Client
) -> None:
    sessions = sk.load_sessions(demo_client, limit=60, progress=False, agent_names=False)
    ds, now = demo_emu.dataset, demo_emu.now()
    details = {sid: ds.detail(ds.position(sid), now) for sid in sessions["id"]}

    runs = sk.load_eval_runs(sessions, demo_client, progress=False)
    assert sorted(runs["id"]) == sorted(r["id"] for d in details.values() for r in d["eval_runs"])
    assert str(runs["score"].dtype) == "Float64" and str(runs["passed"].dtype) == "boolean"

    agents = sk.load_agents(sessions["id"], demo_client, progress=False)
    assert len(agents) == sum(len(d["agents"]) for d in details.values())
    assert set(agents["session_id"]) <= set(sessions["id"])

    spans = sk.load_spans(list(sessions["id"]), demo_client, progress=False)
    expected_nodes = 0
    for d in details.values():
        stack = [d["session"].get("timeline")] if d["session"].get("timeline") else []
        while stack:
            node = stack.pop()
            expected_nodes += 1
            stack.extend(node.get("children") or [])
    assert len(spans) == expected_nodes > 0
    roots = spans[spans["depth"] == 0]
    with_timeline = [sid for sid, d in details.items() if d["session"].get("timeline")]
    assert sorted(roots["session_id"]) == sorted(with_timeline)
    assert (spans["self_duration"] >= pd.Timedelta(0)).all()


def test_logs_loader(demo_emu: Emulator, demo_client: sk.Client) -> None:
    sessions = sk.load_sessions(
        demo_client, limit=40, success=False, progress=False, agent_names=False
    )
    logs = sk.load_logs(sessions, demo_client, progress=False)
    ds, now = demo_emu.dataset, demo_emu.now()
    expected = sum(len(ds.logs(ds.position(s), now)) for s in sessions["id"])
    assert len(logs) == expected > 0
    assert logs["severity"].cat.ordered and (logs["severity"] >= "ERROR").any()
    assert logs.groupby("session_id")["timestamp"].apply(lambda s: s.is_monotonic_increasing).all()


def test_load_session_bundles_everything(demo_emu: Emulator, demo_client: sk.Client) -> None:
    failed = sk.load_sessions(demo_client, success=False, progress=False, agent_names=False)
    failed = failed[failed["pending"] == False]  # noqa: E712  (success=false also lists pending sessions)
    detail = sk.load_session(failed["id"].iloc[0], demo_client)
    assert detail.id == failed["id"].iloc[0]
    assert len(detail.session) == 1 and detail.session["success"].iloc[0] == False  # noqa: E712
    assert len(detail.spans) > 0 and len(detail.logs) > 0 and len(detail.agents) > 0
    assert detail.spans["error"].notna().any()
    html = detail._repr_html_()
    assert detail.id in html and "failed" in html
    assert demo_emu.key not in repr(detail) + html


def test_not_found_carries_the_id(demo_client: sk.Client) -> None:
    missing = "sess_" + "0" * 32
    with pytest.raises(sk.NotFoundError) as info:
        sk.load_session(missing, demo_client)
    assert (
        info.value.session_id == missing
        and missing in str(info.value)
        and info.value.status_code == 404
    )
    with pytest.raises(sk.NotFoundError):
        sk.load_logs([missing], demo_client, progress=False)


def test_details_are_fetched_once_per_completed_session(
    faulty: Emulator, small_client: sk.Client
) -> None:
    small_emu = faulty
    small_emu.faults = Faults(multi_region=True)  # so the away sessions cost a 421 hop
    sessions = sk.load_sessions(small_client, limit=30, progress=False, agent_names=False)
    done = sessions[sessions["pending"] == False]  # noqa: E712
    ds = small_emu.dataset
    away = sum(
        ds.columns["region"][ds.position(s)] != "usw" for s in done["id"]
    )  # one 421 hop each
    before = small_client.stats["requests"]
    sk.load_eval_runs(done, small_client, progress=False)
    middle = small_client.stats["requests"]
    sk.load_spans(done, small_client, progress=False)
    sk.load_agents(done, small_client, progress=False)
    assert middle - before == len(done) + away and small_client.stats["requests"] == middle


def test_works_inside_a_running_event_loop(small_client: sk.Client) -> None:
    async def notebook_cell() -> tuple[int, int]:
        assert asyncio.get_running_loop() is not None
        sessions = sk.load_sessions(small_client, progress=False, agent_names=False)
        logs = sk.load_logs(sessions.head(20), small_client, progress=False)
        return len(sessions), len(logs)

    n_sessions, n_logs = asyncio.run(notebook_cell())
    assert n_sessions == 700 and n_logs > 0


def test_connect_demo_announces_itself(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTUITY_SDK_KEY", raising=False)
    client = sk.connect()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "bundled emulator" in out and "AGENTUITY_SDK_KEY" in out
    assert client.backend.startswith("emulator")
    frame = sk.load_sessions(
        limit=5, progress=False, agent_names=False
    )  # client=None → the default
    assert len(frame) == 5
    first, last = client.demo_span or ("", "")
    assert f"{first} to {last}" in out
    with pytest.warns(sk.SessionKitWarning, match=f"the demo dataset spans {first} to {last}"):
        empty = sk.load_sessions(since="2020-01-01T00:00Z", until="2020-02-01T00:00Z")
    assert empty.empty


def test_connect_with_key_is_live_and_never_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTUITY_SDK_KEY", "sk_live_x")
    client = sk.connect()
    assert (
        client.backend == "Agentuity" and client.base_url == "https://catalyst-usw.agentuity.cloud"
    )
    monkeypatch.delenv("AGENTUITY_SDK_KEY")
    with pytest.raises(sk.ConfigurationError):
        sk.connect(demo=False)


def test_metadata_columns_are_flattened(demo_emu: Emulator, demo_client: sk.Client) -> None:
    got = sk.load_sessions(demo_client, limit=500, progress=False, agent_names=False)
    ds = demo_emu.dataset
    meta_cols = [c for c in got.columns if c.startswith("metadata.")]
    assert meta_cols
    for sid, *values in got[["id", *meta_cols]].head(50).itertuples(index=False):
        meta = ds.metadata(ds.position(sid)) or {}
        for col, value in zip(meta_cols, values, strict=True):
            key = col.removeprefix("metadata.")
            if key in meta and not isinstance(meta[key], dict | list):
                assert value == meta[key] or (
                    isinstance(value, str) and value == json.dumps(meta[key])
                ), (sid, key)
            elif "." not in key:
                assert pd.isna(value), (sid, key)
    assert np.all(got["id"].str.startswith("sess_"))


def test_cached_details_belong_to_their_client_alone(demo_emu: Emulator) -> None:
    """A detail cached for one client is never served to another, even one created at the
    same address after the first was freed (CPython reuses ids)."""
    import gc

    from sessionkit.loaders import _details

    sid = truth_frame(demo_emu)["id"].iloc[0]
    served = []
    for _ in range(5):
        client = make_client(demo_emu)
        sk.load_details([sid], client, progress=False)
        served.append(client.stats["requests"])
        client.close()
        del client
        gc.collect()
    assert served == [1] * 5  # every new client fetched: no cache entry outlived its client
    assert len(_details._per_client) == 0


class _RoundingServer(httpx.BaseTransport):
    """Real HTTP to the emulator, but ``startAfter``/``startBefore`` are rounded to whole
    milliseconds (as a server storing milliseconds would), the way that loses most."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        for key, how in (("startAfter", "ceil"), ("startBefore", "floor")):
            if key in params:
                stamp = getattr(pd.Timestamp(params[key]), how)("ms")
                params[key] = stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        request.url = request.url.copy_with(params=params)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_window_bounds_are_exact_even_when_the_server_rounds_them(demo_emu: Emulator) -> None:
    truth = truth_frame(demo_emu)
    starts = truth["start_time"].sort_values(ignore_index=True)
    since, until = starts.iloc[500], starts.iloc[900]
    # since is exactly a session's start: the old "since - 1 ns" bound, rounded up to the
    # millisecond by this server and read as exclusive, lost that session
    want = truth[(truth["start_time"] >= since) & (truth["start_time"] < until)]
    with make_client(demo_emu, transport=_RoundingServer()) as client:
        got = sk.load_sessions(client, since=since, until=until, progress=False)
        assert sorted(got["id"]) == sorted(want["id"])  # since inclusive, until exclusive
        top = sk.load_sessions(client, since=since, until=until, limit=50, progress=False)
    assert top["id"].tolist() == got["id"].head(50).tolist()


def test_details_shows_what_it_holds(demo_client: sk.Client) -> None:
    sessions = sk.load_sessions(demo_client, limit=5, progress=False)
    details = sk.load_details(sessions, demo_client, progress=False)
    text = repr(details)
    assert text.startswith("Details(sessions=5, eval_runs=") and "spans=" in text
    assert "DataFrame" not in text and len(text) < 200
    html = details._repr_html_()
    assert "Details of 5 sessions" in html and f"{len(details.spans):,} rows" in html
