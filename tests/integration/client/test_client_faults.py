"""Retries and errors over real HTTP: every fault knob of the emulator, no row lost or duplicated."""

from __future__ import annotations

import logging
import re
import time
import warnings
from pathlib import Path

import httpx
import pandas as pd
import pytest

import sessionkit as sk
from sessionkit.emulator import Emulator, Faults
from tests.conftest import CANARY_KEY, by_id, make_client, truth_frame

FAULT_KNOBS = {
    "rate_429": Faults(rate_429=0.3, retry_after=0.01),
    "rate_409": Faults(rate_409=0.3, retry_after=0.01),
    "rate_5xx": Faults(rate_5xx=0.3),
    "rate_drop": Faults(rate_drop=0.3),
    "rate_truncate": Faults(rate_truncate=0.3),
    "rate_false200": Faults(rate_false200=0.3),
    "rate_slow": Faults(rate_slow=0.35, slow_seconds=2.0),
    "mix": Faults.mix(0.3, seed=5),
}


@pytest.mark.parametrize("knob", list(FAULT_KNOBS))
def test_walk_under_faults_equals_fault_free_walk(faulty: Emulator, knob: str) -> None:
    clean = sk.load_sessions(make_client(faulty), progress=False, agent_names=False)
    faulty.faults = FAULT_KNOBS[knob]
    client = make_client(faulty, timeout=1.0, retry_budget=60.0, max_retries=15)
    got = sk.load_sessions(client, progress=False, agent_names=False)
    pd.testing.assert_frame_equal(got, clean)
    assert client.stats["retries"] > 0, "no fault reached the client: the test proves nothing"


def test_fan_out_under_faults_equals_fault_free(faulty: Emulator) -> None:
    ids = list(truth_frame(faulty)["id"].head(60))
    clean_logs = sk.load_logs(ids, make_client(faulty), progress=False)
    clean_spans = sk.load_spans(ids, make_client(faulty), progress=False)
    faulty.faults = Faults.mix(0.3, seed=9)
    client = make_client(faulty, timeout=1.0, max_retries=15)
    pd.testing.assert_frame_equal(sk.load_logs(ids, client, progress=False), clean_logs)
    pd.testing.assert_frame_equal(sk.load_spans(ids, client, progress=False), clean_spans)
    assert client.stats["retries"] > 0


def test_low_page_cap_loses_nothing(faulty: Emulator) -> None:
    faulty.faults = Faults(page_cap=7)
    client = make_client(faulty)
    got = sk.load_sessions(client, progress=False, agent_names=False)
    pd.testing.assert_frame_equal(by_id(got), by_id(truth_frame(faulty)))
    assert got["created_at"].is_monotonic_decreasing


def test_page_cap_with_a_user_limit(faulty: Emulator) -> None:
    faulty.faults = Faults(page_cap=9)
    got = sk.load_sessions(make_client(faulty), limit=95, progress=False, agent_names=False)
    faulty.faults = Faults()
    want = sk.load_sessions(make_client(faulty), limit=95, progress=False, agent_names=False)
    assert got["id"].tolist() == want["id"].tolist()


def test_rate_limit_outlasting_the_budget(faulty: Emulator) -> None:
    faulty.faults = Faults(rate_429=1.0, retry_after=0.05)
    client = make_client(faulty, max_retries=3, retry_budget=5)
    with pytest.raises(sk.RateLimitError) as info:
        sk.load_sessions(client, progress=False, agent_names=False)
    error = info.value
    assert error.status_code == 429 and error.retry_after is not None
    assert "gave up after 4 attempt(s)" in str(error) and "concurrency" in str(error)
    assert "/session" in str(error)


def test_server_errors_outlasting_the_budget(faulty: Emulator) -> None:
    faulty.faults = Faults(rate_5xx=1.0)
    with pytest.raises(sk.ServerError) as info:
        sk.load_sessions(make_client(faulty, max_retries=2), progress=False, agent_names=False)
    assert info.value.status_code in (502, 503) and "Try again later" in str(info.value)


def test_dropped_connections_outlasting_the_budget(faulty: Emulator) -> None:
    faulty.faults = Faults(rate_drop=1.0)
    with pytest.raises(sk.APIConnectionError, match="Connection failed"):
        sk.load_sessions(make_client(faulty, max_retries=2), progress=False, agent_names=False)


def test_timeout(faulty: Emulator) -> None:
    faulty.faults = Faults(rate_slow=1.0, slow_seconds=2.0)
    t0 = time.monotonic()
    with pytest.raises(sk.APITimeoutError, match=r"No answer within 0\.3 s"):
        sk.load_sessions(
            make_client(faulty, timeout=0.3, max_retries=1), progress=False, agent_names=False
        )
    assert time.monotonic() - t0 < 10


def test_success_false_at_200(faulty: Emulator) -> None:
    faulty.faults = Faults(rate_false200=1.0)
    with pytest.raises(sk.BadResponseError, match="success: false"):
        sk.load_sessions(make_client(faulty, max_retries=1), progress=False, agent_names=False)


def test_fan_out_failure_says_how_much_was_fetched(faulty: Emulator) -> None:
    ids = [*list(truth_frame(faulty)["id"].head(10)), "sess_" + "f" * 32]
    with pytest.raises(sk.NotFoundError) as info:
        sk.load_logs(ids, make_client(faulty, concurrency=1), progress=False)
    assert info.value.fetched == "10 of 11 session logs had been fetched"
    assert "Fetched before the failure: 10 of 11" in str(info.value)


def test_wrong_key_is_an_authentication_error_without_the_key(small_emu: Emulator) -> None:
    wrong = "sk_wrong_" + "7" * 24
    client = sk.Client(wrong, base_url=small_emu.catalyst_url, logs_base_url=small_emu.api_url)
    with pytest.raises(sk.AuthenticationError) as info:
        sk.load_sessions(client, progress=False, agent_names=False)
    assert info.value.status_code == 401 and "AGENTUITY_SDK_KEY" in str(info.value)
    assert wrong not in str(info.value) and wrong not in repr(info.value)
    assert small_emu.stats["requests"] > 0


def test_server_validation_error_names_the_parameter(small_client: sk.Client) -> None:
    with pytest.raises(sk.BadRequestError) as info:
        small_client.list_sessions_page({"trigger": "pigeon"})
    assert info.value.status_code == 400 and "trigger" in str(info.value)


def test_region_redirect_is_followed_once(faulty: Emulator, small_client: sk.Client) -> None:
    small_emu = faulty
    small_emu.faults = Faults(multi_region=True)  # 421s are opt-in
    ds = small_emu.dataset
    regions = ds.columns["region"]
    away = [i for i in range(len(ds)) if regions[i] != "usw"]
    assert away, "the dataset has no session outside the home region"
    session_id = str(ds.columns["id"][away[0]])
    detail = small_client.get_session(session_id)
    assert detail["session"]["id"] == session_id
    plain = httpx.get(
        f"{small_emu.catalyst_url}/session/{session_id}",
        headers={"Authorization": f"Bearer {small_emu.key}"},
    )
    assert plain.status_code == 421 and plain.headers["x-agentuity-region"] == regions[away[0]]


def test_region_redirect_to_nowhere_is_a_clear_error(faulty: Emulator) -> None:
    small_emu = faulty
    small_emu.faults = Faults(multi_region=True)  # 421s are opt-in
    ds = small_emu.dataset
    away = next(i for i in range(len(ds)) if ds.columns["region"][i] != "usw")
    client = sk.Client(
        small_emu.key,
        base_url=small_emu.catalyst_url,
        logs_base_url=small_emu.api_url,
        region_urls={r: small_emu.catalyst_url for r in ("usw", "usc", "use")},
    )
    with pytest.raises(sk.WrongRegionError) as info:
        client.get_session(str(ds.columns["id"][away]))
    assert info.value.region == ds.columns["region"][away] and "region=" in str(info.value)


def test_the_key_never_leaks(faulty: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    faulty.faults = Faults.mix(0.4, seed=2)
    client = make_client(faulty, timeout=1.0, max_retries=1, retry_budget=3)
    texts = [repr(client), client._repr_html_()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for call in (
            lambda: sk.load_sessions(client, progress=False, agent_names=False),
            lambda: sk.load_logs(["sess_" + "e" * 32], client, progress=False),
            lambda: sk.load_session("sess_" + "d" * 32, client),
        ):
            try:
                call()
            except sk.SessionKitError as exc:
                texts += [str(exc), repr(exc), repr(vars(exc))]
    texts += [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert len(texts) > 4
    assert not [t for t in texts if CANARY_KEY in t]


def test_oversized_bodies_are_refused_with_a_clear_error(small_emu: Emulator) -> None:
    client = make_client(small_emu, max_response_bytes=20_000)
    with pytest.raises(sk.ResponseTooLargeError, match="max_response_bytes=20,000"):
        sk.load_sessions(client, progress=False, agent_names=False)
    assert (
        len(sk.load_sessions(make_client(small_emu), limit=5, progress=False, agent_names=False))
        == 5
    )


def test_a_walk_that_fails_says_how_far_it_got(faulty: Emulator) -> None:
    faulty.faults = Faults(rate_5xx=0.25, seed=5)
    client = make_client(faulty, concurrency=1, max_retries=0)
    with pytest.raises(sk.ServerError) as info:
        sk.load_sessions(client, progress=False, agent_names=False)
    fetched = info.value.fetched or ""
    pages, rows = (int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", fetched)[:2])
    assert 0 < pages < 8 and rows == pages * 100, fetched
    assert "sync a Store" in str(info.value)


def test_a_sync_that_fails_says_what_it_saved_and_the_next_one_completes(
    faulty: Emulator, tmp_path: Path
) -> None:
    store = sk.Store(tmp_path / "store")
    faulty.faults = Faults(rate_5xx=0.25, seed=5)
    client = make_client(faulty, concurrency=1, max_retries=0)
    with pytest.raises(sk.ServerError) as info:
        store.sync(client, progress=False)
    assert re.search(r"[\d,]+ page\(s\) read; [\d,]+ new", info.value.fetched or "")
    assert "the next sync() continues" in str(info.value)
    faulty.faults = Faults()
    store.sync(make_client(faulty), progress=False)
    got = store.load_sessions().sort_values("id", ignore_index=True)
    assert got["id"].tolist() == sorted(truth_frame(faulty)["id"])


def test_naming_agents_that_fails_says_the_walk_itself_finished(faulty: Emulator) -> None:
    ids = truth_frame(faulty)["id"]
    faulty.raw_answers.update({f"/session/{sid}": b"<html>oops</html>" for sid in ids})
    try:
        with pytest.raises(sk.BadResponseError) as info:
            sk.load_sessions(make_client(faulty, max_retries=0), progress=False)
    finally:
        faulty.raw_answers.clear()
    fetched = info.value.fetched or ""
    assert fetched.startswith(f"the walk finished ({len(ids):,} sessions); naming their agents")
    assert "agent_names=False" in str(info.value)
