"""Which sessions' details (spans, eval runs) to load for the detectors: a stratified sample in
which every (agent, UTC day) is represented, sized by what the scans need."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...status import done

#: Sessions per (agent, day) taken at least (all of them when a day has fewer): a call or eval
#: change is dated by the days around it, so no day may be missing.
PER_DAY = 8
#: The default number of sessions sampled (more when the strata need more).
BUDGET = 3000
DETAIL_BUDGET = BUDGET


def detail_sample(sessions: pd.DataFrame, *, budget: int | None = None, seed: int = 0) -> pd.Index:
    """The ids of the completed ``sessions`` whose details the detectors should read: every
    (agent, UTC day of ``start_time``) gets :data:`PER_DAY` of its sessions (all when it has
    fewer), and what is left of ``budget`` (default :data:`BUDGET`, raised to cover the
    strata) is shared in proportion to each stratum's size, at random (seeded by ``seed``).

    Returns a string Index of session ids (empty when no session completed)."""
    data = sessions[done(sessions).to_numpy() & sessions["start_time"].notna().to_numpy()]
    if not len(data):
        return pd.Index([], dtype="string")
    agent = (
        data["agent"].astype("string").fillna("(none)")
        if "agent" in data.columns
        else pd.Series("(none)", index=data.index, dtype="string")
    )
    day = data["start_time"].dt.floor("D")
    codes = pd.MultiIndex.from_arrays([agent.to_numpy(), day.to_numpy()]).factorize()[0]
    sizes = np.bincount(codes)
    floor = np.minimum(sizes, PER_DAY)
    total = max(int(budget if budget is not None else BUDGET), int(floor.sum()))
    extra = total - int(floor.sum())
    room = sizes - floor
    exact = extra * room / max(int(room.sum()), 1)
    share = np.minimum(room, np.floor(exact)).astype(np.int64)
    left = min(extra, int(room.sum())) - int(share.sum())  # largest remainders first
    if left > 0:
        open_ = np.flatnonzero(share < room)
        order = open_[np.argsort(-(exact[open_] - np.floor(exact[open_])), kind="stable")]
        share[order[:left]] += 1
    take = floor + share
    rng = np.random.default_rng(seed)
    key = rng.random(len(data))
    order = np.lexsort((key, codes))  # by stratum, at random within it
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = np.empty(len(data), dtype=np.int64)
    position[order] = np.arange(len(data)) - np.repeat(start, sizes)
    chosen = position < take[codes]
    return pd.Index(data["id"].astype("string").to_numpy()[chosen], dtype="string")
