"""Where does the time go: duration (or CPU time) percentiles per group and period."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..status import done
from ._common import (
    TIMEDELTA,
    By,
    empty_keys,
    group_keys,
    key_names,
    keys_as_text,
    quantile_name,
    subset,
)


def latency_percentiles(
    sessions: pd.DataFrame,
    by: By = None,
    *,
    freq: str | None = None,
    column: str = "duration",
    q: Sequence[float] = (0.5, 0.9, 0.95, 0.99),
) -> pd.DataFrame:
    """Percentiles of ``column`` (``duration`` or ``cpu_time``) over *completed* sessions per
    group (``by``: ``None``, a column or a list; missing keys are ``"(none)"``) and per
    ``bucket`` of ``start_time`` (UTC) when ``freq`` is given.

    Returns the keys, ``count`` (completed sessions with a value) and one ``timedelta64[ns]``
    column per quantile in ``q``, named ``p50``, ``p90``, ``p95``, ``p99`` (``0.999`` →
    ``p99.9``), linearly interpolated. Sorted by the keys.
    """
    names = [quantile_name(x) for x in q]
    data = subset(
        sessions, done(sessions) & sessions[column].notna(), [*key_names(by), column, "start_time"]
    )
    if not len(data):
        return pd.DataFrame(
            {
                **empty_keys(by, freq),
                "count": pd.Series(dtype="int64"),
                **{name: pd.Series(dtype=TIMEDELTA) for name in names},
            }
        )
    nanos = pd.Series(
        data[column].to_numpy(dtype="timedelta64[ns]").view("int64"), index=data.index
    )
    keys = group_keys(data, by, freq)
    if not keys:
        values = nanos.quantile(list(q)).to_numpy() if names else np.array([])
        table = pd.DataFrame([[len(nanos), *values]], columns=["count", *names])
    else:
        grouped = nanos.groupby(keys, observed=True, dropna=False)
        table = grouped.size().rename("count").to_frame()
        if names:
            wide = grouped.quantile(list(q)).unstack(-1)
            wide.columns = names
            table = table.join(wide)
        table = keys_as_text(table.reset_index(), key_names(by))
    for name in names:
        table[name] = pd.to_timedelta(table[name].astype("float64").round(), unit="ns").astype(
            TIMEDELTA
        )
    table["count"] = table["count"].astype("int64")
    return table
