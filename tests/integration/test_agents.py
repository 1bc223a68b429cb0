"""``agent=`` as a user types it: a name, a stable id or a deployment id, over real HTTP.

Written from the user's side: the frame's ``agent`` column holds names, so a name is what a user
passes; every one of the agent's sessions must come back (nested calls included), an unknown
name must say which names exist, and a session deleted between list and get must not kill the
load. The reference is the emulator's own truth (its detail objects name every agent).
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import httpx
import pandas as pd
import pytest

import sessionkit as sk
from sessionkit.agents import UnknownAgentError
from sessionkit.emulator import Emulator
from sessionkit.store import Store
from tests.conftest import CANARY_KEY, make_client, truth_frame


def _stable_ids_by_name(emu: Emulator) -> dict[str, str]:
    """name → stable id, from the emulator's detail objects (the truth, not sessionkit)."""
    ds, now = emu.dataset, emu.now()
    out: dict[str, str] = {}
    for position in range(0, len(ds), max(1, len(ds) // 300)):
        for agent in ds.detail(position, now)["agents"]:
            out.setdefault(agent["name"], agent["identifier"])
    return out


def test_agent_by_name_returns_every_session_of_that_agent(
    demo_emu: Emulator, demo_client: sk.Client
) -> None:
    truth = truth_frame(demo_emu)
    stable = _stable_ids_by_name(demo_emu)
    assert len(stable) >= 5
    for name, stable_id in stable.items():
        want = truth.loc[truth["agent_ids"].map(lambda ids, s=stable_id: s in ids), "id"]
        got = sk.load_sessions(demo_client, agent=name, progress=False)
        assert sorted(got["id"]) == sorted(want), name
        assert len(got) > 0
        by_id = sk.load_sessions(demo_client, agent=stable_id, progress=False)
        pd.testing.assert_frame_equal(got, by_id)
        # a per-deployment id of the agent finds all of them too, not just that deployment's
        # (one of its own deployments': of a session it ran itself, agentid_ then agent_ first;
        # the first agentid_ of a session it was called in is its caller's)
        deployment = next(ids[0] for ids in got["agent_ids"] if list(ids[1:2]) == [stable_id])
        assert deployment.startswith("agentid_")
        assert sorted(
            sk.load_sessions(demo_client, agent=deployment, progress=False)["id"]
        ) == sorted(want)


def test_agent_filter_by_name_is_not_the_first_id_subset(
    demo_emu: Emulator, demo_client: sk.Client
) -> None:
    """The issue's trap: filtering on the first agent_ids element gives a plausible subset."""
    frame = sk.load_sessions(demo_client, progress=False)
    name = frame["agent"].value_counts().index[0]
    first_ids = frame.loc[frame["agent"] == name, "agent_ids"].map(lambda ids: ids[0])
    subset = sk.load_sessions(demo_client, agent=first_ids.iloc[0], progress=False)
    whole = sk.load_sessions(demo_client, agent=name, progress=False)
    assert set(subset["id"]) <= set(whole["id"])
    assert len(whole) >= (frame["agent"] == name).sum()


def test_agent_id_column_is_the_stable_id(demo_emu: Emulator, demo_client: sk.Client) -> None:
    frame = sk.load_sessions(demo_client, progress=False)
    assert str(frame["agent_id"].dtype) == "category"
    assert list(frame.columns).index("agent_id") == list(frame.columns).index("agent") + 1
    stable = _stable_ids_by_name(demo_emu)
    assert frame["agent_id"].notna().all()
    for name, agent_id in frame[["agent", "agent_id"]].drop_duplicates().itertuples(index=False):
        assert stable[name] == agent_id
    # sessions of one agent can be grouped by the plain column
    assert frame.groupby("agent_id", observed=True)["agent"].nunique().eq(1).all()


def test_unknown_agent_name_raises_listing_the_known_names(
    demo_emu: Emulator, demo_client: sk.Client
) -> None:
    stable = _stable_ids_by_name(demo_emu)
    with pytest.raises(UnknownAgentError) as info:
        sk.load_sessions(demo_client, agent="no-such-agent", progress=False)
    message = str(info.value)
    assert "no-such-agent" in message
    for name in stable:
        assert repr(name) in message
    assert set(info.value.known) == set(stable)
    assert isinstance(info.value, sk.SessionKitError)


def test_filters_matching_nothing_warn_naming_the_values_that_exist(
    demo_client: sk.Client,
) -> None:
    with pytest.warns(sk.SessionKitWarning, match=r"env='prod'.*'production'"):
        frame = sk.load_sessions(demo_client, env="prod", progress=False)
    assert frame.empty
    with pytest.warns(sk.SessionKitWarning, match="whole value exactly"):
        sk.load_sessions(demo_client, metadata={"no_such_key": {"x": 1}}, progress=False)


class _Gone(httpx.BaseTransport):
    """Real HTTP to the emulator, except that the listed sessions' details answer 404 (deleted
    between the list and the get)."""

    def __init__(self, gone: set[str]) -> None:
        self.inner = httpx.HTTPTransport()
        self.gone = gone
        self.refused = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        match = re.fullmatch(r"/session/(sess_[0-9a-f]+)", request.url.path)
        if match and match.group(1) in self.gone:
            self.refused += 1
            return httpx.Response(404, json={"success": False, "message": "session not found"})
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_404_during_agent_naming_degrades_instead_of_failing() -> None:
    with Emulator(sessions=600, seed=4, key=CANARY_KEY) as emu:
        with make_client(emu) as plain:
            order = sk.load_sessions(plain, agent_names=False, progress=False)["id"]
        # the newest sessions are the ones the naming step looks up first
        transport = _Gone(set(order.head(60)))
        with make_client(emu, transport=transport) as client:
            frame = sk.load_sessions(client, progress=False)
        assert transport.refused > 0
        assert frame["agent"].notna().all()  # another session of each agent named it
        assert len(frame) == len(order)


def test_an_agent_whose_every_session_is_gone_is_left_unnamed_with_a_warning() -> None:
    with Emulator(sessions=600, seed=4, key=CANARY_KEY) as emu:
        with make_client(emu) as plain:
            named = sk.load_sessions(plain, progress=False)
        counts = named["agent"].value_counts()
        # an agent that never runs nested inside another one (its sessions name only it)
        nested = named["agent_ids"].map(len) > 2
        lonely = next(n for n in counts.index if not nested[named["agent"] == n].any())
        ids = named.loc[named["agent"] == lonely, "agent_ids"]
        gone = set(named.loc[named["agent_ids"].map(lambda a: a[0] in {i[0] for i in ids}), "id"])
        gone |= set(named.loc[named["agent"] == lonely, "id"])
        transport = _Gone(gone)
        with (
            make_client(emu, transport=transport) as client,
            pytest.warns(sk.SchemaWarning, match=r"could not be named \(.*gone \(404\)"),
        ):
            frame = sk.load_sessions(client, progress=False)
        assert len(frame) == len(named)
        lost = frame.set_index("id").loc[list(gone), "agent"]
        assert lost.isna().all()
        others = frame[~frame["id"].isin(gone)]
        assert others["agent"].notna().all()
        assert frame["agent_id"].notna().all()  # the stable id needs no lookup


def test_store_filter_by_name_equals_the_api(tmp_path: Path, demo_client: sk.Client) -> None:
    store = Store(tmp_path / "store")
    store.sync(demo_client, progress=False)
    api = sk.load_sessions(demo_client, agent="doc-extractor", progress=False)
    local = sk.load_sessions(store=store, agent="doc-extractor")
    assert sorted(local["id"]) == sorted(api["id"]) and len(api) > 0
    with pytest.raises(UnknownAgentError, match="'doc-extractor'"):
        store.load_sessions(agent="doc-extractr")


def test_sync_by_agent_name_stores_that_agents_sessions(
    tmp_path: Path, demo_client: sk.Client
) -> None:
    store = Store(tmp_path / "one-agent")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = store.sync(demo_client, agent="doc-extractor", progress=False)
    want = sk.load_sessions(demo_client, agent="doc-extractor", progress=False)
    assert result.new == len(want) > 0
    assert sorted(store.load_sessions(agent="doc-extractor")["id"]) == sorted(want["id"])
    with pytest.warns(sk.SessionKitWarning, match="may be partial"):  # the rest was not synced
        assert sorted(store.load_sessions()["id"]) == sorted(want["id"])


def test_report_cli_by_agent_name(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "sessionkit"), "report", "--demo", "--agent", "doc-extractor",
         "--details", "20", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "doc-extractor" in out.read_text()
    bad = subprocess.run(
        [str(Path(sys.executable).parent / "sessionkit"), "report", "--demo", "--agent", "nobody",
         "--out", str(tmp_path / "x.html")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode != 0
    assert "nobody" in bad.stderr and "doc-extractor" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert not (tmp_path / "x.html").exists()


def test_two_agent_loads_concatenate_into_the_whole_project(
    demo_client: sk.Client, tmp_path: Path
) -> None:
    """Loads by agent carry the metadata keys their rows carry (documented); stacked with
    ``sk.concat``, the API's and the store's loads of two agents equal one load of both, dtype
    for dtype (``pd.concat`` would turn the per-load categories into strings)."""
    names = ("support-triage", "doc-extractor")  # their metadata keys differ
    store = Store(tmp_path / "s")
    store.sync(demo_client, progress=False)
    for load in (
        lambda **f: sk.load_sessions(demo_client, progress=False, **f),
        lambda **f: store.load_sessions(**f),
    ):
        parts = [load(agent=name) for name in names]
        assert set(parts[0].columns) != set(parts[1].columns)
        both = load()
        both = both[both["id"].isin(pd.concat(parts)["id"])]
        assert pd.concat(parts)["trigger"].dtype != "category"  # why sk.concat exists
        joined = sk.concat(parts).drop_duplicates("id")
        joined = joined.sort_values("id", ignore_index=True)[both.columns]
        both = both.sort_values("id", ignore_index=True)
        for name in both.select_dtypes("category"):  # categories are the values a load holds
            both[name] = both[name].cat.remove_unused_categories()
        pd.testing.assert_frame_equal(joined, both)


def test_a_valid_name_with_filters_selecting_nothing_is_an_empty_load_not_unknown(
    demo_emu: Emulator,
) -> None:
    """Found by a new user: agent='support-triage' with a window after the data raised
    'matches no agent ... the agents there are: none' in a fresh process (and listed names
    from earlier queries in a warm one)."""
    client = make_client(demo_emu)  # fresh: nothing learned yet
    with pytest.warns(sk.SessionKitWarning, match="No sessions match"):
        empty = sk.load_sessions(client, agent="support-triage", since="2026-12-01", progress=False)
    assert empty.empty
    with pytest.warns(sk.SessionKitWarning, match="No sessions match"):
        sk.load_sessions(client, agent="support-triage", trigger="cron", progress=False)
    fresh = make_client(demo_emu)
    with pytest.raises(UnknownAgentError, match="in this project") as info:
        sk.load_sessions(fresh, agent="nobody", trigger="cron", progress=False)
    assert set(info.value.known) == set(_stable_ids_by_name(demo_emu))  # all, not cron's one
