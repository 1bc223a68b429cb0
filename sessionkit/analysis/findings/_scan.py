"""The change-point scan: for many segments at once, the time window whose observations differ
most from the rest, and how surprising that is after looking at every window.

Observations are summed per time bin (``n`` observations, ``s`` their scores, ``q`` their
squares; rows = segments, columns = bins). A window ``[a, b)`` of bins is compared with the
rest of its segment:

* ``mean`` scores (normal scores of ranks, so heavy tails and single outliers weigh little):
  ``z = (mean_in - mean_out) / (sd * sqrt(1/n_in + 1/n_out))``;
Each side holds at least :data:`MIN_SIDE` observations, and so does the time before the window
(a change needs a before: a window at the very start says only that things later improved).

* ``rate`` scores (0/1: failed, slow beyond the baseline p95, eval not passed): the signed
  square root of the binomial likelihood-ratio statistic (inside vs outside), which stays close
  to a standard normal for small counts where the Wald z does not.

Windows: every step ``[a, end)`` (a change that stays) and, on a grid, every transient
``[a, b)`` — lengths doubling from one bin, starts every quarter length. The best window's
one-sided p-value is multiplied by the number of windows tried (Bonferroni: conservative, so
scanning many windows does not manufacture evidence). A slow drift is tested apart: a ramp
rising from a grid of starts, scored by the trend test of the same scores.

Pure numpy (and scipy.special for the normal tail, on the log scale so p < 1e-300 is kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import log_ndtr, xlogy

#: Fewest observations on each side of a window (inside and outside).
MIN_SIDE = 20
#: Fewest events (failures, slow sessions, ...) inside a window of a rate score.
MIN_EVENTS = 3
#: Starts tried for a drift's ramp.
RAMP_STARTS = 48
_LN10 = float(np.log(10.0))


@dataclass(frozen=True)
class Windows:
    """The windows tried on ``bins`` bins: ``start``/``stop`` bin indexes (stop exclusive)."""

    bins: int
    start: np.ndarray
    stop: np.ndarray


def windows(bins: int) -> Windows:
    """Every step window ``[a, bins)`` for ``a`` in 1..bins-1 and the transient grid: lengths
    1, 2, 4, ... bins/2, starts every max(1, length // 4) bins, ending before the last bin."""
    starts: list[np.ndarray] = [np.arange(1, bins)]
    stops: list[np.ndarray] = [np.full(bins - 1, bins)]
    length = 1
    while length <= bins // 2:
        step = max(1, length // 4)
        a = np.arange(1, bins - length, step)
        starts.append(a)
        stops.append(a + length)
        length *= 2
    return Windows(bins, np.concatenate(starts), np.concatenate(stops))


@dataclass(frozen=True)
class Best:
    """The best window of each segment (arrays over segments): ``z`` (its statistic; -inf when
    no window qualified), ``start``/``stop`` (bins), ``tried`` (windows that qualified),
    ``log10_p`` (one-sided, Bonferroni over ``tried``, capped at 0), ``n_in``/``n_out`` and
    ``mean_in``/``mean_out`` (observations and mean score inside and outside)."""

    z: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    tried: np.ndarray
    log10_p: np.ndarray
    n_in: np.ndarray
    n_out: np.ndarray
    mean_in: np.ndarray
    mean_out: np.ndarray


def log10_sf(z: np.ndarray) -> np.ndarray:
    """log10 of the standard normal upper tail at ``z`` (exact far into the tail)."""
    return np.asarray(log_ndtr(-np.asarray(z, dtype="float64")), dtype="float64") / _LN10


def scan(n: np.ndarray, s: np.ndarray, q: np.ndarray, grid: Windows, *, rate: bool) -> Best:
    """The best window of every segment (rows of the per-bin sums ``n``, ``s``, ``q``) among
    ``grid``, worse = higher scores. ``rate``: the scores are 0/1 (``s`` counts events)."""
    rows = n.shape[0]
    zero = np.zeros((rows, 1))
    cn = np.concatenate([zero, np.cumsum(n, axis=1)], axis=1)
    cs = np.concatenate([zero, np.cumsum(s, axis=1)], axis=1)
    total_n, total_s = cn[:, -1:], cs[:, -1:]
    n_in = cn[:, grid.stop] - cn[:, grid.start]
    s_in = cs[:, grid.stop] - cs[:, grid.start]
    n_out, s_out = total_n - n_in, total_s - s_in
    before = cn[:, grid.start]  # a change needs a before: observations ahead of the window
    ok = (n_in >= MIN_SIDE) & (n_out >= MIN_SIDE) & (before >= MIN_SIDE)
    with np.errstate(divide="ignore", invalid="ignore"):
        m_in = s_in / n_in
        m_out = s_out / n_out
        if rate:
            ok &= s_in >= MIN_EVENTS
            p = total_s / total_n
            lr = 2 * (
                xlogy(s_in, m_in)
                + xlogy(n_in - s_in, 1 - m_in)
                + xlogy(s_out, m_out)
                + xlogy(n_out - s_out, 1 - m_out)
                - xlogy(total_s, p)
                - xlogy(total_n - total_s, 1 - p)
            )
            z = np.sign(m_in - m_out) * np.sqrt(np.maximum(lr, 0.0))
        else:
            sq = q.sum(axis=1, keepdims=True)
            var = np.maximum(sq / total_n - (total_s / total_n) ** 2, 1e-12)
            z = (m_in - m_out) / np.sqrt(var * (1 / n_in + 1 / n_out))
    z = np.where(ok & np.isfinite(z), z, -np.inf)
    best = np.argmax(z, axis=1) if z.shape[1] else np.zeros(rows, dtype=int)
    pick = (np.arange(rows), best)
    tried = ok.sum(axis=1)
    z_best = z[pick] if z.shape[1] else np.full(rows, -np.inf)
    log10_p = np.minimum(log10_sf(z_best) + np.log10(np.maximum(tried, 1)), 0.0)
    return Best(
        z=z_best,
        start=grid.start[best] if z.shape[1] else np.zeros(rows, dtype=int),
        stop=grid.stop[best] if z.shape[1] else np.zeros(rows, dtype=int),
        tried=tried,
        log10_p=np.where(np.isfinite(z_best), log10_p, 0.0),
        n_in=n_in[pick] if z.shape[1] else np.zeros(rows),
        n_out=n_out[pick] if z.shape[1] else np.zeros(rows),
        mean_in=m_in[pick] if z.shape[1] else np.zeros(rows),
        mean_out=m_out[pick] if z.shape[1] else np.zeros(rows),
    )


def refine(
    n: np.ndarray, s: np.ndarray, q: np.ndarray, start: int, stop: int, *, rate: bool, reach: int
) -> tuple[int, int]:
    """The window of one segment (per-bin sums ``n``, ``s``, ``q``: 1-D) near ``[start, stop)``
    — each end moved by up to ``reach`` bins, a step's end kept at the last bin — whose
    statistic is largest: the grid's window, made exact to the bin."""
    bins = len(n)
    starts = np.arange(max(1, start - reach), min(bins - 1, start + reach) + 1)
    if stop >= bins:
        stops = np.array([bins])
    else:
        stops = np.arange(max(start + 1, stop - reach), min(bins - 1, stop + reach) + 1)
    a, b = np.meshgrid(starts, stops, indexing="ij")
    keep = a < b
    grid = Windows(bins, a[keep], b[keep])
    if not len(grid.start):
        return start, stop
    best = scan(n[None, :], s[None, :], q[None, :], grid, rate=rate)
    if not np.isfinite(best.z[0]):
        return start, stop
    return int(best.start[0]), int(best.stop[0])


@dataclass(frozen=True)
class Ramp:
    """The best ramp of each segment: ``z`` (the trend statistic), ``start`` and ``stop``
    (bins it rises between, then holds), ``log10_p`` (one-sided, Bonferroni over the ramps
    tried)."""

    z: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    log10_p: np.ndarray
    step_z: np.ndarray


#: How many bins a drift's ramp takes to rise, at least (shorter ones are steps).
RAMP_LENGTHS = (24, 48, 96, 192, 384)


@lru_cache(maxsize=8)
def _ramp_shapes(bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The steps and ramps :func:`ramps` tries on ``bins`` bins (made once per grid): the
    steps' starts; the ramps' starts and ends (bins), their shapes (ramps × bins) and the
    squares of those."""
    steps = np.unique(np.linspace(1, bins - 1, 4 * RAMP_STARTS).astype(int))
    starts = np.unique(np.linspace(1, int(bins * 0.75), RAMP_STARTS).astype(int))
    pairs = [(a, a + length) for a in starts for length in RAMP_LENGTHS if a + length < bins]
    a = np.array([p[0] for p in pairs], dtype=np.int64).reshape(-1, 1)
    b = np.array([p[1] for p in pairs], dtype=np.int64).reshape(-1, 1)
    t = np.arange(bins, dtype="float64")[None, :]
    h = np.clip((t - a) / np.maximum(b - a, 1), 0.0, 1.0)
    return steps, a[:, 0], b[:, 0], h, h * h


def _trend_z(
    sum_h: np.ndarray,
    sum_hh: np.ndarray,
    sum_hs: np.ndarray,
    total_n: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
) -> np.ndarray:
    """The trend statistic of shapes from their sums Σ n h, Σ n h², Σ h u (rows × shapes)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        centred = sum_hs - mean * sum_h  # Σ h (u - mean)
        spread = sum_hh - sum_h**2 / total_n  # Σ n (h - h̄)²
        return np.asarray(centred / np.sqrt(var * spread))


def ramps(n: np.ndarray, s: np.ndarray, q: np.ndarray, *, rate: bool) -> Ramp:
    """The trend test of every segment against ramps that rise linearly from ``t0`` to ``t1``
    and then hold (``t0`` on a grid of :data:`RAMP_STARTS` bins before the last quarter, rising
    over :data:`RAMP_LENGTHS` bins): a slow drift with no step. Scores as in :func:`scan`; the
    variance is the segment's (``rate``: p(1-p)). ``step_z``: the same statistic for the best
    step (a ramp of length 0, from a finer grid of starts, by cumulative sums), so a drift is
    told from a step by one yardstick."""
    rows, bins = n.shape
    steps, a, b, h, hh = _ramp_shapes(bins)
    total_n = n.sum(axis=1, keepdims=True)
    total_s = s.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total_s / total_n
        if rate:
            var = mean * (1 - mean)
        else:
            var = np.maximum(q.sum(axis=1, keepdims=True) / total_n - mean**2, 1e-12)
    zero = np.zeros((rows, 1))
    cn = np.concatenate([zero, np.cumsum(n, axis=1)], axis=1)
    cs = np.concatenate([zero, np.cumsum(s, axis=1)], axis=1)
    after_n = total_n - cn[:, steps]  # a step's h is 1 from its start: Σ n h = Σ n h²
    step = _trend_z(after_n, after_n, total_s - cs[:, steps], total_n, mean, var)
    step = np.where(np.isfinite(step) & (cn[:, steps] >= MIN_SIDE), step, -np.inf)
    step_z = step.max(axis=1) if len(steps) else np.full(rows, -np.inf)
    if not len(a):
        none = np.full(rows, -np.inf)
        return Ramp(
            none, np.zeros(rows, dtype=int), np.zeros(rows, dtype=int), np.zeros(rows), step_z
        )
    z = _trend_z(n @ h.T, n @ hh.T, s @ h.T, total_n, mean, var)  # rows × ramps
    ahead = cn[:, a]  # observations before each ramp starts
    z = np.where(np.isfinite(z) & (total_n >= 2 * MIN_SIDE) & (ahead >= MIN_SIDE), z, -np.inf)
    best = np.argmax(z, axis=1)
    z_best = z[np.arange(rows), best]
    log10_p = np.minimum(log10_sf(z_best) + np.log10(len(a)), 0.0)
    return Ramp(
        z=z_best,
        start=a[best],
        stop=b[best],
        log10_p=np.where(np.isfinite(z_best), log10_p, 0.0),
        step_z=step_z,
    )


#: A start is in a change's confidence set when its likelihood is within this factor's log
#: (twice: the statistics are likelihood ratios) of the best start's.
CONFIDENCE = 2 * float(np.log(10.0))


def split_at(
    t: np.ndarray, u: np.ndarray, lo_ns: int, hi_ns: int, end_ns: int, *, rate: bool
) -> tuple[int, int, int]:
    """The exact start of a change in one segment's observations (times ``t`` sorted, scores
    ``u``): ``(k, low, high)`` — the index of the observation, between times ``lo_ns`` and
    ``hi_ns``, from which the rest up to ``end_ns`` differs most from the others (the
    statistic of :func:`scan`), and the first and last index whose squared statistic is within
    :data:`CONFIDENCE` of the best's (the change began between them); ``(-1, -1, -1)`` when no
    split there leaves :data:`MIN_SIDE` observations on each side."""
    stop = int(np.searchsorted(t, end_ns))
    first = max(int(np.searchsorted(t, lo_ns)), MIN_SIDE)
    last = min(int(np.searchsorted(t, hi_ns)), stop - MIN_SIDE)
    if first > last:
        return -1, -1, -1
    ks = np.arange(first, last + 1)
    cs = np.concatenate([[0.0], np.cumsum(u)])
    total_n, total_s = float(len(u)), float(cs[-1])
    n_in = (stop - ks).astype("float64")
    s_in = cs[stop] - cs[ks]
    n_out, s_out = total_n - n_in, total_s - s_in
    with np.errstate(divide="ignore", invalid="ignore"):
        m_in, m_out = s_in / n_in, s_out / n_out
        if rate:
            p = total_s / total_n
            lr = 2 * (
                xlogy(s_in, m_in)
                + xlogy(n_in - s_in, 1 - m_in)
                + xlogy(s_out, m_out)
                + xlogy(n_out - s_out, 1 - m_out)
                - xlogy(total_s, p)
                - xlogy(total_n - total_s, 1 - p)
            )
            z = np.sign(m_in - m_out) * np.sqrt(np.maximum(lr, 0.0))
        else:
            var = max(float(np.mean(u * u)) - (total_s / total_n) ** 2, 1e-12)
            z = (m_in - m_out) / np.sqrt(var * (1 / n_in + 1 / n_out))
    z = np.where(np.isfinite(z) & (n_out >= MIN_SIDE), z, -np.inf)
    if not np.isfinite(z).any():
        return -1, -1, -1
    best = int(np.argmax(z))
    near = np.flatnonzero((z > 0) & (z * z >= z[best] ** 2 - CONFIDENCE))
    return int(ks[best]), int(ks[near.min()]), int(ks[near.max()])


def log10_exact(k_in: float, n_in: float, k_total: float, n_total: float) -> float:
    """log10 of the one-sided exact p-value (Fisher's, the hypergeometric upper tail) of at
    least ``k_in`` events among ``n_in`` of ``n_total`` observations holding ``k_total``: the
    rate scores' p-value, honest for small counts where the normal approximation is not."""
    from scipy.stats import hypergeom  # scipy.stats loads on first use

    value = hypergeom.logsf(round(k_in) - 1, int(n_total), round(k_total), int(n_in))
    return float(min(value / np.log(10.0), 0.0))
