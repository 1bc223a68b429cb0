"""The change-point detector: every segment × metric of an observation table scanned over time
for the window (a step that stays, a transient that recovers) or the ramp (a slow drift) that
best separates it from the rest (:mod:`._scan`). No deployment is needed: the scan finds when.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._common import NONE
from ._observe import Metric, Table
from ._scan import CONFIDENCE, MIN_SIDE, Windows, log10_exact, ramps, refine, scan


@dataclass(frozen=True)
class Grid:
    """The time bins of an analysis: ``origin`` (ns of bin 0's start), ``width`` (ns) and
    ``bins``; ``windows`` the windows scanned on them."""

    origin: int
    width: int
    bins: int
    windows: Windows

    def bin_of(self, t: np.ndarray) -> np.ndarray:
        """The bin of each time (int64 ns), clipped into the grid."""
        return np.clip((t - self.origin) // self.width, 0, self.bins - 1).astype(np.int64)

    def time_of(self, b: int) -> int:
        """The start (ns) of bin ``b``."""
        return self.origin + int(b) * self.width


def segment_codes(
    table: Table, spec: tuple[str, ...]
) -> tuple[np.ndarray, list[tuple[tuple[str, str], ...]]]:
    """Each row's segment code for the dimension set ``spec`` (-1: a missing value) and the
    segments by code, each a tuple of ``(dimension, value)``."""
    n = len(table.t)
    if not spec:
        return np.zeros(n, dtype=np.int64), [()]
    code = np.zeros(n, dtype=np.int64)
    sizes = [len(table.dims[d].categories) for d in spec]
    bad = np.zeros(n, dtype=bool)
    for d, size in zip(spec, sizes, strict=True):
        cat = table.dims[d]
        c = cat.codes.astype(np.int64)
        names = np.asarray(cat.categories, dtype=object)
        bad |= (c < 0) | (names[np.maximum(c, 0)] == NONE)
        code = code * size + c
    code = np.where(bad, -1, code)
    labels: list[tuple[tuple[str, str], ...]] = []
    total = int(np.prod(sizes))
    cats = [np.asarray(table.dims[d].categories, dtype=object) for d in spec]
    for k in range(total):
        parts = []
        rest = k
        for d, size, names in zip(reversed(spec), reversed(sizes), reversed(cats), strict=True):
            parts.append((d, str(names[rest % size])))
            rest //= size
        labels.append(tuple(reversed(parts)))
    return code, labels


# A change starting at one of the agent's deployments is preferred to the best window when the
# deployment is in the change point's confidence set: its likelihood within a factor of 10 of
# the best start's (:data:`~._scan.CONFIDENCE`). Sparse data dates a change loosely and a
# nearby deployment takes it; dense data dates it precisely and one does not.

Deployments = dict[str, list[tuple[int, str]]]  # agent → [(first session ns, deployment id)]


def scan_table(
    table: Table, grid: Grid, scope: str, deployments: Deployments | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The best change of every segment × metric of ``table`` with enough observations (at
    least twice :data:`~._scan.MIN_SIDE`): one candidate dict each (see :mod:`._rank`).
    ``deployments``: each agent's deployments, preferred as the start of a change in a
    segment of that agent when they explain it nearly as well (:data:`DEPLOYMENT_MARGIN`)."""
    bins = grid.bin_of(table.t)
    out: list[dict[str, Any]] = []
    tested = 0
    for spec in table.segments:
        code, labels = segment_codes(table, spec)
        count = len(labels)
        for metric in table.metrics:
            has = ~np.isnan(metric.score) & (code >= 0)
            if not has.any():
                continue
            cell = code[has] * grid.bins + bins[has]
            size = count * grid.bins
            u = metric.score[has]
            n = np.bincount(cell, minlength=size).reshape(count, grid.bins).astype("float64")
            s = np.bincount(cell, weights=u, minlength=size).reshape(count, grid.bins)
            q = np.bincount(cell, weights=u * u, minlength=size).reshape(count, grid.bins)
            rows = np.flatnonzero(n.sum(axis=1) >= 2 * MIN_SIDE)
            if not len(rows):
                continue
            tested += 2 * len(rows)
            out += _candidates(
                table,
                metric,
                spec,
                [labels[r] for r in rows],
                n[rows],
                s[rows],
                q[rows],
                grid,
                scope,
                deployments or {},
            )
    return out, tested


def _candidates(
    table: Table,
    metric: Metric,
    spec: tuple[str, ...],
    labels: list[tuple[tuple[str, str], ...]],
    n: np.ndarray,
    s: np.ndarray,
    q: np.ndarray,
    grid: Grid,
    scope: str,
    deployments: Deployments,
) -> list[dict[str, Any]]:
    out = _pass(table, metric, labels, n, s, q, grid, scope, deployments)
    # a second change of the same segment: scanned again with the first one's bins left out
    again = [i for i, c in out if c["log10_p"] < -2 and c["shape"] != "drift"]
    if again:
        n2, s2, q2 = n[again].copy(), s[again].copy(), q[again].copy()
        for k, i in enumerate(again):
            first = out[[j for j, _c in out].index(i)][1]
            a, b = first["_bins"]
            n2[k, a:b], s2[k, a:b], q2[k, a:b] = 0.0, 0.0, 0.0
        more = _pass(
            table,
            metric,
            [labels[i] for i in again],
            n2,
            s2,
            q2,
            grid,
            scope,
            deployments,
            ramp=False,
        )
        out += [(again[k], c) for k, c in more]
    return [c for _i, c in out]


def _pass(
    table: Table,
    metric: Metric,
    labels: list[tuple[tuple[str, str], ...]],
    n: np.ndarray,
    s: np.ndarray,
    q: np.ndarray,
    grid: Grid,
    scope: str,
    deployments: Deployments,
    *,
    ramp: bool = True,
) -> list[tuple[int, dict[str, Any]]]:
    """One scan of every segment (rows): its best window, or ramp, as ``(row, candidate)``."""
    best = scan(n, s, q, grid.windows, rate=metric.rate)
    ramp_fit = ramps(n, s, q, rate=metric.rate) if ramp else None
    out = []
    for i, label in enumerate(labels):
        ramp_p = float(ramp_fit.log10_p[i]) if ramp_fit is not None else 0.0
        ramp_z = float(ramp_fit.z[i]) if ramp_fit is not None else -np.inf
        if not np.isfinite(best.z[i]) and not np.isfinite(ramp_z):
            continue
        # a drift when a ramp fits better than any step, by the same statistic (and its p-value,
        # over fewer shapes tried, beats the best window's)
        step_z = float(ramp_fit.step_z[i]) if ramp_fit is not None else np.inf
        drift = bool(ramp_p < best.log10_p[i] and ramp_z > step_z + 1.0 and np.isfinite(ramp_z))
        full = grid.bins
        if drift and ramp_fit is not None:
            start, stop, log10_p, z = int(ramp_fit.start[i]), grid.bins, ramp_p, ramp_z
            shape = "drift"
            full = int(ramp_fit.stop[i])
        else:
            start, stop, log10_p, z = (
                int(best.start[i]),
                int(best.stop[i]),
                float(best.log10_p[i]),
                float(best.z[i]),
            )
            shape = "step" if stop >= grid.bins else "transient"
        if log10_p > -1.0:  # nothing there: not even p < 0.1 after the scan
            continue
        deployment = None
        if not drift:
            reach = max(1, (stop - start) // 4)
            start, stop = refine(n[i], s[i], q[i], start, stop, rate=metric.rate, reach=reach)
            agent = dict(label).get("agent")
            if agent is not None:
                start, deployment = _at_deployment(
                    n[i], s[i], q[i], start, stop, z, deployments.get(agent, ()), grid, metric.rate
                )
        inside = n[i, start:stop].sum()
        if metric.rate and not drift:  # the exact test of the window, Bonferroni as the scan's
            exact = log10_exact(s[i, start:stop].sum(), inside, s[i].sum(), n[i].sum())
            log10_p = min(max(log10_p, exact + float(np.log10(max(best.tried[i], 1)))), 0.0)
            if log10_p > -1.0:
                continue
        mean_in = s[i, start:stop].sum() / max(inside, 1)
        mean_out = (s[i].sum() - s[i, start:stop].sum()) / max(n[i].sum() - inside, 1)
        out.append(
            (
                i,
                {
                    "source": table.source,
                    "family": metric.family,
                    "metric": metric.name,
                    "segment": label,
                    "scope": scope,
                    "shape": shape,
                    "start_ns": grid.time_of(start) if deployment is None else deployment[0],
                    "end_ns": grid.time_of(stop) if shape == "transient" else None,
                    "full_ns": grid.time_of(full) if shape == "drift" else None,
                    "deployment": None if deployment is None else deployment[1],
                    "z": z,
                    "log10_p": log10_p,
                    "n_in": int(inside),
                    "n_out": int(n[i].sum() - inside),
                    "score_in": float(mean_in),
                    "score_out": float(mean_out),
                    "rate": metric.rate,
                    "table": table,
                    "metric_ref": metric,
                    "_bins": (start, stop),
                },
            )
        )
    return out


def _at_deployment(
    n: np.ndarray,
    s: np.ndarray,
    q: np.ndarray,
    start: int,
    stop: int,
    z: float,
    deployments: Any,
    grid: Grid,
    rate: bool,
) -> tuple[int, tuple[int, str] | None]:
    """The window's start moved to a deployment of its agent (returned with it: its first
    session's time and id) when the window from that deployment explains the change within
    the prior odds (see above); else the start unchanged and None."""
    bins = [int(grid.bin_of(np.array([t]))[0]) for t, _ in deployments]
    keep = [k for k, b in enumerate(bins) if 0 < b < stop]
    if not keep:
        return start, None
    tried = Windows(grid.bins, np.array([bins[k] for k in keep]), np.full(len(keep), stop))
    result = scan(n[None, :], s[None, :], q[None, :], tried, rate=rate)
    best = float(result.z[0])
    if not np.isfinite(best) or best <= 0 or z * z - best * best > CONFIDENCE:
        return start, None
    chosen = next(k for k in keep if bins[k] == int(result.start[0]))
    return bins[chosen], deployments[chosen]
