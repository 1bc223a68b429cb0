"""A session's status from its ``pending`` and ``success`` flags: one rule for a frame and for a row."""

from __future__ import annotations

import pandas as pd

from sessionkit.status import session_status, status_of


def test_status_of_and_session_status_agree() -> None:
    frame = pd.DataFrame(
        {
            "pending": pd.array([True, False, False, False, None, True], dtype="boolean"),
            "success": pd.array([False, True, False, None, True, True], dtype="boolean"),
        }
    )
    vector = session_status(frame).astype(object).where(lambda s: s.notna(), None).tolist()
    assert vector == ["pending", "succeeded", "failed", None, "succeeded", "pending"]
    assert [status_of(row) for _, row in frame.iterrows()] == vector
    # numpy booleans (what .iloc on a plain bool column gives) are true values too
    assert status_of(pd.Series({"pending": False, "success": True}, dtype=bool)) == "succeeded"
