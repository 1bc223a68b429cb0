"""The emulator's vocabulary: deterministic ids and exact RFC 3339 text."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from sessionkit.emulator.catalog import (
    AGENT_DESCRIPTIONS,
    AGENTS,
    EVAL_NAMES,
    EVALS,
    FAMILIES,
    HOSTS,
    MODEL_PRICES,
    NEW_FAMILIES,
    PROFILES,
    TINY_AGENT,
    TRIGGERS,
    deleted_by,
    dev_key,
    field_digits,
    format_rfc3339,
    format_rfc3339_many,
    iso_ns,
    parse_iso,
    route_id,
    row_rng,
    session_id,
    stable_hex,
    thread_id,
)


def test_ids_are_pinned_values_of_seed_and_label() -> None:
    """The committed demo data depends on these: a change of algorithm shows here first."""
    assert stable_hex(7, "org", 27) == "3663d27cec309c3489918005a55"
    assert session_id(7, 0) == "sess_ca8b02e7aa885d9a162faf8d0e3070e1"
    assert thread_id(7, 3) == "thrd_8b503467ba3bf92f5edb7fdf"
    assert route_id(7, 0) == "route_d93449e1d016e49c06fbdfb2"
    assert deleted_by(7) == "user_bb363cdd42d02776f7775ad109f"


def test_ids_depend_on_seed_and_label_and_have_their_lengths() -> None:
    assert stable_hex(7, "a", 100) == stable_hex(7, "a", 100)
    assert len(stable_hex(7, "a", 100)) == 100 and re.fullmatch(
        "[0-9a-f]+", stable_hex(7, "a", 100)
    )
    assert stable_hex(7, "a", 100).startswith(stable_hex(7, "a", 64))  # longer = extended
    assert stable_hex(7, "a", 32) != stable_hex(8, "a", 32) != stable_hex(7, "b", 32)
    assert re.fullmatch(r"sess_[0-9a-f]{32}", session_id(3, 12))
    assert thread_id(7, -1) == ""
    assert dev_key(0, AGENTS[0].name) == "dev0" and dev_key(0, "renamed") == "dev:renamed"


def test_row_rng_is_default_rng_of_seed_key_salt() -> None:
    expected = np.random.default_rng([7, 1667, 2]).random(5)
    assert np.array_equal(row_rng(7, 1667, 2).random(5), expected)
    assert not np.array_equal(row_rng(7, 1667, 3).random(5), expected)


@pytest.mark.parametrize(
    ("ns", "digits", "form", "text"),
    [
        (1_764_244_800_123_456_789, 9, 0, "2025-11-27T12:00:00.123456789Z"),
        (1_764_244_800_123_000_000, 3, 1, "2025-11-27T14:00:00.123+02:00"),
        (1_764_244_800_000_000_000, 0, 2, "2025-11-27T07:00:00-05:00"),
        (1_764_244_800_120_000_000, 2, 3, "2025-11-27T12:00:00.12+00:00"),
        (951_782_400 * 10**9, 1, 2, "2000-02-28T19:00:00.0-05:00"),  # leap year, day before
        (0, 0, 2, "1969-12-31T19:00:00-05:00"),  # before the epoch in local time
    ],
)
def test_format_rfc3339_known_texts(ns: int, digits: int, form: int, text: str) -> None:
    assert format_rfc3339(ns, digits, form) == text
    assert parse_iso(text) == ns
    assert pd.Timestamp(text).value == ns


def test_format_many_is_the_scalar_form_for_every_digit_and_zone() -> None:
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 10, 2000)
    forms = rng.integers(0, 4, 2000)
    ns = rng.integers(0, 4_000_000_000 * 10**9, 2000)
    ns = ns // 10 ** (9 - digits) * 10 ** (9 - digits)
    texts = format_rfc3339_many(ns, digits, forms)
    for t, n, d, f in zip(texts, ns.tolist(), digits.tolist(), forms.tolist(), strict=True):
        frac = re.search(r"\.(\d+)", t)
        assert (len(frac.group(1)) if frac else 0) == d
        assert t.endswith(("Z", "+02:00", "-05:00", "+00:00")[f])
        assert parse_iso(t) == n == pd.Timestamp(t).value
    assert format_rfc3339_many(np.array([], dtype=np.int64), [], []) == []


def test_iso_ns_and_field_digits() -> None:
    assert iso_ns(1_764_244_800_000_000_000) == "2025-11-27T12:00:00.000000000Z"
    digits = np.array([0, 3, 9])
    assert list(field_digits(digits, "created_at")) == [0, 3, 9]
    assert list(field_digits(digits, "end_time")) == [8, 1, 7]  # +len("end_time") mod 10


def test_profiles_are_consistent() -> None:
    assert len(AGENT_DESCRIPTIONS) == len(PROFILES) == len(AGENTS) + 1
    assert PROFILES[-1] is TINY_AGENT and TINY_AGENT.share == 0
    for agent in PROFILES:
        assert set(agent.triggers) <= set(TRIGGERS)
        assert set(agent.families) <= set(FAMILIES) - set(NEW_FAMILIES)  # new ones: planted only
        assert agent.model in MODEL_PRICES
        assert set(EVALS[agent.name]) <= set(EVAL_NAMES)
        assert (agent.host in HOSTS) == bool(agent.host) and 0 <= agent.host_share <= 1
