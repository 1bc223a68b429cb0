"""Property-based tests (hypothesis): frame building never crashes, never loses a row, converts
every accepted value exactly and reports every rejected one."""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sessionkit as sk
from sessionkit import frames, jsonparse, schema

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)

DIGITS = st.integers(min_value=0, max_value=9)
OFFSETS = st.sampled_from(["Z", "z", "+00:00", "+02:00", "-05:30", "+14:00", ""])


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    stamp = draw(
        st.datetimes(
            min_value=pd.Timestamp("1971-01-01").to_pydatetime(),
            max_value=pd.Timestamp("2200-01-01").to_pydatetime(),
        )
    )
    digits = draw(DIGITS)
    frac = str(draw(st.integers(min_value=0, max_value=10**9 - 1))).zfill(9)[:digits]
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + ("." + frac if digits else "") + draw(OFFSETS)


FIELD_VALUES = {c.name: JSON for c in schema.SESSION_COLUMNS}
FIELD_VALUES["created_at"] = st.one_of(timestamps(), JSON)
FIELD_VALUES["duration"] = st.one_of(st.integers(min_value=0, max_value=2**63 - 1), JSON)


@st.composite
def session_records(draw: st.DrawFn) -> dict[str, object]:
    record: dict[str, object] = {"id": draw(st.text(min_size=1, max_size=12))}
    for name, strategy in FIELD_VALUES.items():
        if name != "id" and draw(st.booleans()):
            record[name] = draw(strategy)
    if draw(st.booleans()):
        record[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in FIELD_VALUES))] = (
            draw(JSON)
        )
    if draw(st.booleans()):
        record["metadata"] = draw(
            st.one_of(st.none(), st.dictionaries(st.text(min_size=1, max_size=5), JSON, max_size=3))
        )
    return record


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(session_records(), min_size=1, max_size=6))
def test_arbitrary_records_keep_every_row_and_convert_exactly(
    records: list[dict[str, object]],
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = sk.sessions_frame(records)
    assert len(frame) == len(records)
    reported = " ".join(str(w.message) for w in caught if issubclass(w.category, sk.SchemaWarning))
    for i, record in enumerate(records):
        created = record.get("created_at")
        value = frame.loc[i, "created_at"]
        if isinstance(created, str) and not pd.isna(value):
            assert value == pd.Timestamp(created.replace("z", "Z")).tz_convert("UTC")
        elif created is not None and pd.isna(value):
            assert "sessions.created_at" in reported
        duration = record.get("duration")
        got = frame.loc[i, "duration"]
        if isinstance(duration, int) and not isinstance(duration, bool) and 0 <= duration < 2**63:
            assert got == pd.Timedelta(duration, "ns")
        elif duration is not None and pd.isna(got):
            assert "sessions.duration" in reported
        for name in ("error", "url", "thread_id"):
            if isinstance(record.get(name), str):
                assert frame.loc[i, name] == record[name]
            elif record.get(name) is not None:
                assert f"sessions.{name}" in reported
        flag = record.get("success")
        if isinstance(flag, bool):
            assert frame.loc[i, "success"] == flag
        elif flag is not None:
            assert "sessions.success" in reported


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(max_size=8),
            st.dictionaries(
                st.sampled_from(["body", "severity", "timestamp", "x"]), JSON, max_size=4
            ),
        ),
        max_size=8,
    )
)
def test_arbitrary_log_lines_are_all_kept(lines: list[tuple[str, dict[str, object]]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = sk.logs_frame(lines)
    assert len(frame) == len(lines)
    assert frame["severity"].cat.ordered


@settings(max_examples=100, deadline=None)
@given(JSON)
def test_arbitrary_timelines_never_crash(timeline: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = sk.spans_frame([("s", timeline)])
    assert list(frame.columns) == [c.name for c in schema.SPAN_COLUMNS]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(session_records(), min_size=1, max_size=6),
    st.lists(st.integers(min_value=0, max_value=5), max_size=3),
)
def test_pages_with_lenient_literals_and_bad_bytes_give_the_records_roads_frame(
    records: list[dict[str, object]], corrupt: list[int]
) -> None:
    """The page road (raw bytes as the client receives them: NaN/Infinity literals, bytes that
    are not UTF-8 in some ids) keeps every row and builds exactly the records road's frame."""
    body = json.dumps({"success": True, "data": records}, allow_nan=True, ensure_ascii=False)
    raw = body.encode("utf-8", "surrogatepass")
    parts = raw.split(b'{"id": "')
    for k in set(corrupt):  # an invalid byte at the start of the k-th id
        if k + 1 < len(parts):
            parts[k + 1] = b"\xff" + parts[k + 1]
    raw = b'{"id": "'.join(parts)
    try:
        payload = jsonparse.loads(raw)
    except jsonparse.InvalidUTF8Error:
        raw, replaced = jsonparse.repair_utf8(raw)
        assert replaced >= 1
        payload = jsonparse.loads(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_pages = frames.sessions_frame_from_pages([raw])
        from_records = sk.sessions_frame(payload["data"])
    assert len(from_pages) == len(records)
    pd.testing.assert_frame_equal(from_pages, from_records)


# --------------------------------------------------------------------------- free-form values
# Random metadata built to collide (a nested path and a dotted key, a field `metadata.x` next
# to metadata key `x`), to mix kinds in one key (1 and "1", integers past 2**53 beside
# fractions, past 64 bits), with nulls, empty objects, lists and text Arrow would read as a
# time. The same sessions go through both roads — raw pages cut into random pages and batches
# (Arrow, then concat_tables), and all records at once (Python) — and must give the same
# frame, dtype for dtype, value for value; and every value sent must be in its column.

KEYS = st.sampled_from(["x", "y", "x.y", "", '"q', "a.", ".b", "metadata.x", "1"])
BIG_INTS = st.sampled_from(
    [2**53, 2**53 + 1, -(2**53) - 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]
)
STRINGS = st.sampled_from(
    ["1", "true", "null", '"q"', "", "x.y", "2026-01-01", "2026-01-01T10:00:00+02:00", "1.5"]
) | st.text(max_size=6)
FLOATS = st.sampled_from([1.0, -0.0, 0.5, 1e300, float("inf"), float("nan")]) | st.floats(
    allow_nan=False, allow_infinity=False
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), BIG_INTS, FLOATS, STRINGS)
LEAVES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=2),
    max_leaves=4,
)
METADATA = (
    st.recursive(
        LEAVES, lambda inner: st.dictionaries(KEYS, inner, max_size=3), max_leaves=8
    ).filter(lambda m: isinstance(m, dict))
    | st.none()
    | st.just({})
    | st.just([1])
    | st.just("m")
)
EXTRA_FIELDS = st.dictionaries(
    st.sampled_from(["metadata.x", "metadata", "api.metadata.x", "agent", "tags", "result.x"]),
    LEAVES,
    max_size=2,
)


@st.composite
def free_sessions(draw: st.DrawFn) -> list[dict[str, object]]:
    from tests.servers import session

    out = []
    for i in range(draw(st.integers(min_value=1, max_value=8))):
        extras = draw(EXTRA_FIELDS)
        row = session(i, **{k: v for k, v in extras.items() if k != "metadata"})
        row["metadata"] = extras["metadata"] if "metadata" in extras else draw(METADATA)
        out.append(row)
    return out


def _segment(key: str) -> str:
    """The test's own reading of the README's naming rule (not the code's)."""
    plain = key != "" and "." not in key and not key.startswith('"')
    return key if plain else json.dumps(key, ensure_ascii=False)


def _leaves(value: object, path: str) -> list[tuple[str, object]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{_segment(k)}")]
    return [] if value is None else [(path, value)]


def _same(got: object, sent: object, as_json: bool) -> bool:
    """Whether cell ``got`` holds the value ``sent``: decoded from JSON text in a JSON-text
    column; numbers equal as numbers (never a boolean for a number), NaN as NaN; lists and
    objects item by item."""
    if as_json:
        return _same(json.loads(str(got)), sent, False)
    if sent is None:
        return got is None or got is pd.NA
    if isinstance(sent, float) and math.isnan(sent):
        return isinstance(got, float) and math.isnan(got)
    if isinstance(sent, list):
        return (
            isinstance(got, list)
            and len(got) == len(sent)
            and all(_same(g, x, False) for g, x in zip(got, sent, strict=True))
        )
    if isinstance(sent, dict):
        return (
            isinstance(got, dict)
            and got.keys() == sent.keys()
            and all(_same(got[k], sent[k], False) for k in sent)
        )
    if isinstance(sent, bool) != isinstance(got, bool | np.bool_):
        return False
    return bool(got == sent)


def _column(field: str) -> str:
    """The column of an unknown top-level field, by the README's rule."""
    reserved = field in {"agent", "agent_id", "day"}
    return (
        f"api.{field}" if reserved or field.startswith(("metadata.", "result.", "api.")) else field
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(free_sessions(), st.data())
def test_both_roads_give_one_frame_of_free_form_values_and_lose_none(
    records: list[dict[str, object]], data: st.DataObject
) -> None:
    n = len(records)
    cuts = sorted(data.draw(st.sets(st.integers(1, n), max_size=n)) - {n})
    bounds = [0, *cuts, n]
    pages = [
        json.dumps({"success": True, "data": records[a:b]}, allow_nan=True).encode()
        for a, b in itertools.pairwise(bounds)
    ]
    per_batch = data.draw(st.integers(1, len(pages)))
    body = json.dumps({"success": True, "data": records}, allow_nan=True).encode()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = [
            frames.sessions_table_from_pages(pages[k : k + per_batch])
            for k in range(0, len(pages), per_batch)
        ]
        paged = frames.to_pandas(
            frames.concat_tables(tables, schema.SESSION_COLUMNS), schema.SESSION_COLUMNS
        )
        whole = sk.sessions_frame(jsonparse.loads(body)["data"])  # the records road, at once
    pd.testing.assert_frame_equal(paged, whole)
    assert paged.attrs == whole.attrs
    texts = set(whole.attrs.get(frames.JSON_COLUMNS, []))
    fixed = {c.name for c in schema.SESSION_COLUMNS} | {"metadata"}
    for i, record in enumerate(records):
        meta = record["metadata"]
        sent = _leaves(meta, "metadata") if isinstance(meta, dict) else []
        sent += [(_column(f), v) for f, v in record.items() if f not in fixed and v is not None]
        for name, value in sent:
            assert name in whole.columns, (name, value)
            assert _same(whole.loc[i, name], value, name in texts), (
                name,
                whole.loc[i, name],
                value,
            )
