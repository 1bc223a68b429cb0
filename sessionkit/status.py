"""Session status: the one place that decides whether a session succeeded, failed or is pending.

A session is ``pending`` while ``pending`` is true (the API also sends ``success: false`` for
those, so ``success`` alone would count them as failures); otherwise it ``succeeded`` when
``success`` is true and ``failed`` when it is false. A completed session whose ``success`` is
missing is neither succeeded nor failed: :func:`session_status` shows it as ``failed`` only
when ``success`` is explicitly false, and as missing (``NA``) otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

#: The statuses, in display order.
STATUSES: tuple[str, ...] = ("succeeded", "failed", "pending")


def _flag(sessions: pd.DataFrame, column: str, missing: bool) -> np.ndarray:
    return sessions[column].fillna(missing).to_numpy(dtype=bool)


def done(sessions: pd.DataFrame) -> pd.Series:
    """Completed sessions (``pending`` is False or missing), as a boolean Series."""
    return pd.Series(~_flag(sessions, "pending", False), index=sessions.index)


def succeeded(sessions: pd.DataFrame) -> pd.Series:
    """Completed sessions whose ``success`` is True, as a boolean Series."""
    return done(sessions) & _flag(sessions, "success", False)


def failed(sessions: pd.DataFrame) -> pd.Series:
    """Completed sessions whose ``success`` is False (missing ``success`` is neither)."""
    return done(sessions) & ~_flag(sessions, "success", True)


def session_status(sessions: pd.DataFrame) -> pd.Series:
    """``succeeded`` / ``failed`` / ``pending`` per session, a categorical Series named
    ``status`` (categories :data:`STATUSES`); ``NA`` for a completed session without
    ``success``."""
    status = np.full(len(sessions), None, dtype=object)
    status[succeeded(sessions).to_numpy()] = "succeeded"
    status[failed(sessions).to_numpy()] = "failed"
    status[_flag(sessions, "pending", False)] = "pending"
    return pd.Series(
        pd.Categorical(status, categories=list(STATUSES)), index=sessions.index, name="status"
    )


def status_of(session: pd.Series | Mapping[str, Any]) -> str | None:
    """The status of one session row (a Series or a mapping with ``pending`` and ``success``):
    ``"succeeded"``, ``"failed"``, ``"pending"``, or ``None`` when ``success`` is missing."""
    frame = pd.DataFrame(
        {"pending": [session.get("pending")], "success": [session.get("success")]}
    ).astype({"pending": "boolean", "success": "boolean"})
    value = session_status(frame).iloc[0]
    return None if pd.isna(value) else str(value)
