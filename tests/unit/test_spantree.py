"""The forest of span trees: rows in pre-order with parent rows, depths and positions, read a
level at a time where that is safe, depth-first elsewhere, reporting what it skips in the
order a depth-first walk meets it."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from sessionkit import spantree

TREE = {
    "id": "r",
    "children": [
        {"id": "a", "children": [{"id": "a1"}, "junk2", {"id": "a2"}]},
        "junk1",
        {"id": "b", "children": {"not": "a list"}},
    ],
}


def parsed(value: Any) -> Any:
    """``value`` as a parsed API answer holds it: fresh objects, each held by one list."""
    return orjson.loads(orjson.dumps(value))


@pytest.fixture
def walked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many entries each call of the depth-first walk got (0: everything was read a
    level at a time)."""
    calls: list[int] = []
    real = spantree._walk_deep

    def spy(level: Any, roots: Any) -> Any:
        calls.append(len(level.entries))
        return real(level, roots)

    monkeypatch.setattr(spantree, "_walk_deep", spy)
    return calls


def check(forest: spantree.Forest) -> None:
    assert [n["id"] for n in forest.nodes] == ["r", "a", "a1", "a2", "b"]
    assert forest.parents.tolist() == [-1, 0, 1, 1, 0]
    assert forest.depths.tolist() == [0, 1, 2, 2, 1]
    assert forest.positions.tolist() == [0, 0, 0, 2, 2]  # skipped entries keep their place
    assert forest.counts.tolist() == [5]
    assert [(row, field, value) for row, _, field, _, value, _ in forest.events] == [
        (3, "timeline", "junk2"),  # met before a2 ...
        (4, "timeline", "junk1"),  # ... and junk1 after a's subtree, before b
        (4, "children", {"not": "a list"}),
    ]


def test_a_parsed_tree_is_read_a_level_at_a_time(walked: list[int]) -> None:
    wide = {"id": "r", "children": [{"id": f"c{i}"} for i in range(3 * spantree.WIDE)]}
    forest = spantree.forest([("s", parsed(wide))])
    assert walked == [0]  # nothing was left for the depth-first walk
    assert forest.positions.tolist() == [0, *range(3 * spantree.WIDE)]
    check(spantree.forest([("s", parsed(TREE))]))


def test_a_span_held_anywhere_else_sends_the_batch_depth_first(walked: list[int]) -> None:
    tree = parsed(TREE)
    held = tree["children"][0]  # noqa: F841 (a caller's variable: it could be reached twice)
    check(spantree.forest([("s", tree)]))
    assert walked == [1]  # from the root


def test_narrow_levels_below_the_second_are_walked_depth_first(walked: list[int]) -> None:
    chain: dict[str, Any] = {"id": "0"}
    node = chain
    for i in range(1, 50):
        node["children"] = [{"id": str(i)}]
        node = node["children"][0]
    del node
    forest = spantree.forest([("s", chain)])
    assert walked == [1]  # levels 0 and 1 read, the rest from level 2 depth-first
    assert forest.depths.tolist() == list(range(50))
    assert forest.parents.tolist() == [-1, *range(49)]


def test_cycles_and_shared_subtrees_are_skipped_at_their_second_visit_in_pre_order() -> None:
    shared: dict[str, Any] = {"id": "s", "children": [{"id": "s1"}]}
    root: dict[str, Any] = {"id": "r", "children": [shared, {"id": "x", "children": [shared]}]}
    root["children"][1]["children"].append(root)  # and a cycle back to the root
    forest = spantree.forest([("one", root), ("two", shared)])
    assert [n["id"] for n in forest.nodes] == ["r", "s", "s1", "x", "s", "s1"]
    assert forest.counts.tolist() == [4, 2]  # the second session reads the shared tree again
    repeats = [(row, value) for row, _, field, _, value, what in forest.events if "repeats" in what]
    assert repeats == [(4, "s"), (4, "r")]


@pytest.mark.parametrize("wide", [1, 2, 1000])
def test_every_reading_gives_the_same_forest(monkeypatch: pytest.MonkeyPatch, wide: int) -> None:
    monkeypatch.setattr(spantree, "WIDE", wide)
    sessions = [(f"s{k}", parsed(TREE)) for k in range(4)] + [("none", None), ("text", "{}")]
    forest = spantree.forest(sessions)
    assert forest.counts.tolist() == [5, 5, 5, 5, 0, 0]
    assert forest.parents[:5].tolist() == [-1, 0, 1, 1, 0]
    assert np.array_equal(
        forest.parents[5:10], np.where(forest.parents[:5] < 0, -1, forest.parents[:5] + 5)
    )
    assert forest.row_sessions.tolist() == [0] * 5 + [1] * 5 + [2] * 5 + [3] * 5
    assert forest.events[-1][2:5] == ("timeline", "text", "{}")  # a root that is no object
