"""Shared look of sessionkit's charts: palette, formatters, locators, axes helpers.

Nothing here touches global state: :func:`theme` is the only way to change rcParams, and it is
an opt-in context manager that restores them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, Locator, MaxNLocator, NullFormatter, NullLocator

from ..analysis import bucket_start
from ..errors import InvalidArgumentError

#: Okabe–Ito, the colour-blind-safe palette, in a fixed order. Groups are given colours by
#: their sorted name (or their category order), so an agent keeps its colour across charts.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
OTHER = "#BBBBBB"  # the "other" group (merged small groups)
MISSING = "#888888"  # the "(none)" group (no value)
FAILED = "#D55E00"  # failed spans, failure bars
NEUTRAL = "#4D4D4D"  # single-series bars that are not a group
NONE_LABEL = "(none)"
OTHER_LABEL = "other"
MUTED = "#666666"  # notes, secondary text


def colour(i: int) -> str:
    """The palette colour of the ``i``-th group."""
    return PALETTE[i % len(PALETTE)]


def group_colours(values: pd.Series, shown: Iterable[str] = ()) -> dict[str, str]:
    """Colour of each group of ``values`` (a column such as ``sessions["agent"]``).

    The order is the column's categories when it is categorical, else the sorted distinct
    values, so the same frame gives an agent the same colour in every chart. ``other`` is
    grey. When ``shown`` groups would share a colour (more than eight groups), the later ones
    take the next unused palette colour so one chart never repeats a colour.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        names = [str(c) for c in values.cat.categories]
    else:
        names = sorted({str(v) for v in values.dropna().unique()})
    mapping = {name: colour(i) for i, name in enumerate(names)}
    mapping[OTHER_LABEL] = OTHER
    mapping.setdefault(NONE_LABEL, MISSING)
    used: set[str] = set()
    for name in shown:
        c = mapping.setdefault(name, colour(len(mapping)))
        if c in used and c not in (OTHER, MISSING):
            free = [p for p in PALETTE if p not in used]
            if free:
                mapping[name] = c = free[0]
        used.add(c)
    return mapping


# --------------------------------------------------------------------------- formatters


def money(value: float, _pos: object = None) -> str:
    """USD in few characters: ``1234.5`` → ``$1.2k``, ``12.345`` → ``$12.35``,
    ``0.05`` → ``$0.05``, ``0.0042`` → ``$0.0042``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    sign = "-" if value < 0 else ""
    v = abs(float(value))
    if v >= 1e9:
        return f"{sign}${v / 1e9:.1f}B"
    if v >= 1e6:
        return f"{sign}${v / 1e6:.1f}M"
    if v >= 1e3:
        return f"{sign}${v / 1e3:.1f}k"
    if v >= 0.1 or v == 0:
        return f"{sign}${v:,.2f}"
    if v >= 1e-4:
        return f"{sign}${v:.2g}"
    return f"{sign}${v:.1e}"


def seconds_label(seconds: float, _pos: object = None) -> str:
    """Seconds in human units: ``0.25`` → ``250 ms``, ``3.2`` → ``3.2 s``, ``240`` → ``4 min``."""
    if seconds is None or math.isnan(seconds):
        return "—"
    if seconds <= 0:
        return "0"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86400:.3g} d"


def count_label(value: float, _pos: object = None) -> str:
    """Counts in few characters: ``1500`` → ``1.5k``, ``2e6`` → ``2M``."""
    v = abs(value)
    if v >= 1e9:
        return f"{value / 1e9:.3g}B"
    if v >= 1e6:
        return f"{value / 1e6:.3g}M"
    if v >= 1e3:
        return f"{value / 1e3:.3g}k"
    return f"{value:.3g}"


def money_tick(value: float, _pos: object = None) -> str:
    """:func:`money` for axis ticks: no trailing ``.00`` (``$20``, ``$0.05``, ``$1.5k``)."""
    text = money(value)
    return text[:-3] if text.endswith(".00") else text


MONEY = FuncFormatter(money_tick)
SECONDS = FuncFormatter(seconds_label)
COUNT = FuncFormatter(count_label)

# Tick ladders for durations in seconds, finest first: 1-2-5 steps (with minute and hour
# marks), then decades with 1 min / 10 min / 1 h, then bare decades.
_FINE = (
    *(m * 10.0**e for e in range(-3, 1) for m in (1, 2, 5)),
    10,
    20,
    60,
    120,
    300,
    600,
    1200,
    3600,
    7200,
    6 * 3600,
    12 * 3600,
    86400,
    2 * 86400,
    7 * 86400,
)
_MEDIUM = (0.001, 0.01, 0.1, 1, 10, 60, 600, 3600, 6 * 3600, 86400, 7 * 86400)
_COARSE = tuple(10.0**e for e in range(-6, 8))


class DurationLocator(Locator):
    """Ticks at human durations (250 ms, 1 s, 2 min, 1 h, ...) on a seconds axis, log or linear.

    Picks the finest ladder that gives at most ``max_ticks`` ticks in view; a narrow view falls
    back to evenly spaced nice values.
    """

    def __init__(self, max_ticks: int = 9) -> None:
        self.max_ticks = max_ticks

    def __call__(self) -> Sequence[float]:
        if self.axis is None:
            return []
        vmin, vmax = self.axis.get_view_interval()
        return self.tick_values(vmin, vmax)

    def tick_values(self, vmin: float, vmax: float) -> Sequence[float]:
        lo, hi = sorted((float(vmin), float(vmax)))
        for ladder in (_FINE, _MEDIUM, _COARSE):
            ticks = [t for t in ladder if lo <= t <= hi]
            if 2 <= len(ticks) <= self.max_ticks:
                return ticks
            if len(ticks) < 2:
                break
        if lo <= 0:
            lo = hi / 10
        return [t for t in MaxNLocator(nbins=5).tick_values(lo, hi) if lo <= t <= hi]


def duration_axis(axis: Any) -> None:
    """Human duration ticks on ``axis`` (``ax.xaxis``/``ax.yaxis``) holding seconds; no minor
    labels."""
    axis.set_major_locator(DurationLocator())
    axis.set_major_formatter(SECONDS)
    axis.set_minor_formatter(NullFormatter())


def duration_unit(largest_seconds: float) -> tuple[str, float]:
    """The unit (``ms``, ``s``, ``min``, ``h``) for a linear axis up to ``largest_seconds``,
    and the seconds per unit."""
    for unit, per in (("h", 3600.0), ("min", 60.0), ("s", 1.0)):
        if largest_seconds >= 2 * per:
            return unit, per
    return "ms", 0.001


def time_axis(ax: Axes, label: str = "Start time (UTC)") -> None:
    """A date x axis with concise ticks (times are naive UTC), labelled ``label``."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator)
    # ticks a few seconds apart read as clock times (12:28:05), not bare seconds ("05")
    formatter.formats = ["%Y", "%b", "%d", "%H:%M", "%H:%M", "%H:%M:%S.%f"]
    formatter.zero_formats = ["", "%Y", "%b", "%b-%d", "%H:%M", "%H:%M:%S"]
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlabel(label)


def date_numbers(times: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """Matplotlib date numbers of UTC ``times`` (tz-aware or naive UTC)."""
    index = pd.DatetimeIndex(times)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return np.asarray(mdates.date2num(index.to_numpy(dtype="datetime64[ns]")))


#: The most time buckets a chart draws; more raise an InvalidArgumentError asking for a
#: coarser ``freq=`` (millions of buckets would hang the drawing and say nothing).
MAX_BUCKETS = 10_000


def too_many_buckets(count: float, freq: str, first: Any, last: Any) -> InvalidArgumentError:
    """The error for a chart of ``count`` buckets of ``freq`` from ``first`` to ``last``."""
    return InvalidArgumentError(
        f"freq={freq!r} makes {count:,.0f} time buckets from {first} to {last}, more than a "
        f"chart can show ({MAX_BUCKETS:,}); pass a coarser freq= (e.g. 'h', 'D', 'W', 'MS' or 'YS'), "
        "or filter the frame to a shorter period"
    )


def bucket_grid(first: pd.Timestamp, last: pd.Timestamp, freq: str) -> tuple[pd.DatetimeIndex, Any]:
    """Every bucket start (UTC) from ``first`` to ``last`` — the starts given by
    :func:`sessionkit.analysis.bucket_start` — and each bucket's length in days.

    Raises :class:`~sessionkit.errors.InvalidArgumentError` (naming the count) above
    :data:`MAX_BUCKETS` buckets, or when ``first`` or ``last`` is missing."""
    if pd.isna(first) or pd.isna(last):
        raise InvalidArgumentError(
            "no time bucket to draw: the first or last timestamp is missing (NaT); "
            "drop the rows without a timestamp first"
        )
    try:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except (ValueError, TypeError):
        step = None
    if step is not None and step <= pd.Timedelta(0):
        raise InvalidArgumentError(f"freq={freq!r} is not a positive bucket length")
    if step is not None:
        count = (last - first) / step + 1
        if count > MAX_BUCKETS:
            raise too_many_buckets(count, freq, first, last)
        starts = pd.date_range(first, last, freq=step)
        return starts, np.full(len(starts), step / pd.Timedelta(days=1))
    days = pd.Series(pd.date_range(first, last + pd.Timedelta(days=1), freq="D"))
    starts = pd.DatetimeIndex(bucket_start(days, freq).drop_duplicates())
    starts = starts[starts <= last]
    if len(starts) > MAX_BUCKETS:
        raise too_many_buckets(len(starts), freq, first, last)
    ahead = bucket_start(pd.Series(starts[-1] + pd.to_timedelta(np.arange(1, 400), "D")), freq)
    end = ahead[ahead > starts[-1]].iloc[0]  # the start of the bucket after the last one
    edges = [*starts, end]
    lengths = np.diff(np.array([e.value for e in edges], dtype="int64")) / 86_400e9
    return starts, lengths


_PERIOD_ALIASES = {"MS": "M", "ME": "M", "QS": "Q", "QE": "Q", "YS": "Y", "YE": "Y"}


def period_freq(freq: str) -> str:
    """``freq`` as :func:`sessionkit.analysis.bucket_start` takes it: the month, quarter and
    year aliases of date ranges (``"MS"``, ``"ME"``, ...) become period codes (``"M"``)."""
    head = freq.lstrip("0123456789")
    return freq[: len(freq) - len(head)] + _PERIOD_ALIASES.get(head, head)


_FREQ_WORDS = {
    "D": "day",
    "h": "hour",
    "H": "hour",
    "W": "week",
    "M": "month",
    "MS": "month",
    "ME": "month",
    "min": "minute",
    "T": "minute",
    "s": "second",
    "ms": "millisecond",
    "Q": "quarter",
    "Y": "year",
}


def bucket_label(freq: str) -> str:
    """``"D"`` → ``"day"``, ``"15min"`` → ``"15 minutes"`` for titles."""
    head = freq.lstrip("0123456789")
    count = freq[: len(freq) - len(head)]
    word = _FREQ_WORDS.get(head, head)
    if count and count != "1":
        return f"{count} {word}s"
    return word


# --------------------------------------------------------------------------- axes helpers


def axes(ax: Axes | None, figsize: tuple[float, float] = (9, 4)) -> Axes:
    """``ax``, or a new Axes on a new figure of ``figsize`` (never the current Axes, so a
    helper called twice in a cell draws two charts)."""
    if ax is not None:
        return ax
    _fig, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def no_data(ax: Axes, title: str, xlabel: str = "", ylabel: str = "") -> Axes:
    """Label an empty chart and say so in its middle."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(NullLocator())
    ax.yaxis.set_major_locator(NullLocator())
    ax.text(
        0.5,
        0.5,
        "No data",
        transform=ax.transAxes,
        ha="center",
        va="center",
        color=MUTED,
        fontsize=12,
    )
    return ax


def note(ax: Axes, text: str) -> None:
    """A small grey note under the x axis label, right-aligned (sampling, exclusions)."""
    ax.annotate(
        text,
        xy=(1.0, 0.0),
        xycoords=("axes fraction", ax.xaxis.label),
        xytext=(0, -2),
        textcoords="offset points",
        ha="right",
        va="top",
        fontsize=7.5,
        color=MUTED,
    )


def legend_outside(ax: Axes, *, reverse: bool = False, **kwargs: Any) -> None:
    """A legend to the right of the plot area, never over the data."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if reverse:
        handles, labels = handles[::-1], labels[::-1]
    options: dict[str, Any] = {
        "loc": "upper left",
        "bbox_to_anchor": (1.01, 1.0),
        "frameon": False,
        "fontsize": 8.5,
    }
    options.update(kwargs)
    ax.legend(handles, labels, **options)


def _renderer(ax: Axes) -> Any:
    """The figure's renderer, or an Agg one of the same size and dpi (a bare ``Figure``)."""
    get_renderer = getattr(ax.figure.canvas, "get_renderer", None)
    if get_renderer is not None:
        return get_renderer()
    from matplotlib.backends.backend_agg import RendererAgg

    box = ax.figure.bbox
    return RendererAgg(int(box.width), int(box.height), ax.figure.dpi)


def make_room(ax: Axes, texts: Iterable[Any], *, minimum: float, margin: float = 1.03) -> None:
    """Set the x axis to ``[0, right]`` with ``right`` large enough that each label of ``texts``
    (annotations at the end of horizontal bars) fits between its bar's end and the Axes' edge.

    The Axes will be narrower once the layout makes room for the y tick labels, so the width
    used is the smaller of its current width and what the figure leaves beside those labels.
    """
    right = minimum
    try:
        renderer = _renderer(ax)
        width = ax.bbox.width
        labels = [t.get_window_extent(renderer).width for t in ax.get_yticklabels()]
        beside = ax.figure.bbox.width - max(labels, default=0.0) - 70.0
        if ax.get_ylabel():
            beside -= ax.yaxis.label.get_window_extent(renderer).height
        width = max(min(width, beside), 50.0)
        for text in texts:
            end = float(text.xy[0])
            needed = text.get_window_extent(renderer).width + 6.0
            if end > 0 and needed < width * 0.9:
                right = max(right, end * width / (width - needed) * margin)
    except (AttributeError, RuntimeError, ValueError, TypeError):
        right = minimum
    ax.set_xlim(0, right)


def require(frame: pd.DataFrame, columns: Iterable[str | None], what: str, hint: str = "") -> None:
    """Raise an :class:`~sessionkit.errors.InvalidArgumentError` (also a ``ValueError``) naming
    the missing columns of ``frame`` and what to do."""
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise InvalidArgumentError(
            f"the {what} frame has no column {', '.join(map(repr, missing))}"
            + (f"; {hint}" if hint else "")
        )


def durations(frame: pd.DataFrame, columns: Iterable[str], what: str) -> pd.DataFrame:
    """``frame`` with each duration column of ``columns`` as ``timedelta64[ns]``.

    A column whose values are all missing (``frame.assign(duration=pd.NaT)`` makes it a
    *datetime* column of NaT) becomes a timedelta column of NaT; one holding anything else
    than durations raises an :class:`~sessionkit.errors.InvalidArgumentError` naming it.
    The frame is returned as is (not copied) when every column is already a duration.
    """
    fixed: dict[str, pd.Series] = {}
    for column in columns:
        if column not in frame.columns:
            continue
        values = frame[column]
        if pd.api.types.is_timedelta64_dtype(values.dtype):
            continue
        if not values.notna().any():
            fixed[column] = pd.Series(pd.NaT, index=frame.index, dtype="timedelta64[ns]")
            continue
        raise InvalidArgumentError(
            f"the {what} frame's column {column!r} holds {values.dtype} values, not durations; "
            f"convert it with pd.to_timedelta (e.g. frame[{column!r}] = "
            f"pd.to_timedelta(frame[{column!r}], unit='ms'))"
        )
    return frame.assign(**fixed) if fixed else frame


def finite_costs(
    frame: pd.DataFrame, columns: Iterable[str], what: str = "sessions"
) -> tuple[pd.DataFrame, int]:
    """``frame`` with non-finite values (``inf``, ``-inf``) of the cost ``columns`` set to
    missing, and how many rows had one (for a note). Not copied when there are none."""
    fixed: dict[str, pd.Series] = {}
    bad = np.zeros(len(frame), dtype=bool)
    for column in columns:
        if column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        infinite = np.isinf(values.to_numpy(dtype="float64", na_value=np.nan))
        if infinite.any():
            fixed[column] = values.where(~infinite)
            bad |= infinite
    return (frame.assign(**fixed) if fixed else frame), int(bad.sum())


def left_out_note(count: int, columns: str = "cost") -> str:
    """The note of rows left out for a non-finite value."""
    rows = "session" if count == 1 else "sessions"
    return f"{count:,} {rows} with a non-finite {columns} (inf) left out"


def no_data_because(ax: Axes, title: str, why: str, xlabel: str = "", ylabel: str = "") -> Axes:
    """:func:`no_data` with a :func:`note` saying why (e.g. "no completed sessions")."""
    no_data(ax, title, xlabel, ylabel)
    note(ax, why)
    return ax


BY_HINT = (
    "pass by= one of its columns (e.g. 'trigger', 'env', 'deployment_id') or by=None, or add an "
    "'agent' column (the agent's name) to the sessions frame"
)


def top_names(totals: pd.Series, top: int) -> list[str]:
    """The ``top`` largest groups of ``totals`` (ties broken by name); all of them when only one
    more would be left over (merging a single group into "other" hides its name for nothing)."""
    order = sorted(((-float(v), str(k)) for k, v in totals.items()))
    names = [k for _v, k in order]
    return names if len(names) <= top + 1 else names[:top]


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


@contextmanager
def theme(**overrides: Any) -> Iterator[None]:
    """Opt-in sessionkit look for the charts drawn inside the block; restores rcParams after.

    ``overrides`` are extra rcParams (``theme(**{"figure.dpi": 150})``).
    """
    base: dict[str, Any] = {
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.axisbelow": True,
        "grid.alpha": 0.3,
        "axes.prop_cycle": cycler(color=list(PALETTE)),
        "axes.titleweight": "semibold",
        "figure.dpi": 110,
    }
    base.update(overrides)
    # RcParams checks every key and value as it is built (an unknown key is a KeyError, as
    # in rc_context itself), so the context gets keys matplotlib knows
    with mpl.rc_context(mpl.RcParams(base)):
        yield
