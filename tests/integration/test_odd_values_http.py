"""Valid-but-odd wire values, served over loopback HTTP by the emulator's raw answers: read
exactly, or reported — never silently changed (#15 item 21). Both roads (raw pages parsed by
Arrow, records parsed in Python) must agree."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import orjson
import pandas as pd
import pytest

from sessionkit import frames, jsonparse
from sessionkit.emulator import Emulator
from tests.conftest import make_client


@pytest.fixture
def served(small_emu: Emulator) -> Iterator[Emulator]:
    yield small_emu
    small_emu.raw_answers.clear()


def _load(
    emu: Emulator, records: list[dict[str, object]], literal: dict[str, bytes] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    body = orjson.dumps({"success": True, "data": records})
    for marker, text in (literal or {}).items():
        body = body.replace(f'"{marker}"'.encode(), text)
    emu.raw_answers["/session"] = body
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with make_client(emu, max_retries=0) as client:
            page = client.list_sessions_page(limit=100)
        paged = frames.sessions_frame_from_pages([page.body])
        by_records = frames.sessions_frame(jsonparse.loads(page.body)["data"])
    pd.testing.assert_frame_equal(paged, by_records)
    return paged, [str(w.message) for w in caught]


def _rows(emu: Emulator, n: int) -> list[dict[str, object]]:
    return [dict(r) for r in emu.dataset.render_sessions(list(range(n)), emu.now())]


def test_lower_case_t_and_z_read_like_upper_case(served: Emulator) -> None:
    rows = _rows(served, 3)
    rows[0]["start_time"] = "2026-03-01t10:20:30.123456789z"
    rows[1]["created_at"] = "2026-03-01t10:20:30+02:00"
    frame, said = _load(served, rows)
    assert frame["start_time"].iloc[0] == pd.Timestamp("2026-03-01T10:20:30.123456789Z")
    assert frame["created_at"].iloc[1] == pd.Timestamp("2026-03-01T08:20:30Z")
    assert not [m for m in said if "start_time" in m or "created_at" in m]


def test_a_leap_second_reads_as_the_next_instant(served: Emulator) -> None:
    rows = _rows(served, 2)
    rows[0]["end_time"] = "2016-12-31T23:59:60.25Z"
    rows[1]["end_time"] = "2016-12-31T23:59:60Z"
    frame, said = _load(served, rows)
    assert frame["end_time"].iloc[0] == pd.Timestamp("2017-01-01T00:00:00.25Z")
    assert frame["end_time"].iloc[1] == pd.Timestamp("2017-01-01T00:00:00Z")
    assert not [m for m in said if "end_time" in m]


def test_the_int64_minimum_as_nanoseconds_is_reported_not_turned_silently_into_nat(
    served: Emulator,
) -> None:
    rows = _rows(served, 3)
    rows[1]["cpu_time"] = -(2**63)
    frame, said = _load(served, rows)
    assert frame["cpu_time"].isna().tolist() == [False, True, False]
    assert any("cpu_time: 1 value(s)" in m and "-2**63" in m for m in said)


def test_a_number_past_a_double_is_kept_as_inf_and_said(served: Emulator) -> None:
    rows = _rows(served, 3)
    rows[2]["total_cost"] = "@BIG@"
    frame, said = _load(served, rows, {"@BIG@": b"1e400"})
    assert frame["total_cost"].iloc[2] == float("inf")
    assert any("total_cost: 1 value(s) are infinite" in m for m in said)
