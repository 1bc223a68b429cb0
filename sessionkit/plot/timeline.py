"""Span charts: one session's timeline as an icicle chart, and operation hotspots."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .. import analysis
from ..errors import InvalidArgumentError
from ._style import (
    FAILED,
    OTHER,
    axes,
    duration_unit,
    durations,
    legend_outside,
    make_room,
    no_data,
    no_data_because,
    note,
    require,
    seconds_label,
    shorten,
)

#: Fill of each kind of span, matched on the operation's prefix in this order
#: ("agentuity." before "agent.").
KINDS: tuple[tuple[str, str, str], ...] = (
    ("HTTP", "HTTP", "#56B4E9"),
    ("agentuity.", "storage", "#009E73"),
    ("agent.", "agent run", "#0072B2"),
    ("gen_ai", "LLM call", "#E69F00"),
    ("llm", "LLM call", "#E69F00"),
    ("cron", "cron", "#CC79A7"),
)
OTHER_KIND = ("", "other", OTHER)
LABEL_FONTSIZE = 7.5
MAX_LABELS = 400


def _kind(operation: str) -> tuple[str, str, str]:
    for kind in KINDS:
        if operation.startswith(kind[0]):
            return kind
    return OTHER_KIND


def layout(spans: pd.DataFrame) -> pd.DataFrame:
    """Where each span of ONE session sits: ``x`` (start, ms from the root's start), ``width``
    (ms) and ``depth``, indexed like ``spans``.

    Nodes carry no timestamps, so children are laid out one after another from their parent's
    left edge, in the order sent, each as wide as its duration and clipped to the parent's
    extent (a child that would start past the parent's end gets width 0). The frame must be in
    the pre-order :func:`sessionkit.spans_frame` gives (parents before their children); rows of
    depth ``d`` belong to the closest row of depth ``d - 1`` above them. Rows whose parent is not
    in the frame start at 0.
    """
    ordered = spans.sort_index(kind="stable") if not spans.index.is_monotonic_increasing else spans
    ordered = durations(ordered, ["duration"], "spans")
    depth = ordered["depth"].fillna(0).astype("int64").to_numpy()
    ms = (ordered["duration"].dt.total_seconds() * 1000.0).to_numpy(dtype="float64", na_value=0.0)
    ms = np.nan_to_num(ms, nan=0.0, posinf=0.0, neginf=0.0).clip(min=0.0)
    n = len(ordered)
    x = np.zeros(n)
    width = np.zeros(n)
    stack: list[int] = []  # stack[d] = the latest row of depth d on the current path (-1: none)
    cursor = np.zeros(n)  # per row: where its next child starts
    right = np.zeros(n)
    depths, sizes = depth.tolist(), ms.tolist()
    for i in range(n):
        d = max(depths[i], 0)
        parent = stack[d - 1] if 0 < d <= len(stack) else -1
        if parent < 0:
            start, limit = 0.0, sizes[i]
        else:
            start, limit = cursor[parent], right[parent]
        w = min(sizes[i], limit - start)
        w = w if w > 0 else 0.0
        x[i], width[i] = start, w
        if parent >= 0:
            cursor[parent] = start + w
        cursor[i], right[i] = start, start + w
        del stack[d:]
        stack.extend([-1] * (d - len(stack)))
        stack.append(i)
    frame = pd.DataFrame({"x": x, "width": width, "depth": depth}, index=ordered.index)
    return frame.reindex(spans.index)


def _fits(operation: str, chars: int, detail: str = "") -> str | None:
    """The longest readable form of ``operation`` within ``chars`` characters: with its
    ``detail`` (agent name, model) when both fit, whole, then without leading namespaces
    (``agentuity.keyvalue.get`` → ``keyvalue.get`` → ``get``), then cut; ``None`` when not even
    four characters fit."""
    if chars < 4:
        return None
    if detail and len(operation) + len(detail) + 3 <= chars:
        return f"{operation} · {detail}"
    if len(operation) <= chars:
        return operation
    parts = operation.split(".")
    for k in range(1, len(parts)):
        tail = ".".join(parts[k:])
        if len(tail) <= chars:
            return tail
    return shorten(operation, chars)


def _text_colour(fill: str) -> str:
    r, g, b = to_rgb(fill)
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45 else "black"


def _one_session(spans: pd.DataFrame, session_id: str | None) -> tuple[str | None, pd.DataFrame]:
    """The session to chart and its spans: ``session_id``'s, or the only session's. Raises
    :class:`~sessionkit.errors.InvalidArgumentError` (listing a few ids) when ``session_id`` is
    ``None`` and ``spans`` holds several, so a chart is never of an arbitrary one."""
    if session_id is None and len(spans):
        ids = spans["session_id"].dropna().unique()
        if len(ids) > 1:
            raise InvalidArgumentError(
                f"spans holds {len(ids):,} sessions; pass session_id= to pick one, e.g. "
                f"session_id={str(ids[0])!r} (one of {', '.join(map(str, ids[:3]))}, ...)"
            )
        session_id = str(spans["session_id"].iloc[0])
    one = spans[spans["session_id"] == session_id] if session_id is not None else spans
    return session_id, durations(one, ["duration", "self_duration"], "spans")


def _milliseconds(min_width: float | pd.Timedelta) -> float:
    """``min_width`` in milliseconds (a number already is)."""
    if isinstance(min_width, pd.Timedelta):
        return float(min_width.total_seconds() * 1000)
    return float(min_width)


def _session_layout(one: pd.DataFrame, max_depth: int | None, limit_ms: float) -> pd.DataFrame:
    """:func:`layout` of ONE session's spans plus ``operation``, ``error``, ``failed`` and
    ``hidden`` (``"depth"``: deeper than ``max_depth``, ``"width"``: narrower than ``limit_ms``
    milliseconds, ``<NA>``: drawn), indexed like ``one``."""
    if not len(one):  # no spans, perhaps not even their columns: an empty table
        return pd.DataFrame(
            {
                "x": pd.Series(dtype="float64"),
                "width": pd.Series(dtype="float64"),
                "depth": pd.Series(dtype="int64"),
                "operation": pd.Series(dtype="string"),
                "error": pd.Series(dtype="string"),
                "failed": pd.Series(dtype="bool"),
                "hidden": pd.Series(dtype="string"),
            },
            index=one.index,
        )
    pos = layout(one)
    nothing = np.zeros(len(pos), dtype=bool)
    deep = pos["depth"].to_numpy() > max_depth if max_depth is not None else nothing
    narrow = ~deep & (pos["width"].to_numpy() < limit_ms) if limit_ms else nothing
    hidden = pd.Series(pd.NA, index=pos.index, dtype="string")
    hidden[deep] = "depth"
    hidden[narrow] = "width"
    return pos.assign(
        operation=one["operation"].astype("string"),
        error=one["error"],
        failed=one["error"].notna().to_numpy(dtype=bool),
        hidden=hidden,
    )


def timeline_layout(
    spans: pd.DataFrame,
    *,
    session_id: str | None = None,
    max_depth: int | None = None,
    min_width: float | pd.Timedelta = 0,
) -> pd.DataFrame:
    """What :func:`timeline` draws, as a table: one row per span of the session (picked as
    :func:`timeline` picks it), indexed like ``spans``, with ``x`` (start, ms from the root's
    start), ``width`` (ms), ``depth`` (0 = root), ``operation``, ``error``, ``failed`` (bool)
    and ``hidden`` (``"depth"``: deeper than ``max_depth``, ``"width"``: narrower than
    ``min_width`` milliseconds or Timedelta, ``<NA>``: drawn). The rows :func:`timeline` draws
    are ``timeline_layout(...).query("hidden.isna()")``.
    """
    _session_id, one = _one_session(spans, session_id)
    return _session_layout(one, max_depth, _milliseconds(min_width))


def timeline(
    spans: pd.DataFrame,
    *,
    session_id: str | None = None,
    max_depth: int | None = None,
    min_width: float | pd.Timedelta = 0,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Icicle chart of ONE session's spans: a row per depth (root on top), each span a
    rectangle as wide as its duration, children laid out in order from their parent's left edge
    and clipped to it (see :func:`layout`; spans carry no timestamps). Returns the Axes.

    ``session_id`` picks the session; it is required when ``spans`` holds several (an
    :class:`~sessionkit.errors.InvalidArgumentError` lists some of them), so a chart is never
    of an arbitrary one.
    ``max_depth`` hides deeper rows; ``min_width`` (milliseconds, or a Timedelta) hides narrower
    spans. Failed spans have a red edge and hatching. Operation names are written inside the
    rectangles that can hold them (namespaces dropped first, then cut). Colours say the kind of
    span (HTTP, storage, agent run, LLM call). Rectangles are drawn as two
    :class:`~matplotlib.collections.PolyCollection` (ok and failed), so 10k-span trees draw
    fast. Each span's x, width, depth, operation and error are :func:`timeline_layout` with the
    same arguments. ``kwargs`` go to both collections.
    """
    session_id, one = _one_session(spans, session_id)
    limit_ms = _milliseconds(min_width)
    table = _session_layout(one, max_depth, limit_ms)
    hidden_depth = int((table["hidden"] == "depth").sum())
    hidden_narrow = int((table["hidden"] == "width").sum())
    keep = table["hidden"].isna().to_numpy(dtype=bool)
    one, pos = one[keep], table[keep]
    rows = int(pos["depth"].max()) + 1 if len(pos) else 1
    ax = axes(ax, (11, float(np.clip(1.3 + 0.42 * rows, 2.6, 9.0))))
    title = f"Timeline of {session_id}" if session_id else "Timeline"
    if not len(one):
        return no_data(ax, title, "Time since the session started")
    if not one["duration"].notna().any():
        why = f"none of the {len(one):,} spans has a duration (is the session still running?)"
        return no_data_because(ax, title, why, "Time since the session started")

    total_ms = float((pos["x"] + pos["width"]).max()) or 1.0
    unit, per = duration_unit(total_ms / 1000.0)
    scale = per * 1000.0  # ms per unit
    x = pos["x"].to_numpy() / scale
    w = pos["width"].to_numpy() / scale
    depth = pos["depth"].to_numpy()
    ops = one["operation"].astype("string").fillna("(unnamed)").to_numpy(dtype=object)
    kinds = [_kind(str(op)) for op in ops]
    fills = np.array([k[2] for k in kinds], dtype=object)
    failed = pos["failed"].to_numpy(dtype=bool)
    details = np.full(len(one), "", dtype=object)
    for column in ("model", "agent_name"):  # the agent's name wins over the model
        if column in one:
            named = one[column].astype("string")
            details = np.where(
                named.notna().to_numpy(), named.fillna("").to_numpy(dtype=object), details
            )

    half = 0.43
    top_y, bottom_y = -depth + half, -depth - half
    verts = np.stack(
        [
            np.column_stack([x, bottom_y]),
            np.column_stack([x, top_y]),
            np.column_stack([x + w, top_y]),
            np.column_stack([x + w, bottom_y]),
        ],
        axis=1,
    )
    # A thin white edge separates neighbours; on rectangles a few pixels wide or tall it would
    # wash the colour out, so those are edged in their own fill.
    axes_box = ax.get_window_extent()
    px_per_unit = axes_box.width / (total_ms / scale)
    row_px = axes_box.height / rows * 2 * half
    roomy = (w * px_per_unit >= 4) & (row_px >= 4)
    edges = np.where(roomy, "white", fills)
    ok_options: dict[str, Any] = {"edgecolors": list(edges[~failed]), "linewidths": 0.5}
    bad_options: dict[str, Any] = {"edgecolors": FAILED, "linewidths": 1.8, "hatch": "//"}
    for mask, options, label in ((~failed, ok_options, "spans"), (failed, bad_options, "failed")):
        if mask.any():
            options.update(kwargs)
            collection = PolyCollection(
                verts[mask], facecolors=list(fills[mask]), label=label, **options
            )
            ax.add_collection(collection)

    # Labels where they fit: characters available from the rectangle's width in pixels.
    axes_px = axes_box.width
    char_px = LABEL_FONTSIZE * 0.62 * ax.figure.dpi / 72.0
    span_units = total_ms / scale
    chars = np.floor(w / span_units * axes_px / char_px) - 1
    if row_px < LABEL_FONTSIZE * 1.25 * ax.figure.dpi / 72.0:
        chars[:] = 0  # rows too thin for text
    candidates = np.flatnonzero(chars >= 4)
    candidates = candidates[np.argsort(-w[candidates], kind="stable")][:MAX_LABELS]
    for i in candidates:
        text = _fits(str(ops[i]), int(chars[i]), str(details[i]))
        if text is None:
            continue
        ax.text(
            x[i] + w[i] / 2,
            -depth[i],
            text,
            ha="center",
            va="center",
            fontsize=LABEL_FONTSIZE,
            color=_text_colour(str(fills[i])),
            clip_on=True,
            # over a hatched (failed) span the label gets a plain background to stay readable
            bbox={"boxstyle": "square,pad=0.15", "facecolor": fills[i], "edgecolor": "none"}
            if failed[i]
            else None,
        )

    ax.set_xlim(0, span_units)
    ax.set_ylim(-rows + 0.5, 0.5)
    if rows <= 30:
        ax.set_yticks([-d for d in range(rows)], [str(d) for d in range(rows)])
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{abs(v):g}"))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.set_ylabel("Depth (0 = root)")
    ax.set_xlabel(f"Time since the session started ({unit})")
    status = f", {int(failed.sum())} failed" if failed.any() else ""
    ax.set_title(
        f"{title}\n{len(one):,} spans, {seconds_label(total_ms / 1000)} total{status}",
        fontsize=11,
    )
    hidden = []
    if hidden_depth:
        hidden.append(f"{hidden_depth:,} spans deeper than {max_depth}")
    if hidden_narrow:
        hidden.append(f"{hidden_narrow:,} spans narrower than {limit_ms:g} ms")
    note(
        ax,
        "children laid out in order from the parent's start (spans carry no timestamps)"
        + (f"; hidden: {'; '.join(hidden)}" if hidden else ""),
    )
    present = {k[1]: k[2] for k in kinds}
    handles = [Patch(facecolor=c, label=name) for name, c in present.items()]
    if failed.any():
        handles.append(
            Patch(facecolor="white", edgecolor=FAILED, hatch="//", linewidth=1.6, label="failed")
        )
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=8,
        title="span kind",
        title_fontsize=8,
    )
    return ax


def operation_hotspots_chart(
    spans: pd.DataFrame,
    *,
    by: str = "operation",
    top: int = 15,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Where the time goes: the ``top`` operations (or ``by="path"``) by self time, summed over
    every span of every session (:func:`sessionkit.analysis.operation_hotspots`). A light bar is
    the total time (including children), the dark bar inside it the self time; labels give the
    share of all self time and the span count. ``kwargs`` go to the self-time
    :meth:`~matplotlib.axes.Axes.barh`."""
    title = f"Where the time goes: {by}s by self time"
    xlabel = "Time summed over sessions"
    if not len(spans):
        return no_data(axes(ax, (10, 3)), title, xlabel)
    require(spans, [by, "session_id", "duration", "self_duration"], "spans")
    spans = durations(spans, ["duration", "self_duration"], "spans")
    if not spans["duration"].notna().any():
        why = f"none of the {len(spans):,} spans has a duration"
        return no_data_because(axes(ax, (10, 3)), title, why, xlabel)
    table = analysis.operation_hotspots(spans, by=by)
    shown = table.head(top)
    if len(table) > top:
        title = f"Where the time goes: top {top} of {len(table)} {by}s by self time"
    title += f"\n{spans['session_id'].nunique():,} sessions, {len(spans):,} spans"
    ax = axes(ax, (10, 1.0 + 0.36 * max(len(shown), 2)))
    if not len(shown):
        return no_data(ax, title, xlabel)
    rows = shown.iloc[::-1]
    largest = float(rows["total"].max().total_seconds())
    unit, per = duration_unit(largest)
    positions = np.arange(len(rows))
    total = rows["total"].dt.total_seconds().to_numpy() / per
    self_time = rows["self"].dt.total_seconds().to_numpy() / per
    totals = ax.barh(positions, total, height=0.75, color="#CFCFCF", label="total (incl. children)")
    options: dict[str, Any] = {"height": 0.45, "color": "#0072B2", "label": "self"}
    options.update(kwargs)
    ax.barh(positions, self_time, **options)
    texts = ax.bar_label(
        totals,
        labels=[
            f"{share:.0%} of self time · {count:,} spans"
            for share, count in zip(rows["share_of_self"], rows["count"], strict=True)
        ],
        padding=4,
        fontsize=7.5,
        color="#555555",
    )
    ax.set_yticks(positions, [shorten(str(i), 48) for i in rows.index], fontsize=8)
    largest_bar = float(np.nanmax([total.max(), self_time.max(), 0.0]))
    # all-zero times: a unit-wide axis, not an identical low and high xlim
    make_room(ax, texts, minimum=largest_bar * 1.05 if largest_bar > 0 else 1.0)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title(title)
    ax.set_xlabel(f"{xlabel} ({unit})")
    legend_outside(ax)
    return ax
