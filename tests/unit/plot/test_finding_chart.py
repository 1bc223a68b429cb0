"""plot.finding_chart: the metric per bucket, the change point and the levels, read from the
artists."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd

from sessionkit import plot
from sessionkit.analysis import find_incidents

T0 = pd.Timestamp("2026-11-01T00:00:00Z")


def _sessions(n: int = 4000, days: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    start = T0 + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, n)), unit="s")
    late = start >= T0 + pd.Timedelta(days=12)
    return pd.DataFrame(
        {
            "id": [f"sess_{i:032x}" for i in range(n)],
            "agent": pd.Categorical(["alpha"] * n),
            "start_time": start.as_unit("ns"),
            "pending": pd.array([False] * n, dtype="boolean"),
            "success": pd.array(rng.random(n) >= np.where(late, 0.3, 0.03), dtype="boolean"),
            "duration": pd.to_timedelta(2 * rng.lognormal(0, 0.5, n), unit="s"),
            "total_cost": 0.01 * rng.lognormal(0, 0.5, n),
        }
    )


def test_the_chart_marks_the_change_and_its_levels() -> None:
    findings = find_incidents(_sessions())
    row = findings.table.iloc[0]
    assert row["kind"] == "failure"
    ax = plot.finding_chart(findings, rank=1)
    series = findings.chart_data(1)
    points = ax.collections[0].get_offsets()
    assert len(points) == len(series)
    np.testing.assert_allclose(points[:, 1], series["value"].to_numpy())
    start = mdates.date2num(row["start"].tz_convert("UTC").tz_localize(None))
    assert any(np.allclose(line.get_xdata(), [start, start]) for line in ax.get_lines())
    levels = [seg for coll in ax.collections[1:] for seg in getattr(coll, "get_segments", list)()]
    heights = {round(float(seg[0][1]), 6) for seg in levels if len(seg)}
    assert round(float(row["before"]), 6) in heights and round(float(row["after"]), 6) in heights
    assert ax.yaxis.get_major_formatter()(0.25, 0) == "25%"
    assert ax.get_title().startswith("1. all sessions: failure rate")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert (
        labels[0] == f"change {row['start']:%b %d %H:%M}"
        and "before" in labels
        and "after" in labels
    )
    assert abs(row["start"] - (T0 + pd.Timedelta(days=12))) <= pd.Timedelta(hours=1)


def test_no_such_finding_is_no_data() -> None:
    findings = find_incidents(_sessions())
    ax = plot.finding_chart(findings, rank=9)
    assert ax.get_title() == "No finding ranked 9"
    assert any(t.get_text() == "No data" for t in ax.texts)
