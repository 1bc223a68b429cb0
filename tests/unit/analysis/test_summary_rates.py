"""A rate is rounded once, where it is shown: summary_by_agent keeps the exact ratio, so the
demo command and the report print the same figure (they printed 5.1% and 5.2% for 25 of 485)."""

from __future__ import annotations

import pandas as pd

from sessionkit.analysis import summary_by_agent
from sessionkit.display import format_rate, readable


def test_the_failure_rate_is_exact_and_shown_rounded_once() -> None:
    n, failed = 485, 25
    frame = pd.DataFrame(
        {
            "agent": pd.Categorical(["a"] * n),
            "pending": pd.array([False] * n, dtype="boolean"),
            "success": pd.array([False] * failed + [True] * (n - failed), dtype="boolean"),
            "total_cost": [0.01] * n,
            "duration": pd.to_timedelta([1.0] * n, unit="s"),
        }
    )
    table = summary_by_agent(frame)
    assert table["failure_rate"].iloc[0] == failed / n
    assert format_rate(table["failure_rate"].iloc[0]) == "5.2%"
    assert readable(table)["failure_rate"].iloc[0] == "5.2%"
