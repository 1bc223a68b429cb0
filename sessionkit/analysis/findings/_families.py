"""The new-error-family detector: a failure family (:func:`sessionkit.analysis.error_template`)
that no session had until some moment and several have since.

Evidence: if the family's ``c`` sessions had been spread over the whole period like every
other session, the chance that none fell among the ``f`` share of sessions before its first
one is ``(1 - f) ** c``. A family seen from the start (or in the first tenth of the sessions) is
not new, however often it appears.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..failures import error_template, url_hosts

#: A family is new only when at least this share of the sessions came before it.
MIN_BEFORE = 0.1
#: ... and when at least this many sessions have it.
MIN_COUNT = 3


def family_candidates(
    sessions: pd.DataFrame, times: np.ndarray, is_failed: np.ndarray, scope: str
) -> list[dict[str, Any]]:
    """One candidate per failure family first seen after :data:`MIN_BEFORE` of ``sessions``
    (started at ``times``, ``is_failed`` per session) with at least :data:`MIN_COUNT` sessions:
    its template, first time, agents and hosts, and the evidence above."""
    if "error" not in sessions.columns or not is_failed.any():
        return []
    order = np.argsort(times, kind="stable")
    rank = np.empty(len(times), dtype=np.int64)
    rank[order] = np.arange(len(times))
    rows = np.flatnonzero(is_failed)
    errors = sessions["error"].astype("string").to_numpy(dtype=object, na_value=None)[rows]
    codes, uniques = pd.factorize(pd.Series(errors, dtype=object), use_na_sentinel=True)
    templates = np.array([error_template(str(m)) for m in uniques] + [""], dtype=object)
    family = templates[np.where(codes < 0, len(templates) - 1, codes)]
    total = len(times)
    out = []
    frame = pd.DataFrame({"row": rows, "family": family, "rank": rank[rows]})
    frame = frame[frame["family"] != ""]
    for template, group in frame.groupby("family", sort=True):
        count = len(group)
        first = int(group["rank"].min())
        before = first / total
        if count < MIN_COUNT or before < MIN_BEFORE:
            continue
        members = group["row"].to_numpy()
        agents = (
            sorted(set(sessions["agent"].astype("string").to_numpy(dtype=object, na_value="(none)")[members]))
            if "agent" in sessions.columns
            else []
        )
        hosts = sorted({h for m in errors[np.isin(rows, members)] if m for h in url_hosts(str(m))})
        start = int(times[order[first]])
        out.append(
            {
                "source": "families",
                "family": "new_error_family",
                "metric": "new_error_family",
                "segment": (("error", str(template)),),
                "scope": scope,
                "shape": "new",
                "start_ns": start,
                "end_ns": None,
                "z": float("nan"),
                "log10_p": float(count * np.log10(1 - before)),
                "n_in": int(total - first),
                "n_out": int(first),
                "count": count,
                "agents": agents,
                "hosts": hosts,
                "members": members,
                "rate": True,
            }
        )
    return out
