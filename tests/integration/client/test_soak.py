"""Soak: long walks and fan-outs with 15% of requests failing, in every way the emulator knows.

Every result must equal the fault-free result exactly: no row lost, repeated or changed. The
full sizes (a 100,000-session walk, a 2,000-session fan-out) run under ``-m soak``
(``make soak``); a 10,000 / 300 variant at the same fault rate runs in the normal suite.

The fault mix is :meth:`Faults.mix` at 15% (429 and 409 with their headers, 502/503 with HTML
or JSON bodies, dropped connections, truncated bodies, ``success: false`` at 200, responses
slower than the client's timeout). Slow responses get a larger share than ``mix``'s default
(1.5% instead of 0.25%) so every run surely meets some, and the client's timeout is 1 s against
the emulator's 3 s stall, so each costs one second. Region redirects (421) are not a fault
kind of the emulator: they come from the data (a fifth of the sessions live outside the home
region, and the soak emulator runs multi-region), so every detail fan-out follows some, and
faults hit the redirected requests too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

import sessionkit as sk
from sessionkit.emulator import Emulator, Faults
from sessionkit.emulator.chaos import KINDS
from sessionkit.loaders import _details
from tests.conftest import CANARY_KEY, by_id, make_client, truth_frame

RATE = 0.15
SLOW_RATE = 0.015


@pytest.fixture(autouse=True)
def _no_cached_details() -> None:
    """Every run fetches its details over HTTP (none come from an earlier client's cache)."""
    _details.clear()


def soak_faults(seed: int) -> Faults:
    """The 15% mix over every fault kind (slow ones 1.5%, stalling 3 s)."""
    faults = Faults.mix(RATE, seed=seed, rate_slow=SLOW_RATE)
    assert all(rate > 0 for rate in faults.rates().values()), "a fault kind is missing"
    assert set(faults.rates()) == set(KINDS)
    return faults


def faulty_client(emu: Emulator, **options: Any) -> sk.Client:
    """A client whose timeout (1 s) is shorter than a slow fault's stall (3 s)."""
    defaults: dict[str, Any] = {"timeout": 1.0, "max_retries": 15, "retry_budget": 120.0}
    defaults.update(options)
    return make_client(emu, **defaults)


@dataclass
class Clean:
    """An emulator and its fault-free results, computed once per size."""

    emu: Emulator
    client: sk.Client  # kept alive: the detail cache is keyed by client identity
    sessions: pd.DataFrame
    ids: list[str]
    details: sk.Details
    logs: pd.DataFrame


SIZES = [
    pytest.param((10_000, 300), id="10k-walk-300-fan-out"),
    pytest.param(
        (100_000, 2_000),
        id="100k-walk-2k-fan-out",
        marks=[pytest.mark.soak, pytest.mark.timeout(1800)],
    ),
]


@pytest.fixture(scope="module", params=SIZES)
def clean(request: pytest.FixtureRequest) -> Iterator[Clean]:
    sessions, fan_out = request.param
    with Emulator(sessions=sessions, seed=21, key=CANARY_KEY, multi_region=True) as emu:
        client = make_client(emu)
        frame = sk.load_sessions(client, progress=False)
        assert len(frame) == sessions and frame["id"].is_unique
        # a spread of ids (not only the newest), so pending and old sessions both appear
        ids = list(frame["id"].iloc[:: max(1, len(frame) // fan_out)].head(fan_out))
        assert len(ids) == fan_out
        details = sk.load_details(ids, client, progress=False)
        logs = sk.load_logs(ids, client, progress=False)
        assert len(details.spans) and len(details.eval_runs) and len(logs)
        yield Clean(emu, client, frame, ids, details, logs)
        client.close()
        emu.faults = Faults()


def _fault_counts(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after.get(f"fault_{k}", 0) - before.get(f"fault_{k}", 0) for k in KINDS}


def _assert_faults_happened(client: sk.Client, floor: float) -> None:
    requests, retries = client.stats["requests"], client.stats["retries"]
    assert retries >= floor * requests, (
        f"only {retries} retries in {requests} requests: the faults did not reach the client"
    )


def test_walk_under_every_fault_kind_equals_the_fault_free_walk(clean: Clean) -> None:
    emu = clean.emu
    emu.faults = soak_faults(seed=101)
    before = emu.stats.snapshot()
    client = faulty_client(emu)
    try:
        got = sk.load_sessions(client, progress=False)
    finally:
        emu.faults = Faults()
    assert got["id"].is_unique, "a session appears twice"
    assert len(got) == len(clean.sessions), "sessions lost or added"
    pd.testing.assert_frame_equal(by_id(got), by_id(clean.sessions))
    # same order too: the walk is sorted by created desc, faults must not reorder it
    assert got["id"].tolist() == clean.sessions["id"].tolist()
    _assert_faults_happened(client, 0.08)
    fired = _fault_counts(before, emu.stats.snapshot())
    assert sum(v for k, v in fired.items() if k != "slow") >= 10, fired
    assert sum(1 for v in fired.values() if v) >= 5, f"too few fault kinds fired: {fired}"


def test_fan_out_under_every_fault_kind_equals_the_fault_free_fan_out(clean: Clean) -> None:
    emu = clean.emu
    emu.faults = soak_faults(seed=202)
    before = emu.stats.snapshot()
    client = faulty_client(emu)
    try:
        details = sk.load_details(clean.ids, client, progress=False)
        logs = sk.load_logs(clean.ids, client, progress=False)
    finally:
        emu.faults = Faults()
    after = emu.stats.snapshot()
    for part in ("sessions", "eval_runs", "spans", "agents", "routes"):
        pd.testing.assert_frame_equal(
            getattr(details, part), getattr(clean.details, part), obj=f"details.{part}"
        )
    assert details.sessions["id"].tolist() == clean.ids
    pd.testing.assert_frame_equal(logs, clean.logs, obj="logs")
    _assert_faults_happened(client, 0.08)
    fired = _fault_counts(before, after)
    assert all(fired.values()), f"a fault kind never fired during the fan-out: {fired}"
    assert after.get("status_421", 0) > before.get("status_421", 0), "no region redirect"
    assert after.get("status_502", 0) + after.get("status_503", 0) > before.get(
        "status_502", 0
    ) + before.get("status_503", 0)


@pytest.mark.parametrize(
    "sessions",
    [
        pytest.param(10_000, id="10k"),
        pytest.param(100_000, id="100k", marks=[pytest.mark.soak, pytest.mark.timeout(1800)]),
    ],
)
def test_walk_under_faults_deletes_and_shuffled_ties_keeps_every_survivor(sessions: int) -> None:
    """The fault mix plus 1-4 hard deletes before every list answer and ties in a new order
    on each request: every session that survives is in the frame once, as it was."""
    faults = soak_faults(seed=303)
    faults.deletes_per_list, faults.shuffle_ties = 4, True
    with Emulator(sessions=sessions, seed=23, key=CANARY_KEY, multi_region=True) as emu:
        before = sk.load_sessions(make_client(emu), progress=False, agent_names=False)
        emu.faults = faults
        client = faulty_client(emu)
        got = sk.load_sessions(client, progress=False, agent_names=False)
        gone = emu.queries.gone
        ids = emu.dataset.columns["id"][: len(emu.dataset)]
        survivors = {str(i) for k, i in enumerate(ids) if not (k < len(gone) and gone[k])}
        deleted = emu.stats["deleted"]
    assert deleted > 50 and got["id"].is_unique
    assert survivors <= set(got["id"]), f"{len(survivors - set(got['id']))} survivors missing"
    kept = before[before["id"].isin(got["id"])]
    pd.testing.assert_frame_equal(by_id(got[got["id"].isin(kept["id"])]), by_id(kept))
    _assert_faults_happened(client, 0.08)


# ------------------------------------------------------------------ faults outlasting retries

EXHAUSTING = {
    "429": (Faults(rate_429=0.5, retry_after=0.01, seed=3), sk.RateLimitError),
    "409": (Faults(rate_409=0.5, retry_after=0.01, seed=3), sk.RateLimitError),
    "5xx": (Faults(rate_5xx=0.5, seed=3), sk.ServerError),
    "drop": (Faults(rate_drop=0.5, seed=3), sk.APIConnectionError),
    "truncate": (Faults(rate_truncate=0.5, seed=3), sk.APIConnectionError),
    "false200": (Faults(rate_false200=0.5, seed=3), sk.BadResponseError),
    "slow": (Faults(rate_slow=0.5, slow_seconds=0.6, seed=3), sk.APITimeoutError),
}


@pytest.mark.parametrize(
    ("kind", "what"),
    [(kind, "session details") for kind in EXHAUSTING]
    + [(kind, "session logs") for kind in ("5xx", "truncate")],
)
def test_a_fan_out_that_outlasts_its_retries_says_what_failed_and_how_much_was_fetched(
    faulty: Emulator, kind: str, what: str
) -> None:
    """test_client_faults covers walks and a 404 in a fan-out; this is a fan-out whose
    transient faults run out the retries, for each kind."""
    ids = list(truth_frame(faulty)["id"].head(120))
    faults, error_class = EXHAUSTING[kind]
    faulty.faults = faults
    client = make_client(faulty, concurrency=1, max_retries=2, timeout=0.2, retry_budget=20)
    load = sk.load_details if what == "session details" else sk.load_logs
    with pytest.raises(sk.APIError) as info:
        load(ids, client, progress=False)
    error = info.value
    assert type(error) is error_class, f"{type(error).__name__} for a {kind} fault"
    text = str(error)
    # what failed: the request and how often it was tried
    assert "gave up after 3 attempt(s)" in text, text
    path = "/logs" if what == "session logs" else "/session/sess_"
    assert error.method == "GET" and error.url and path in error.url, error.url
    assert f"[GET {error.url}]" in text
    # how much had been fetched
    match = re.fullmatch(rf"(\d+) of {len(ids)} {what} had been fetched", error.fetched or "")
    assert match, error.fetched
    assert 0 < int(match.group(1)) < len(ids), error.fetched
    assert f"Fetched before the failure: {error.fetched}" in text
    assert error.hint and error.hint in text
    assert CANARY_KEY not in text and CANARY_KEY not in repr(error)
