"""The report's headline figures count sessions by sessionkit.status, the one rule: a
completed session with no `success` is neither a success nor a failure, pending ones are
neither, and a figure with nothing to divide by reads "—", never a made-up number."""

from __future__ import annotations

import pandas as pd

from sessionkit.report._render import _totals


def _frame(success: list[object], pending: list[bool], cost: list[float]) -> pd.DataFrame:
    n = len(success)
    return pd.DataFrame(
        {
            "success": pd.array(success, dtype="boolean"),
            "pending": pd.array(pending, dtype="boolean"),
            "total_cost": cost,
            "duration": pd.to_timedelta([1.0] * n, unit="s"),
        }
    )


def test_unknown_success_is_not_counted_as_a_success() -> None:
    frame = _frame(
        [True, None, None, False, False], [False] * 4 + [True], [1.0, 1.0, 1.0, 1.0, 2.0]
    )
    totals = _totals(frame)
    assert totals["cost per successful session"] == "$6.0000"  # 6 dollars / 1 success
    assert totals["failure rate"] == "50.0%"  # 1 failed of 2 with a known outcome


def test_no_successful_session_shows_a_dash_not_a_division_by_one() -> None:
    frame = _frame([False, False, False], [False, False, True], [1.0, 2.0, 3.0])
    totals = _totals(frame)
    assert totals["cost per successful session"] == "—"
    assert totals["failure rate"] == "100.0%"


def test_nothing_completed_shows_dashes() -> None:
    totals = _totals(_frame([False], [True], [1.0]))
    assert totals["failure rate"] == "—" and totals["p50 / p99 duration"] == "—"
