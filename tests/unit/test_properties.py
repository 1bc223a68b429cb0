"""Property-based tests (hypothesis): frame building never crashes, never loses a row, converts
every accepted value exactly and reports every rejected one."""

from __future__ import annotations

import json
import warnings

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
