"""Why did sessions fail, how often: success and failure rates with Wilson intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..status import done, failed, succeeded
from ._common import (
    Z95,
    By,
    group_keys,
    grouped_sum,
)

RELIABILITY_COLUMNS = [
    "sessions",
    "completed",
    "succeeded",
    "failed",
    "pending",
    "success_rate",
    "failure_rate",
    "failure_rate_low",
    "failure_rate_high",
]


def wilson_interval(
    successes: np.ndarray | pd.Series, n: np.ndarray | pd.Series, z: float = Z95
) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of the rate ``successes / n`` (95% with the default ``z``) as
    two float arrays ``(low, high)`` in 0..1; NaN where ``n`` is 0. Unlike ``p ± z·se`` it
    stays inside 0..1 and is honest for small ``n`` (1 of 3 → 0.061..0.792)."""
    k = np.asarray(successes, dtype="float64")
    m = np.asarray(n, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(m > 0, m, np.nan)
        p = k / m
        z2 = z * z
        centre = (p + z2 / (2 * m)) / (1 + z2 / m)
        half = z * np.sqrt(p * (1 - p) / m + z2 / (4 * m * m)) / (1 + z2 / m)
        # The interval always holds p; at p = 0 or 1 rounding can put its end a hair past p
        # (0 of 3 gave a low end of 5.6e-17), so the ends are pinned to p where they cross it.
        low = np.clip(np.fmin(centre - half, p), 0.0, 1.0)
        high = np.clip(np.fmax(centre + half, p), 0.0, 1.0)
    return low, high


def reliability(sessions: pd.DataFrame, by: By = None, *, freq: str | None = None) -> pd.DataFrame:
    """Outcome counts and rates per group (``by``: ``None``, a column or a list; missing keys
    are ``"(none)"``) and per ``bucket`` of ``start_time`` (UTC) when ``freq`` is given.

    Returns the keys, ``sessions``, ``completed`` (not pending), ``succeeded``, ``failed``,
    ``pending`` (counts), ``success_rate`` and ``failure_rate`` (0..1 of completed sessions; NaN
    when none completed) and the 95% Wilson interval of the failure rate,
    ``failure_rate_low``/``failure_rate_high`` (0..1), so that 1 failure in 3 sessions is not
    read as a 33% failure rate. Sorted by the keys.
    """
    is_done = done(sessions)
    values = pd.DataFrame(
        {
            "sessions": np.ones(len(sessions), dtype="int64"),
            "completed": is_done.to_numpy(dtype="int64"),
            "succeeded": succeeded(sessions).to_numpy(dtype="int64"),
            "failed": failed(sessions).to_numpy(dtype="int64"),
            "pending": (~is_done).to_numpy(dtype="int64"),
        },
        index=sessions.index,
    )
    keys = group_keys(sessions, by, freq)
    table = grouped_sum(values, keys, by, freq)
    completed = table["completed"].where(table["completed"] > 0).astype("float64")
    table["success_rate"] = table["succeeded"] / completed
    table["failure_rate"] = table["failed"] / completed
    low, high = wilson_interval(table["failed"], table["completed"])
    table["failure_rate_low"], table["failure_rate_high"] = low, high
    return table.reset_index(drop=True)
