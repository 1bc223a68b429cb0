"""The vectorised spans build equals the former one-dict-per-span build, frame for frame.

``tests/unit/spans_reference.py`` keeps the former build as the oracle. Random forests —
deep, wide, cyclic, shared subtrees, junk entries, every field missing or of an odd type,
attributes of every JSON type with unicode keys and values — go through both: the frames must
be equal with their dtypes and categories, the warnings equal in order and text, and a
``strict`` or ``max_spans`` error the same error. ``spantree.WIDE`` is drawn too, so the
level-by-level reading and the depth-first walk both meet every shape, alone and mixed.

The trees are built inside the test from a drawn description, so each span object is held by
its parent's ``children`` list only (as a parsed API answer is) and the level reading is
really taken; the shared and cyclic cases add the second references on purpose.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import Any
from unittest.mock import patch

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import sessionkit as sk
from sessionkit import spantree
from sessionkit.spanattrs import _MARK
from sessionkit.spanattrs import ATTRIBUTE_COLUMNS as _ATTRIBUTE_COLUMNS
from tests.unit.spans_reference import reference_spans_frame

ABSENT = object()  # a key not sent at all
KNOWN_KEYS = sorted({k for keys in _ATTRIBUTE_COLUMNS.values() for k in keys})
OPERATIONS = [
    "HTTP POST",
    "HTTP GET",
    "agent.run",
    "agentuity.keyvalue.get",
    "agentuity.vector.search",
    "agentuity.",
    "gen_ai.chat",
    "",
    "?",
    "é > ü",
]

texts = st.text(max_size=6)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=6,
)
attribute_keys = st.one_of(st.sampled_from(KNOWN_KEYS), texts, st.integers(-3, 3))
attribute_values = st.one_of(
    texts,
    st.sampled_from(["POST", "gpt-4o", "db-1", "h.example", "", _MARK, "\x1e"]),
    st.lists(st.sampled_from([_MARK, "x"]), max_size=3),  # the text writer's marker
    st.binary(max_size=3),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6).map(float.__floor__).map(float),
    st.none(),
    st.booleans(),
    json_values,
)
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "id": st.one_of(texts, st.integers(0, 9), st.none(), st.binary(max_size=2)),
    "operation": st.one_of(st.sampled_from(OPERATIONS), texts, st.none(), st.integers(0, 3)),
    "duration": st.one_of(
        st.floats(min_value=0, max_value=1e5),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0.0, -0.0, 1e-7, 0.5e-6, 1.5e-6, 9.3e12, 9.3e15, -9.3e15, 1e300]),
        st.integers(min_value=-(2**62), max_value=2**62),
        st.booleans(),
        texts,
        st.none(),
    ),
    "attributes": st.one_of(
        st.dictionaries(attribute_keys, attribute_values, max_size=5),
        st.none(),
        st.lists(st.integers(), max_size=2),
        texts,
        st.integers(),
    ),
    "error": st.one_of(
        st.none(),
        st.booleans(),
        texts,
        st.fixed_dictionaries({"message": st.one_of(texts, st.integers())}),
        st.dictionaries(texts, scalars, max_size=2),
        st.lists(scalars, max_size=2),
        st.integers(),
        st.floats(allow_nan=True),
    ),
}
JUNK = st.one_of(st.none(), st.integers(), texts, st.lists(st.integers(), max_size=2))


@st.composite
def node_specs(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    """A description of one span: its fields (each maybe absent) and its children."""
    spec: dict[str, Any] = {}
    for name, values in FIELDS.items():
        if draw(st.integers(0, 5)):  # most fields present
            spec[name] = draw(values)
    if depth < 4 and draw(st.integers(0, 2)):
        width = draw(st.integers(0, 6))
        kids = []
        for _ in range(width):
            if draw(st.integers(0, 7)):
                kids.append(("node", draw(node_specs(depth + 1))))
            else:
                kids.append(("junk", draw(JUNK)))
        spec["children"] = kids
    elif draw(st.integers(0, 8)) == 0:
        spec["children"] = (
            "bad",
            draw(st.one_of(st.just({}), st.just(0), st.just(""), texts, st.integers())),
        )
    return spec


class Span(Mapping[str, Any]):
    """A span that is a mapping but no dict (the build must read it through ``.get``)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def build(spec: dict[str, Any], made: list[dict[str, Any]], mapping: bool) -> Any:
    """Fresh span objects from ``spec`` (each held by its parent's list only)."""
    node: dict[str, Any] = {k: v for k, v in spec.items() if k != "children"}
    made.append(node)
    kids = spec.get("children", ABSENT)
    if isinstance(kids, tuple):
        node["children"] = kids[1]
    elif kids is not ABSENT:
        node["children"] = [
            build(value, made, mapping) if kind == "node" else value for kind, value in kids
        ]
    return Span(node) if mapping else node


def chain_of(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {"id": "c0", "operation": "op", "duration": float(depth)}
    node = root
    for i in range(1, depth):
        child: dict[str, Any] = {"id": f"c{i}", "operation": f"op{i % 3}", "duration": 1.0}
        node["children"] = [child]
        node = child
    return root


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[Any, Any]]:
    """Timelines of a few sessions: drawn trees, a deep chain now and then, junk roots,
    ``None``, shared subtrees and cycles (second references added on purpose)."""
    out: list[tuple[Any, Any]] = []
    for k in range(draw(st.integers(1, 5))):
        session_id: Any = draw(
            st.one_of(st.just(f"sess_{k}"), st.just("sess_0"), st.integers(), st.none())
            if draw(st.integers(0, 9)) == 0
            else st.just(f"sess_{k}")
        )
        kind = draw(st.integers(0, 14))
        made: list[dict[str, Any]] = []
        root: Any
        if kind == 0:
            root = None
        elif kind == 1:
            root = draw(st.one_of(JUNK, st.just('{"id": "r", "operation": "x"}')))
        elif kind == 2:
            root = chain_of(draw(st.integers(30, 70)))
        else:
            root = build(draw(node_specs()), made, mapping=kind == 3)
        if made and draw(st.integers(0, 4)) == 0:  # a second reference: shared or a cycle
            source = made[draw(st.integers(0, len(made) - 1))]
            target = made[draw(st.integers(0, len(made) - 1))]
            if isinstance(target.get("children"), list):
                target["children"].insert(draw(st.integers(0, 3)), source)
        out.append((session_id, root))
    if len(out) > 1 and draw(st.booleans()):  # one tree object in two sessions (legitimate)
        out.append(("again", out[0][1]))
    return out


def run(fn: Any, timelines: Any, **kw: Any) -> tuple[Any, list[tuple[type, str]]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result: Any = fn(timelines, **kw)
        except sk.SessionKitError as exc:
            result = exc
    return result, [(w.category, str(w.message)) for w in caught]


def same(expected: Any, got: Any) -> None:
    if isinstance(expected, Exception):
        assert type(got) is type(expected) and str(got) == str(expected)
    else:
        assert not isinstance(got, Exception), got
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


SETTINGS = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(batches(), st.sampled_from([1, 2, 3, 128]), st.booleans())
def test_the_build_equals_the_reference(timelines: Any, wide: int, strict: bool) -> None:
    expected, expected_warnings = _reference(timelines, strict=strict)
    with patch.object(spantree, "WIDE", wide):
        got, got_warnings = run(sk.spans_frame, timelines, strict=strict)
    same(expected, got)
    assert got_warnings == expected_warnings


@SETTINGS
@given(batches(), st.sampled_from([1, 2, 128]), st.integers(-1, 12))
def test_max_spans_errors_equal_the_reference(timelines: Any, wide: int, cap: int) -> None:
    for strict in (False, True):
        expected, expected_warnings = _reference(timelines, strict=strict, max_spans=cap)
        with patch.object(spantree, "WIDE", wide):
            got, got_warnings = run(sk.spans_frame, timelines, strict=strict, max_spans=cap)
        same(expected, got)
        assert got_warnings == expected_warnings


def _reference(timelines: Any, **kw: Any) -> tuple[Any, list[tuple[type, str]]]:
    """The reference's frame (or SessionKitError) and warnings; an example it crashes on
    (an ``OverflowError`` of a huge duration: fixed, see ``test_spans.py``) is not drawn."""
    try:
        return run(reference_spans_frame, timelines, **kw)
    except (OverflowError, TypeError, ValueError):
        reject()


def test_the_comparison_can_fail() -> None:
    """The oracle is not the build itself: a changed frame or warning is caught."""
    tree = {"id": "r", "operation": "op", "duration": 2.0, "children": [{"duration": "x"}]}
    expected, expected_warnings = run(reference_spans_frame, [("s", tree)])
    got, got_warnings = run(sk.spans_frame, [("s", tree)])
    same(expected, got)
    assert got_warnings == expected_warnings and len(got_warnings) == 1
    changed = got.copy()
    changed.loc[1, "position"] = 1
    with pytest.raises(AssertionError):
        same(expected, changed)
