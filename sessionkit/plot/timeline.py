"""One session's timeline as an icicle chart."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from ._style import FAILED, axes, colour, no_data

_KIND_COLOURS = {  # checked in this order: "agentuity." before "agent."
    "HTTP": colour(5),
    "agentuity.": colour(2),
    "agent.": colour(0),
    "gen_ai": colour(1),
    "cron": colour(4),
}
_KIND_LABELS = {
    "HTTP": "HTTP",
    "agentuity.": "storage",
    "agent.": "agent run",
    "gen_ai": "LLM call",
    "cron": "cron",
}


def _kind(operation: str) -> str:
    for prefix in _KIND_COLOURS:
        if operation.startswith(prefix):
            return prefix
    return "other"


def layout(spans: pd.DataFrame) -> pd.DataFrame:
    """x start and width (ms) of each span of ONE session, in the frame's (pre-)order.

    Nodes carry no timestamps, so children are laid out one after another from their parent's
    left edge and clipped to the parent's extent.
    """
    ids = spans["span_id"].astype(object).tolist()
    parents = spans["parent_id"].astype(object).tolist()
    ms = (spans["duration"].dt.total_seconds() * 1000).fillna(0.0).to_numpy()
    x = np.zeros(len(spans))
    width = np.zeros(len(spans))
    right: dict[object, float] = {}
    cursor: dict[object, float] = defaultdict(float)
    for i, (sid, parent) in enumerate(zip(ids, parents, strict=True)):
        if parent is None or parent is pd.NA or parent not in right:
            start, limit = 0.0, ms[i]
        else:
            start, limit = cursor[parent], right[parent]
        w = max(0.0, min(ms[i], limit - start))
        x[i], width[i] = start, w
        cursor[parent] = start + w
        cursor[sid] = start
        right[sid] = start + w
    return pd.DataFrame({"x": x, "width": width}, index=spans.index)


def timeline(
    spans: pd.DataFrame,
    *,
    session_id: str | None = None,
    max_depth: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Icicle chart of one session's spans: a row per depth (root on top), width = duration.

    ``session_id`` picks the session when ``spans`` holds several (default: the first).
    Failed spans get a red edge and hatching. Labels are drawn only where they fit.
    """
    if session_id is None and len(spans):
        session_id = str(spans["session_id"].iloc[0])
    one = spans[spans["session_id"] == session_id] if session_id is not None else spans
    if max_depth is not None:
        one = one[one["depth"] <= max_depth]
    depth_count = int(one["depth"].max()) + 1 if len(one) else 1
    ax = axes(ax, (10, 0.5 + 0.45 * depth_count))
    title = f"Timeline of {session_id}" if session_id else "Timeline"
    if not len(one):
        return no_data(ax, title, "Time since start")
    pos = layout(one)
    total = float(pos["width"].iloc[0]) or 1.0
    scale, unit = (1000.0, "s") if total >= 2000 else (1.0, "ms")
    depth = one["depth"].astype(int).to_numpy()
    failed = one["error"].notna().to_numpy()
    ops = one["operation"].astype(str).to_numpy()
    kinds = np.array([_kind(op) for op in ops])
    for kind in sorted(set(kinds)):
        for bad in (False, True):
            mask = (kinds == kind) & (failed == bad)
            if not mask.any():
                continue
            for d in sorted(set(depth[mask])):
                m = mask & (depth == d)
                bars = list(
                    zip(
                        pos["x"].to_numpy()[m] / scale,
                        pos["width"].to_numpy()[m] / scale,
                        strict=True,
                    )
                )
                ax.broken_barh(
                    bars,
                    (-d - 0.45, 0.9),
                    facecolors=_KIND_COLOURS.get(kind, "#999999"),
                    edgecolors=FAILED if bad else "white",
                    linewidth=2.0 if bad else 0.5,
                    hatch="//" if bad else None,
                )
    span_w = total / scale
    for i in range(len(one)):
        w = pos["width"].iloc[i] / scale
        chars = int(w / span_w * 110)
        if chars >= 4:
            text = ops[i] if len(ops[i]) <= chars else ops[i][: chars - 1] + "…"
            ax.text(
                pos["x"].iloc[i] / scale + w / 2,
                -depth[i],
                text,
                ha="center",
                va="center",
                fontsize=8,
                color="white" if _kind(ops[i]) == "agent." else "black",
                clip_on=True,
            )
    ax.set_xlim(0, span_w)
    ax.set_ylim(-depth_count + 0.4, 0.6)
    ax.set_yticks([-d for d in range(depth_count)], [str(d) for d in range(depth_count)])
    ax.set_ylabel("Depth")
    ax.set_xlabel(f"Time since start ({unit}; children laid out in order)")
    ax.set_title(title)
    handles = [
        Patch(facecolor=c, label=_KIND_LABELS[k])
        for k, c in _KIND_COLOURS.items()
        if k in set(kinds)
    ]
    if failed.any():
        handles.append(
            Patch(facecolor="white", edgecolor=FAILED, hatch="//", linewidth=2, label="failed span")
        )
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8
    )
    return ax
