"""From candidates to findings: false-discovery control over every candidate, the size of each
change in the units people read, the practical minimum, one finding per incident (the
candidates that are one incident seen through several segments grouped, the most specific
explanation named), and the ranking by evidence × effect.

A candidate is a dict made by a detector (:mod:`._timescan`, :mod:`._deployments`,
:mod:`._families`): ``source``, ``family``, ``metric``, ``segment`` (pairs of dimension and
value), ``scope``, ``shape``, ``start_ns``/``end_ns``, ``log10_p`` (one-sided, adjusted for
what the detector scanned), observation counts, and for the scanned ones the observation
``table`` and ``metric_ref`` it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._observe import Metric, Table

#: How much more a metric must move to be worth a finding (besides the evidence): failure and
#: error rates (points and ratio), latency and cost ratios, eval pass rate and score drops.
MIN_EFFECT = {
    "failure_rate": (0.02, 1.3),
    "call_error_rate": (0.02, 1.3),
    "p50_duration": (0.0, 1.2),
    "p95_duration": (0.0, 1.25),
    "p50_call": (0.0, 1.3),
    "p95_call": (0.0, 1.3),
    "cost_per_session": (0.0, 1.2),
    "pass_rate": (0.05, 1.0),
    "mean_score": (0.03, 1.0),
    "new_error_family": (0.0, 1.0),
}
#: Observations a change's size is shrunk toward "no change" by (prior weight): 5 sessions
#: out of 5 failing is not a 100% failure rate.
SHRINK = 20
#: Evidence (-log10 q) counts up to this much in the ranking score (beyond it, more sessions do
#: not make a change more important).
EVIDENCE_CAP = 30.0
_LN10 = float(np.log(10.0))


def bh_log10(log10_p: np.ndarray, tests: int | None = None) -> np.ndarray:
    """Benjamini–Hochberg q-values of p-values given as log10 (so p < 1e-300 is kept), as log10:
    ``q_(i) = min_{j >= i} p_(j) * m / j`` over the sorted p-values. ``tests`` (``m``): how
    many tests were made, when only the smallest p-values are given (those left out were all
    larger: exact for every q below the smallest one left out); default their number."""
    p = np.asarray(log10_p, dtype="float64")
    if not len(p):
        return p.copy()
    m = max(len(p), tests or 0)
    order = np.argsort(p, kind="stable")
    ranked = p[order] + np.log10(m) - np.log10(np.arange(1, len(p) + 1))
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(len(p))
    out[order] = np.minimum(ranked, 0.0)
    return out


# -------------------------------------------------------------------------- segments


def segment_mask(table: Table, segment: Sequence[tuple[str, str]]) -> np.ndarray:
    """Which rows of ``table`` are in ``segment`` (each dimension equal to its value); a
    dimension the table lacks matches nothing."""
    mask = np.ones(len(table.t), dtype=bool)
    for dim, value in segment:
        if dim not in table.dims:
            return np.zeros(len(table.t), dtype=bool)
        cat = table.dims[dim]
        names = list(cat.categories.astype(str))
        if value not in names:
            return np.zeros(len(table.t), dtype=bool)
        mask &= cat.codes == names.index(value)
    return mask


def summarise(metric: Metric, rows: np.ndarray) -> float:
    """``metric``'s value over ``rows`` (a boolean mask), in its unit: a rate, a median, a p95
    or a mean; NaN when no row has a value."""
    values = metric.value[rows]
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan")
    if metric.summary == "median":
        return float(np.median(values))
    if metric.summary == "p95":
        return float(np.quantile(values, 0.95))
    return float(values.mean())


def sides(c: dict[str, Any], deployment: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``(inside, outside)`` row masks of a scanned or deployment candidate in its table: the
    segment during the change and the segment's baseline (a deployment: the previous one; a
    drift: after the ramp's start against before it)."""
    table: Table = c["table"]
    metric: Metric = c["metric_ref"]
    has = ~np.isnan(metric.value)
    plain = [(d, v) for d, v in c["segment"] if d != "deployment_id"]
    seg = segment_mask(table, plain) & has
    t = table.t
    if c["shape"] == "deployment":
        assert deployment is not None
        dep = deployment[table.session]
        wanted = dict(c["segment"])["deployment_id"]
        return seg & (dep == wanted), seg & (dep == c["previous"])
    start = c["start_ns"]
    if c["shape"] == "drift":  # where it got to (once the ramp is up) against before it
        full = c.get("full_ns") or start
        return seg & (t >= full), seg & (t < start)
    end = c["end_ns"] if c["end_ns"] is not None else np.iinfo(np.int64).max
    inside = seg & (t >= start) & (t < end)
    return inside, seg & ~inside


def measure(
    c: dict[str, Any],
    deployment: np.ndarray | None,
    agent_codes: np.ndarray,
    agent_names: list[str],
) -> None:
    """Fill ``before``/``after`` (in the metric's unit), ``n_before``/``n_after``, ``effect``
    (shrunk: Cohen's h for rates, |log ratio| otherwise), ``sessions`` (distinct sessions it
    rests on), ``agents`` (of the sessions inside) and ``rows_in`` (for examples) of a candidate
    with a table. ``agent_codes``: each analysed session's agent, an index into
    ``agent_names``."""
    table: Table = c["table"]
    metric: Metric = c["metric_ref"]
    inside, outside = sides(c, deployment)
    before, after = summarise(metric, outside), summarise(metric, inside)
    c["before"], c["after"] = before, after
    c["n_before"], c["n_after"] = int(outside.sum()), int(inside.sum())
    c["sessions"] = int(np.count_nonzero(np.bincount(table.session[inside | outside], minlength=1)))
    present = np.bincount(agent_codes[table.session[inside]], minlength=len(agent_names))
    c["agents"] = sorted(agent_names[k] for k in np.flatnonzero(present))
    c["rows_in"] = np.flatnonzero(inside)
    c["effect"] = effect_size(metric.summary, before, after, c["n_after"], metric.worse_up)


def effect_size(
    summary: str, before: float, after: float, n_after: int, worse_up: bool = True
) -> float:
    """The size of a change, shrunk toward none for a small ``n_after``: Cohen's h between the
    rates (the new one pulled toward the old by :data:`SHRINK` observations), or the |log| of
    the ratio of positive values times ``n_after / (n_after + SHRINK)``; 0 when it went the
    better way or cannot be told."""
    if not (np.isfinite(before) and np.isfinite(after)):
        return 0.0
    direction = after - before if worse_up else before - after
    if direction <= 0:
        return 0.0
    weight = n_after / (n_after + SHRINK)
    if summary == "rate":
        shrunk = before + (after - before) * weight
        h = 2 * np.arcsin(np.sqrt(np.clip(shrunk, 0, 1))) - 2 * np.arcsin(
            np.sqrt(np.clip(before, 0, 1))
        )
        return float(abs(h))
    if before <= 0 or after <= 0:
        return 0.0
    return float(abs(np.log(after / before)) * weight)


def big_enough(metric: str, before: float, after: float, worse_up: bool = True) -> bool:
    """Whether a change passes :data:`MIN_EFFECT` for ``metric``."""
    points, ratio = MIN_EFFECT.get(metric, (0.0, 1.0))
    if not (np.isfinite(before) and np.isfinite(after)):
        return metric == "new_error_family"
    if not worse_up:
        return before - after >= points
    if after - before < points:
        return False
    return before <= 0 or after / before >= ratio


# -------------------------------------------------------------------------- grouping


def _dims(c: dict[str, Any]) -> dict[str, str]:
    return {d: v for d, v in c["segment"]}


#: The order in which a finding's kind is chosen among the candidates of one incident: a new
#: error family names its incident; failures come before the slowness, cost and eval drops
#: they cause.
KIND_ORDER = ("new_error_family", "failure", "latency", "cost", "eval")


def _interval(c: dict[str, Any], end_ns: int) -> tuple[int, int]:
    stop = c["end_ns"] if c.get("end_ns") is not None else end_ns
    return int(c["start_ns"]), int(max(stop, c["start_ns"] + 1))


def related(a: dict[str, Any], b: dict[str, Any], tolerance_ns: int, end_ns: int) -> bool:
    """Whether two candidates can be one incident: the same scope, segments that do not
    contradict (no dimension with two values) and share agents, and either starts within
    ``tolerance_ns`` (two days for a drift) or — for the same kind — windows overlapping by
    half the shorter one or more (a smaller segment dating the same change less precisely)."""
    if a["scope"] != b["scope"]:
        return False
    da, db = _dims(a), _dims(b)
    if any(da[k] != db[k] for k in da.keys() & db.keys() if k != "deployment_id"):
        return False
    agents_a, agents_b = set(a.get("agents") or ()), set(b.get("agents") or ())
    if agents_a and agents_b and not agents_a & agents_b:
        return False
    slack = tolerance_ns
    if "drift" in (a["shape"], b["shape"]):
        slack = max(slack, 2 * 86_400 * 10**9)
    if abs(a["start_ns"] - b["start_ns"]) <= slack:
        return True
    fam = {"new_error_family": "failure"}
    if fam.get(a["family"], a["family"]) != fam.get(b["family"], b["family"]):
        return False
    (sa, ea), (sb, eb) = _interval(a, end_ns), _interval(b, end_ns)
    overlap = min(ea, eb) - max(sa, sb)
    return overlap > 0 and overlap >= 0.5 * min(ea - sa, eb - sb)


def group(
    candidates: list[dict[str, Any]], tolerance_ns: int, end_ns: int
) -> list[list[dict[str, Any]]]:
    """The candidates (significant, big enough) as incidents: the strongest first, each taking
    the weaker ones :func:`related` to any of its members (strongest first within each)."""
    order = sorted(candidates, key=lambda c: (c["log10_q"], -c["effect"]))
    used = [False] * len(order)
    groups = []
    for i, root in enumerate(order):
        if used[i]:
            continue
        used[i] = True
        members = [root]
        # a candidate joins when related to the root or to a member about the root's agents
        # (a segment spanning other agents too, such as all sessions, joins but links nothing)
        own = set(root.get("agents") or ())
        links = [root]
        grew = True
        while grew:
            grew = False
            for j in range(i + 1, len(order)):
                if not used[j] and any(related(m, order[j], tolerance_ns, end_ns) for m in links):
                    used[j] = True
                    members.append(order[j])
                    grew = True
                    if not own or set(order[j].get("agents") or ()) <= own:
                        links.append(order[j])
        members.sort(key=lambda c: (c["log10_q"], -c["effect"]))
        groups.append(members)
    return groups


#: Within a kind, the metric that leads when several moved: the one people read first.
_METRIC_ORDER = ("failure_rate", "pass_rate", "p95_duration", "p50_duration", "cost_per_session")


#: Where the candidates that name an incident of each kind come from, most readable first.
_SOURCES = {
    "new_error_family": ("families",),
    "failure": ("sessions", "deployments", "calls"),
    "latency": ("sessions", "deployments", "calls"),
    "cost": ("sessions", "deployments"),
    "eval": ("evals", "deployments"),
}


def lead(members: list[dict[str, Any]]) -> dict[str, Any]:
    """The candidate that names an incident: of the first kind of :data:`KIND_ORDER` among
    them, from the most readable source (whole sessions before calls), the strongest segment,
    in its most readable metric (:data:`_METRIC_ORDER`: a pass rate before a mean score, a p95
    before a median)."""
    kind = next(k for k in KIND_ORDER if any(c["family"] == k for c in members))
    mine = [c for c in members if c["family"] == kind]
    source = next(
        s for s in (*_SOURCES[kind], mine[0]["source"]) if any(c["source"] == s for c in mine)
    )
    mine = [c for c in mine if c["source"] == source]
    same = [c for c in mine if _plain(c) == _plain(mine[0])]

    def order(c: dict[str, Any]) -> int:
        return (
            _METRIC_ORDER.index(c["metric"]) if c["metric"] in _METRIC_ORDER else len(_METRIC_ORDER)
        )

    return min(same, key=order)  # min is stable: equal metrics keep the evidence order


def _plain(c: dict[str, Any]) -> dict[str, str]:
    return {d: v for d, v in c["segment"] if d != "deployment_id"}


def cause(members: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    """The call target that explains an incident of ``kind`` (latency or failure), when the
    calls of exactly one target (a host, store, model or operation) changed — not all of the
    agent's calls, as a slower agent makes every call slower; None otherwise."""
    if kind not in ("latency", "failure"):
        return None
    calls = [c for c in members if c["source"] == "calls" and c["family"] == kind]
    targets = {_dims(c)["call"] for c in calls}
    return calls[0] if len(targets) == 1 else None


def contradicted(
    c: dict[str, Any], scans: list[dict[str, Any]], tolerance_ns: int, end_ns: int
) -> bool:
    """Whether a deployment candidate is explained by a later change: a significant scan of a
    segment of the same agent and kind dates the change inside the deployment's life but not at
    its start (so the deployment as a whole looks worse only because of what came later)."""
    agent = _dims(c)["agent"]
    deployment = _dims(c)["deployment_id"]
    stop = c.get("until_ns") or end_ns
    for other in scans:
        if other["family"] != c["family"] or _dims(other).get("agent") != agent:
            continue
        if other.get("deployment") == deployment:
            return False
        if c["start_ns"] + tolerance_ns < other["start_ns"] < stop:
            return True
    return False


def rank_score(log10_q: float, effect: float) -> float:
    """The ranking score: evidence (-log10 q, capped at :data:`EVIDENCE_CAP`) × effect size."""
    return float(min(-log10_q, EVIDENCE_CAP) * effect)


def bucket_series(c: dict[str, Any], origin: int, end: int, buckets: int = 90) -> pd.DataFrame:
    """The metric of ``c``'s segment per time bucket (about ``buckets`` of them over
    ``origin``..``end``, whole hours): ``bucket`` (start, UTC), ``value`` (its unit),
    ``count`` (observations)."""
    table: Table = c["table"]
    metric: Metric = c["metric_ref"]
    plain = [(d, v) for d, v in c["segment"] if d != "deployment_id"]
    seg = segment_mask(table, plain) & ~np.isnan(metric.value)
    hour = 3600 * 10**9
    width = max(1, int(np.ceil((end - origin) / buckets / hour))) * hour
    t = table.t[seg]
    values = metric.value[seg]
    index = (t - origin) // width
    frame = pd.DataFrame({"b": index, "v": values})
    if metric.summary == "median":
        agg = frame.groupby("b")["v"].median()
    elif metric.summary == "p95":
        agg = frame.groupby("b")["v"].quantile(0.95)
    else:
        agg = frame.groupby("b")["v"].mean()
    counts = frame.groupby("b")["v"].size()
    stamps = pd.to_datetime(origin + agg.index.to_numpy(dtype=np.int64) * width, utc=True).as_unit(
        "ns"
    )
    return pd.DataFrame(
        {
            "bucket": stamps,
            "value": agg.to_numpy(dtype="float64"),
            "count": counts.to_numpy(dtype="int64"),
        }
    )
