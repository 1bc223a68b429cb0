"""The new-error-family detector: a failure family (:func:`sessionkit.analysis.error_template`)
that no session had until some moment and several have since.

Evidence: the family's rate once it appeared — its first :data:`RATE_FROM` sessions (or all,
when fewer) over the sessions from its first to that one — gives the chance that it would have
shown in none of the ``N`` sessions before: ``(1 - rate) ** N``. A family that was merely rare
and later grew gets a low rate right after its first showing, so a weak p-value; one that
bursts in gets a strong one. A family seen in the first tenth of the sessions is not new.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..failures import error_template, url_hosts

#: A family is new only when at least this share of the sessions came before it.
MIN_BEFORE = 0.1
#: ... and when at least this many sessions have it.
MIN_COUNT = 4
#: How many of its first sessions date a new family's rate.
RATE_FROM = 10


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
    agent_names = (
        sessions["agent"].astype("string").fillna("(none)").to_numpy(dtype=object)
        if "agent" in sessions.columns
        else np.full(total, "(none)", dtype=object)
    )
    out = []
    frame = pd.DataFrame({"row": rows, "family": family, "rank": rank[rows]})
    frame = frame[frame["family"] != ""]
    for template, group in frame.groupby("family", sort=True):
        count = len(group)
        ranks = np.sort(group["rank"].to_numpy())
        first = int(ranks[0])
        before = first / total
        if count < MIN_COUNT or before < MIN_BEFORE:
            continue
        members = group["row"].to_numpy()
        # its rate once it appeared, among the sessions of the agents it hits (the first
        # showing left out: it is what dates the start, so counting it would inflate the rate)
        hit = np.isin(agent_names, np.unique(agent_names[members]))
        hit_ranks = np.sort(rank[hit])
        first_hit = int(np.searchsorted(hit_ranks, first))
        take = min(count, RATE_FROM)
        last_hit = int(np.searchsorted(hit_ranks, int(ranks[take - 1])))
        rate = (take - 1) / max(last_hit - first_hit, take - 1, 1)
        log10_p = float(first_hit * np.log10(max(1 - rate, 1e-300)))
        agents = (
            sorted(
                set(
                    sessions["agent"]
                    .astype("string")
                    .to_numpy(dtype=object, na_value="(none)")[members]
                )
            )
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
                "log10_p": log10_p,
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
