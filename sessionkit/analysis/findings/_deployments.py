"""The deployment detector: each deployment of each agent against the one before it —
:func:`sessionkit.analysis.detect_changes` for failure rate, cost and latency, and the same
comparison for every eval's pass rate. A deployment is a known moment, so nothing is scanned:
one test per deployment and metric."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import xlogy

from ..changes import detect_changes
from ._observe import Table
from ._scan import MIN_SIDE, log10_exact, log10_sf

#: detect_changes' metrics → the family of finding they make.
_FAMILIES = {
    "failure_rate": "failure",
    "cost_per_session": "cost",
    "p50_duration": "latency",
    "p95_duration": "latency",
}


def deployment_candidates(
    sessions: pd.DataFrame, ok: np.ndarray, scope: str
) -> list[dict[str, Any]]:
    """Candidates of every deployment that got worse than the previous one (one-sided p-value
    from :func:`detect_changes`' two-sided one). ``ok``: which of ``sessions`` succeeded —
    latency is compared on those only, so a failure incident does not show twice."""
    if "deployment_id" not in sessions.columns or "agent" not in sessions.columns:
        return []
    parts = [
        detect_changes(
            sessions, metrics=("failure_rate", "cost_per_session"), min_sessions=MIN_SIDE
        ),
        detect_changes(
            sessions[ok], metrics=("p50_duration", "p95_duration"), min_sessions=MIN_SIDE
        ),
    ]
    out = []
    for changes in parts:
        for row in changes.itertuples(index=False):
            if row.direction != "worse" or not np.isfinite(row.evidence):
                continue
            log10_p = float(log10_sf(np.array([row.evidence]))[0])
            if row.metric == "failure_rate":  # counts are known: the exact test
                k1, k2 = row.before * row.n_before, row.after * row.n_after
                log10_p = log10_exact(k2, row.n_after, k1 + k2, row.n_before + row.n_after)
            out.append(
                {
                    "source": "deployments",
                    "family": _FAMILIES[str(row.metric)],
                    "metric": str(row.metric),
                    "segment": (
                        ("agent", str(row.agent)),
                        ("deployment_id", str(row.deployment_id)),
                    ),
                    "scope": scope,
                    "shape": "deployment",
                    "start_ns": int(pd.Timestamp(row.started).value),
                    "end_ns": None,
                    "z": float(row.evidence),
                    "log10_p": log10_p,
                    "n_in": int(row.n_after),
                    "n_out": int(row.n_before),
                    "previous": str(row.previous),
                    "rate": str(row.metric) == "failure_rate",
                }
            )
    return out


def eval_deployment_candidates(
    evals: Table, sessions: pd.DataFrame, scope: str
) -> list[dict[str, Any]]:
    """Candidates of every deployment after which an eval's pass rate (per eval × agent) fell:
    the binomial likelihood-ratio test of its runs against the previous deployment's."""
    if "deployment_id" not in sessions.columns:
        return []
    deployment = (
        sessions["deployment_id"].astype("string").fillna("").to_numpy(dtype=object)[evals.session]
    )
    metric = next(m for m in evals.metrics if m.name == "pass_rate")
    frame = pd.DataFrame(
        {
            "eval": np.asarray(evals.dims["eval"].astype(str)),
            "agent": np.asarray(evals.dims["agent"].astype(str)),
            "deployment": deployment,
            "t": evals.t,
            "bad": metric.score,
        }
    )
    frame = frame[frame["deployment"] != ""]
    stats = (
        frame.groupby(["eval", "agent", "deployment"], sort=False)
        .agg(n=("bad", "size"), k=("bad", "sum"), started=("t", "min"))
        .reset_index()
        .sort_values(["eval", "agent", "started"], kind="stable")
    )
    stats = stats[stats["n"] >= MIN_SIDE]
    out = []
    for (name, agent), group in stats.groupby(["eval", "agent"], sort=False):
        rows = group.to_dict("records")
        for before, after in pairwise(rows):
            z = _signed_lr(before["k"], before["n"], after["k"], after["n"])
            if z <= 0:
                continue
            out.append(
                {
                    "source": "deployments",
                    "family": "eval",
                    "metric": "pass_rate",
                    "segment": (
                        ("eval", str(name)),
                        ("agent", str(agent)),
                        ("deployment_id", str(after["deployment"])),
                    ),
                    "scope": scope,
                    "shape": "deployment",
                    "start_ns": int(after["started"]),
                    "end_ns": None,
                    "z": z,
                    "log10_p": log10_exact(
                        after["k"], after["n"], before["k"] + after["k"], before["n"] + after["n"]
                    ),
                    "n_in": int(after["n"]),
                    "n_out": int(before["n"]),
                    "previous": str(before["deployment"]),
                    "rate": True,
                    "table": evals,
                    "metric_ref": metric,
                }
            )
    return out


def _signed_lr(k1: float, n1: float, k2: float, n2: float) -> float:
    """Signed root of the binomial likelihood-ratio statistic, positive when the second rate
    is higher."""
    p1, p2, p = k1 / n1, k2 / n2, (k1 + k2) / (n1 + n2)
    lr = 2 * float(
        xlogy(k1, p1)
        + xlogy(n1 - k1, 1 - p1)
        + xlogy(k2, p2)
        + xlogy(n2 - k2, 1 - p2)
        - xlogy(k1 + k2, p)
        - xlogy(n1 + n2 - k1 - k2, 1 - p)
    )
    return float(np.sign(p2 - p1) * np.sqrt(max(lr, 0.0)))
