"""Analysis helpers: pure pandas in, pandas out (no I/O, no plotting)."""

from __future__ import annotations

import pandas as pd

__all__ = ["summary_by_agent"]


def summary_by_agent(sessions: pd.DataFrame, by: str = "agent") -> pd.DataFrame:
    """Per ``by`` group: sessions, completed, failed, failure rate, total and mean cost (USD),
    median duration. Sorted by total cost, largest first."""
    done = sessions["pending"].eq(False)
    failed = done & sessions["success"].eq(False)
    grouped = sessions.assign(_done=done, _failed=failed).groupby(by, observed=True, dropna=False)
    table = pd.DataFrame(
        {
            "sessions": grouped.size(),
            "completed": grouped["_done"].sum(),
            "failed": grouped["_failed"].sum(),
            "total_cost": grouped["total_cost"].sum(),
            "median_duration": grouped["duration"].median(),
        }
    )
    table["failure_rate"] = (
        table["failed"] / table["completed"].where(table["completed"] > 0)
    ).round(4)
    table["cost_per_session"] = table["total_cost"] / table["sessions"]
    columns = [
        "sessions",
        "completed",
        "failed",
        "failure_rate",
        "total_cost",
        "cost_per_session",
        "median_duration",
    ]
    return table[columns].sort_values("total_cost", ascending=False)
