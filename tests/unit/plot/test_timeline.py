"""The timeline's pure tables: :func:`layout` (where each span of one session sits) and
:func:`timeline_layout` (what :func:`timeline` draws), checked against positions worked out by
hand, and the chart checked to draw exactly the rows the table says are drawn."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import sessionkit as sk
from sessionkit import plot
from sessionkit.plot.timeline import layout, timeline_layout


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


# root 100 ms: a (80 ms: k 10 ms, l 90 ms failed -> clipped to 70), h 15 ms, t 0.2 ms
TREE: dict[str, Any] = {
    "id": "r",
    "operation": "HTTP POST",
    "duration": 100.0,
    "children": [
        {
            "id": "a",
            "operation": "agent.run",
            "duration": 80.0,
            "children": [
                {"id": "k", "operation": "agentuity.keyvalue.get", "duration": 10.0},
                {"id": "l", "operation": "gen_ai.chat", "duration": 90.0, "error": "boom"},
            ],
        },
        {"id": "h", "operation": "HTTP GET", "duration": 15.0},
        {"id": "t", "operation": "agentuity.vector.search", "duration": 0.2},
    ],
}
#: span -> (x ms, width ms, depth), by hand: children from the parent's left edge, clipped
WHERE = {
    "r": (0.0, 100.0, 0),
    "a": (0.0, 80.0, 1),
    "k": (0.0, 10.0, 2),
    "l": (10.0, 70.0, 2),
    "h": (80.0, 15.0, 1),
    "t": (95.0, 0.2, 1),
}


def _spans() -> pd.DataFrame:
    return sk.spans_frame([("sess_1", TREE)])


def _by_span(table: pd.DataFrame, spans: pd.DataFrame) -> pd.DataFrame:
    return table.assign(span=spans["span_id"]).set_index("span")


def test_layout_children_from_the_parents_left_edge_clipped() -> None:
    spans = _spans()
    pos = _by_span(layout(spans), spans)
    assert {k: tuple(v) for k, v in pos[["x", "width", "depth"]].iterrows()} == WHERE
    shuffled = spans.sample(frac=1.0, random_state=20261101)
    assert layout(shuffled).sort_index().equals(layout(spans))  # frame order does not matter


def test_timeline_layout_is_the_layout_with_operation_error_and_failed() -> None:
    spans = _spans()
    table = _by_span(timeline_layout(spans), spans)
    assert list(table.columns) == [
        "x",
        "width",
        "depth",
        "operation",
        "error",
        "failed",
        "hidden",
    ]
    assert {k: tuple(v) for k, v in table[["x", "width", "depth"]].iterrows()} == WHERE
    assert table.loc["k", "operation"] == "agentuity.keyvalue.get"
    assert table["failed"].tolist() == [False, False, False, True, False, False]
    assert table.loc["l", "error"] == "boom" and table["error"].isna().sum() == 5
    assert table["hidden"].isna().all()  # nothing hidden without max_depth or min_width


def test_timeline_layout_says_why_a_span_is_hidden() -> None:
    spans = _spans()
    table = _by_span(timeline_layout(spans, max_depth=1, min_width=pd.Timedelta("1ms")), spans)
    # k and l are at depth 2; t (0.2 ms) is narrower than 1 ms; l (70 ms) is hidden by depth
    assert table["hidden"].fillna("").to_dict() == {
        "r": "",
        "a": "",
        "k": "depth",
        "l": "depth",
        "h": "",
        "t": "width",
    }
    in_ms = timeline_layout(spans, min_width=12)  # a number is milliseconds
    assert _by_span(in_ms, spans)["hidden"].dropna().to_dict() == {"k": "width", "t": "width"}


def test_timeline_layout_picks_the_session_like_the_chart() -> None:
    other = sk.spans_frame([("sess_2", {"id": "x", "operation": "cron", "duration": 3e3})])
    both = pd.concat([_spans(), other], ignore_index=True)
    only = timeline_layout(both, session_id="sess_2")
    assert only[["x", "width", "depth"]].values.tolist() == [[0.0, 3000.0, 0]]
    assert list(only.index) == [6]  # indexed like the frame given
    with pytest.raises(sk.InvalidArgumentError, match=r"holds 2 sessions; pass session_id="):
        timeline_layout(both)


def test_timeline_layout_of_no_spans_is_an_empty_table() -> None:
    for empty in (sk.empty_frame("spans"), pd.DataFrame()):
        table = timeline_layout(empty)
        assert len(table) == 0 and "hidden" in table and table["x"].dtype == "float64"


def test_the_chart_draws_the_rows_the_table_says_are_drawn() -> None:
    spans = _spans()
    table = timeline_layout(spans, max_depth=1, min_width=1)
    drawn = table[table["hidden"].isna()]
    ax = plot.timeline(spans, max_depth=1, min_width=1)
    rects = []
    for collection in ax.collections:
        for path in collection.get_paths():
            v = path.vertices
            rects.append((float(v[:, 0].min()), float(v[:, 0].max() - v[:, 0].min())))
    assert sorted(rects) == sorted(zip(drawn["x"], drawn["width"], strict=True))
    assert ax.get_title().endswith(f"{len(drawn)} spans, 100 ms total")  # no failed one drawn
