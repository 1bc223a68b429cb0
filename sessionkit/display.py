"""How values look where a person reads them: cards, the panel table, console output, reports.

Frames keep full precision (``timedelta64[ns]``, ``datetime64[ns, UTC]``, floats); only what is
*shown* goes through these helpers, so every touch point prints the same "3.85 s",
"2026-11-27 11:54:35 UTC", "$0.0123" and "12.5%".

:class:`ReadableFrame` is a plain :class:`pandas.DataFrame` whose repr (text and HTML) shows
durations, times, money and rates this way; any operation on it returns an ordinary frame.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

MISSING = "—"

#: Colour of each known log severity, from quiet grey to alarming dark red (the log chart and
#: the session inspector both use it); :data:`UNKNOWN_SEVERITY` for any other value.
SEVERITY_COLOURS: dict[str, str] = {
    "TRACE": "#AAAAAA",
    "DEBUG": "#56B4E9",
    "INFO": "#009E73",
    "NOTICE": "#0072B2",
    "WARN": "#E69F00",
    "ERROR": "#D55E00",
    "FATAL": "#7A0019",
}
UNKNOWN_SEVERITY = "#555555"


def _missing(value: object) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_duration(value: object) -> str:
    """A duration (``Timedelta``, ``timedelta`` or seconds) for people: ``"850 ms"``,
    ``"3.85 s"``, ``"2 min 05 s"``, ``"1 h 03 min"``; ``"∞"`` for an infinite number of seconds; ``"—"`` when
    missing."""
    if _missing(value):
        return MISSING
    seconds = (
        float(value)
        if isinstance(value, int | float | np.number)
        else pd.Timedelta(value).total_seconds()
    )
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    if math.isinf(seconds):
        return sign + "∞"
    if seconds < 1:
        text = f"{seconds * 1000:.3g} ms"
    elif seconds < 60:
        text = f"{seconds:.3g} s"
    elif seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        text = f"{minutes} min {rest:02d} s"
    else:
        hours, rest = divmod(round(seconds / 60), 60)
        text = f"{hours} h {rest:02d} min"
    return sign + text


def format_timestamp(value: object) -> str:
    """An instant as ``"2026-11-27 11:54:35 UTC"`` (to the second, in UTC; naive values are
    taken as UTC); ``"—"`` when missing."""
    if _missing(value):
        return MISSING
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return f"{stamp:%Y-%m-%d %H:%M:%S} UTC"


def format_money(value: object) -> str:
    """US dollars: ``"$1,234.56"`` from one dollar up, ``"$0.0123"`` (4 decimals) below;
    ``"—"`` when missing."""
    if _missing(value):
        return MISSING
    amount = float(value)  # type: ignore[arg-type]
    return f"${amount:,.2f}" if abs(amount) >= 1 else f"${amount:.4f}"


def format_rate(value: object) -> str:
    """A fraction 0..1 as a percentage with one decimal (``"12.5%"``); ``"—"`` when missing."""
    if _missing(value):
        return MISSING
    return f"{float(value) * 100:.1f}%"  # type: ignore[arg-type]


def format_p_value(value: object) -> str:
    """A p-value in short scientific form (``"3.2e-05"``); ``"—"`` when missing."""
    if _missing(value):
        return MISSING
    p = float(value)  # type: ignore[arg-type]
    return "0" if p == 0 else f"{p:.1e}" if p < 0.001 or not math.isfinite(p) else f"{p:.3f}"


def column_kind(name: str, series: pd.Series) -> str | None:
    """How a column is shown: ``duration``, ``time``, ``money``, ``rate``, ``p_value`` or
    ``None`` (as pandas shows it). Durations and times go by dtype; money, rates and p-values
    by name (``*cost*``, ``*rate``/``*share``, ``p_value``) on numeric columns."""
    dtype = series.dtype
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "duration"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "time"
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return None
    lowered = str(name).lower()
    if lowered in ("p_value", "p") or lowered.endswith("p_value"):
        return "p_value"
    if "cost" in lowered or lowered.endswith("_usd"):
        return "money"
    if lowered.endswith(("rate", "share", "_pct")) or "rate_" in lowered or "share_" in lowered:
        return "rate"  # also failure_rate_low/_high, share_of_self
    return None


def metric_kind(metric: str) -> str | None:
    """How a value of the metric ``metric`` (as :func:`sessionkit.analysis.detect_changes`
    names them) is shown: ``rate``, ``money``, ``seconds`` or ``None``."""
    if metric.endswith("rate"):
        return "rate"
    if "cost" in metric:
        return "money"
    if metric.endswith(("_duration", "_cpu_time")):
        return "seconds"
    return None


def _metric_value(metric: object, value: object, *, change: bool = False) -> object:
    kind = metric_kind(str(metric))
    if _missing(value) or kind is None:
        return value
    number = float(value)  # type: ignore[arg-type]
    if kind == "rate":
        return f"{number * 100:+.1f} pp" if change else format_rate(number)
    if kind == "money":
        text = format_money(abs(number))
        return ("-" if number < 0 else "+") + text if change else text
    text = format_duration(pd.Timedelta(seconds=abs(number)))
    return ("-" if number < 0 else "+") + text if change else text


_FORMATTERS = {
    "duration": format_duration,
    "time": format_timestamp,
    "money": format_money,
    "rate": format_rate,
    "p_value": format_p_value,
}


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with durations, times, money, rates and p-values as display text
    (see :func:`column_kind`; in a frame with a ``metric`` column, ``before``/``after``/
    ``change`` in that row's metric's unit, :func:`metric_kind`); other columns unchanged. For showing only — never analyse it."""
    out = pd.DataFrame(frame, copy=True)
    if "metric" in out.columns:  # one row per metric (detect_changes): each in its own unit
        for name in ("before", "after", "change"):
            if name in out.columns and pd.api.types.is_numeric_dtype(out[name].dtype):
                out[name] = [
                    _metric_value(m, v, change=name == "change")
                    for m, v in zip(out["metric"], out[name], strict=True)
                ]
                out[name] = out[name].astype(object)
    for name in out.columns:
        kind = column_kind(name, out[name])
        if kind is not None:
            out[name] = out[name].map(_FORMATTERS[kind]).astype(object)
    if isinstance(out.index, pd.TimedeltaIndex | pd.DatetimeIndex):
        kind = "duration" if isinstance(out.index, pd.TimedeltaIndex) else "time"
        out.index = pd.Index([_FORMATTERS[kind](v) for v in out.index], name=out.index.name)
    return out


class ReadableFrame(pd.DataFrame):
    """A DataFrame that *shows* its durations, times, money and rates for people (see
    :func:`readable`) while holding the full-precision values; derived frames are plain."""

    @property
    def _constructor(self) -> Any:
        return pd.DataFrame

    def __repr__(self) -> str:
        return pd.DataFrame.__repr__(readable(self))

    def _repr_html_(self) -> str | None:
        return pd.DataFrame._repr_html_(readable(self))

    def to_plain(self) -> pd.DataFrame:
        """The same data as an ordinary :class:`pandas.DataFrame`."""
        return pd.DataFrame(self)
