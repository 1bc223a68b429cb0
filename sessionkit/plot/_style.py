"""Shared look of sessionkit's charts: palette, formatters, axes helpers. No global state."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

#: Okabe–Ito, the colour-blind-safe palette, in a fixed order (group i keeps colour i).
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
OTHER = "#BBBBBB"
FAILED = "#D55E00"


def colour(i: int) -> str:
    """The palette colour of the ``i``-th group."""
    return PALETTE[i % len(PALETTE)]


def money(value: float, _pos: object = None) -> str:
    """``1234.5`` → ``$1.2k``; small values keep cents (``$0.0042``)."""
    sign = "-" if value < 0 else ""
    v = abs(value)
    if v >= 1e6:
        return f"{sign}${v / 1e6:.1f}M"
    if v >= 1e3:
        return f"{sign}${v / 1e3:.1f}k"
    if v >= 0.1 or v == 0:
        return f"{sign}${v:,.2f}"
    if v >= 0.01:
        return f"{sign}${v:.3f}"
    return f"{sign}${v:.2g}"


def seconds_label(seconds: float, _pos: object = None) -> str:
    """Seconds in human units: ``0.25`` → ``250 ms``, ``3.2`` → ``3.2 s``, ``240`` → ``4 min``."""
    if seconds <= 0:
        return "0"
    if seconds < 1:
        return f"{seconds * 1000:.3g} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


_NICE_SECONDS = (0.001, 0.01, 0.1, 1, 10, 60, 600, 3600, 36000, 86400)


def duration_axis(axis: Any) -> None:
    """Log-scaled seconds on ``axis`` (``ax.xaxis``/``ax.yaxis``) with ticks at human values
    (1 ms, 10 ms, 100 ms, 1 s, 10 s, 1 min, 10 min, 1 h) labelled in human units."""
    from matplotlib.ticker import FixedLocator, NullFormatter

    axis.set_major_locator(FixedLocator(_NICE_SECONDS))
    axis.set_major_formatter(SECONDS)
    axis.set_minor_formatter(NullFormatter())


MONEY = FuncFormatter(money)
SECONDS = FuncFormatter(seconds_label)


def axes(ax: Axes | None, figsize: tuple[float, float] = (9, 4)) -> Axes:
    """``ax``, or a new Axes on a new figure of ``figsize``."""
    if ax is not None:
        return ax
    _fig, new = plt.subplots(figsize=figsize)
    return new


def no_data(ax: Axes, title: str, xlabel: str = "", ylabel: str = "") -> Axes:
    """Label an empty chart and say so in its middle."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.text(
        0.5,
        0.5,
        "No data",
        transform=ax.transAxes,
        ha="center",
        va="center",
        color="#777777",
        fontsize=12,
    )
    return ax


def legend_outside(ax: Axes, **kwargs: Any) -> None:
    """A legend to the right of the plot area, never over the data."""
    handles, _labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, **kwargs)


def top_groups(values: pd.Series, weights: pd.Series, top: int) -> tuple[pd.Series, list[str]]:
    """Groups of ``values`` beyond the ``top`` heaviest (by ``weights``) renamed ``other``."""
    labels = values.astype("string").fillna("(none)")
    order = weights.groupby(labels).sum().sort_values(ascending=False)
    keep = [str(x) for x in order.index[:top]]
    grouped = labels.where(labels.isin(keep), "other")
    return grouped, keep + (["other"] if len(order) > top else [])


def bucket_label(freq: str) -> str:
    """``"D"`` → ``"day"`` for axis titles."""
    return {"D": "day", "h": "hour", "H": "hour", "W": "week", "min": "minute", "MS": "month"}.get(
        freq, freq
    )


@contextmanager
def theme(**overrides: Any) -> Iterator[None]:
    """Opt-in sessionkit look for the charts drawn inside the block; restores rcParams after."""
    base: dict[str, Any] = {
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.prop_cycle": cycler(color=list(PALETTE)),
        "figure.dpi": 110,
    }
    base.update(overrides)
    with mpl.rc_context(base):  # type: ignore[arg-type]
        yield


def names(seq: Sequence[object]) -> list[str]:
    """Readable text of each item."""
    return [str(x) for x in seq]
