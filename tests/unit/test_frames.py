"""Pure frame building: values and dtype names checked together, column by column."""

from __future__ import annotations

import json
import warnings

import orjson
import pandas as pd
import pytest

import sessionkit as sk
from sessionkit import frames, jsonparse, schema

SID = "sess_" + "a" * 32
SID2 = "sess_" + "b" * 32


def _session(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": SID,
        "created_at": "2026-11-27T12:00:00.123456789Z",
        "updated_at": "2026-11-27T14:00:01+02:00",
        "start_time": "2026-11-27T12:00:00Z",
        "end_time": "2026-11-27T12:00:01.5-00:00",
        "deleted": False,
        "deleted_at": None,
        "deleted_by": None,
        "duration": 1_500_000_001,
        "cpu_time": 900_000_000,
        "org_id": "org_1",
        "project_id": "proj_1",
        "deployment_id": "",
        "agent_ids": ["agentid_" + "1" * 40, "agent_" + "2" * 40],
        "trigger": "api",
        "env": "production",
        "devmode": False,
        "pending": False,
        "success": True,
        "error": None,
        "metadata": {"tier": "gold", "nested": {"n": 3}},
        "llm_cost": 0.0125,
        "total_cost": 0.02,
        "llm_prompt_token_count": 1200,
        "llm_completion_token_count": None,
        "method": "POST",
        "url": "/api/triage",
        "route_id": "route_1",
        "thread_id": None,
        "user_data": '{"a": 1}',
    }
    base.update(over)
    return base


def test_sessions_values_and_dtypes_together() -> None:
    df = sk.sessions_frame([_session()])
    expected = {
        "id": (SID, "string"),
        "created_at": (pd.Timestamp("2026-11-27T12:00:00.123456789Z"), "datetime64[ns, UTC]"),
        "updated_at": (pd.Timestamp("2026-11-27T12:00:01Z"), "datetime64[ns, UTC]"),
        "end_time": (pd.Timestamp("2026-11-27T12:00:01.5Z"), "datetime64[ns, UTC]"),
        "duration": (pd.Timedelta(1_500_000_001, "ns"), "timedelta64[ns]"),
        "cpu_time": (pd.Timedelta(900, "ms"), "timedelta64[ns]"),
        "success": (True, "boolean"),
        "trigger": ("api", "category"),
        "deployment_id": (None, "category"),  # "" (devmode) is missing
        "llm_cost": (0.0125, "float64"),
        "llm_prompt_token_count": (1200, "Int64"),
        "metadata.tier": ("gold", "string"),
        "metadata.nested.n": (3, "Int64"),
        "user_data": ('{"a": 1}', "string"),
    }
    for column, (value, dtype) in expected.items():
        assert str(df[column].dtype) == dtype, column
        if value is None:
            assert pd.isna(df[column].iloc[0]), column
            continue
        assert df[column].iloc[0] == value, column
    assert df["agent_ids"].iloc[0] == ["agentid_" + "1" * 40, "agent_" + "2" * 40]
    assert df["llm_completion_token_count"].isna().iloc[0]
    assert df["thread_id"].isna().iloc[0]
    assert "timeline" not in df.columns and "metadata" not in df.columns


def test_every_entity_has_full_columns_when_empty() -> None:
    for entity in schema.ENTITIES:
        cols = schema.columns(entity)  # what the API sends (sessionkit's added columns apart)
        df = sk.empty_frame(entity)
        assert list(df.columns) == [c.name for c in cols]
        assert [
            str(t) if not isinstance(t, pd.CategoricalDtype) else "category" for t in df.dtypes
        ] == [c.dtype_name for c in cols]
        assert len(df) == 0


def test_pages_road_equals_records_road() -> None:
    records = [
        _session(),
        _session(id=SID2, metadata=None, tags=["x"], success=False, error="boom", duration=None),
        _session(id="sess_" + "c" * 32, metadata={"tier": "silver", "extra": True}),
    ]
    pages = [
        orjson.dumps({"success": True, "data": records[:2]}),
        orjson.dumps({"success": True, "data": records[2:]}),
    ]
    fast = frames.sessions_frame_from_pages(pages)
    slow = sk.sessions_frame(records)
    pd.testing.assert_frame_equal(fast, slow)
    assert fast["metadata.tier"].tolist()[1] is pd.NA
    assert fast["tags"].iloc[0] is None or fast["tags"].isna().iloc[0]


def test_bad_values_become_missing_and_are_reported() -> None:
    records = [_session(), _session(id=SID2, duration="12", updated_at="yesterday", success="yes")]
    with pytest.warns(sk.SchemaWarning) as caught:
        df = sk.sessions_frame(records)
    messages = " ".join(str(w.message) for w in caught)
    assert "sessions.duration" in messages and SID2 in messages
    assert "sessions.updated_at" in messages and "sessions.success" in messages
    assert len(df) == 2
    assert (
        pd.isna(df.loc[1, "duration"])
        and pd.isna(df.loc[1, "updated_at"])
        and pd.isna(df.loc[1, "success"])
    )
    assert df.loc[0, "duration"] == pd.Timedelta(1_500_000_001, "ns")


def test_bad_values_on_the_pages_road_fall_back_and_keep_rows() -> None:
    page = orjson.dumps({"success": True, "data": [_session(), _session(id=SID2, duration="x")]})
    with pytest.warns(sk.SchemaWarning, match="sessions.duration"):
        df = frames.sessions_frame_from_pages([page])
    assert df["id"].tolist() == [SID, SID2]


def test_strict_raises() -> None:
    with pytest.raises(sk.SchemaError, match="duration"):
        sk.sessions_frame([_session(duration=[1])], strict=True)


def test_naive_timestamp_is_rejected_not_read_as_local() -> None:
    with pytest.warns(sk.SchemaWarning, match="zone"):
        df = sk.sessions_frame([_session(start_time="2026-11-27T12:00:00")])
    assert pd.isna(df.loc[0, "start_time"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T12:00:00Z", "2026-11-27T12:00:00"),
        ("2026-11-27T12:00:00.1Z", "2026-11-27T12:00:00.1"),
        ("2026-11-27T12:00:00.123456789+02:00", "2026-11-27T10:00:00.123456789"),
        ("2026-11-27T12:00:00.12345-05:30", "2026-11-27T17:30:00.12345"),
    ],
)
def test_timestamp_forms_normalise_to_utc_exactly(text: str, expected: str) -> None:
    df = sk.sessions_frame([_session(created_at=text)])
    assert df.loc[0, "created_at"] == pd.Timestamp(expected, tz="UTC")


def test_metadata_type_clash_across_batches_keeps_json_text_and_says_so() -> None:
    a = frames.sessions_table_from_records([_session(metadata={"k": 1})])
    b = frames.sessions_table_from_records([_session(id=SID2, metadata={"k": "one"})])
    with pytest.warns(
        sk.SchemaWarning, match=r"sessions\.metadata\.k: 2 value\(s\) \(1 integer, 1 string\)"
    ):
        table = frames.concat_tables([a, b], schema.SESSION_COLUMNS)
    df = frames.to_pandas(table, schema.SESSION_COLUMNS)
    assert df["metadata.k"].tolist() == ["1", '"one"']
    assert str(df["metadata.k"].dtype) == "string"
    assert df.attrs[frames.JSON_COLUMNS] == ["metadata.k"]


def test_eval_runs_result_object_or_string() -> None:
    runs = [
        (
            SID,
            {
                "id": "evalrun_1",
                "created_at": "2026-11-27T12:00:00Z",
                "eval_id": "eval_a",
                "pending": False,
                "success": True,
                "error": None,
                "result": {
                    "success": True,
                    "passed": True,
                    "score": 0.9,
                    "reason": "ok",
                    "metadata": {"judge": "m1"},
                },
            },
        ),
        (
            SID2,
            {
                "id": "evalrun_2",
                "created_at": "2026-11-27T12:00:00Z",
                "eval_id": "eval_a",
                "pending": False,
                "success": True,
                "error": None,
                "result": '{"success": false, "passed": false, "error": "judge timeout", "metadata": {}}',
            },
        ),
    ]
    df = sk.eval_runs_frame(runs)
    assert df["passed"].tolist() == [True, False] and str(df["passed"].dtype) == "boolean"
    assert df["score"].iloc[0] == 0.9 and str(df["score"].dtype) == "Float64"
    assert df["score"].isna().iloc[1]
    assert df["result_error"].tolist()[1] == "judge timeout"
    assert df["metadata.judge"].tolist()[0] == "m1"


def test_logs_severity_ordered_normalised_unknown_kept() -> None:
    lines = [
        (SID, {"body": "a", "severity": "warning", "timestamp": "2026-11-27T12:00:02Z"}),
        (SID, {"body": "b", "severity": "Info", "timestamp": "2026-11-27T12:00:01Z"}),
        (SID, {"body": "c", "severity": "CRITICAL", "timestamp": "2026-11-27T12:00:03Z"}),
        (SID, {"body": "d", "severity": "NOTE2SELF", "timestamp": "2026-11-27T12:00:04Z"}),
    ]
    with pytest.warns(sk.SchemaWarning, match="NOTE2SELF"):
        df = sk.logs_frame(lines)
    assert df["body"].tolist() == ["b", "a", "c", "d"]  # sorted by time
    assert df["severity"].tolist() == ["INFO", "WARN", "FATAL", "NOTE2SELF"]
    assert df["severity"].cat.ordered
    assert list(df["severity"].cat.categories[: len(schema.SEVERITIES)]) == list(schema.SEVERITIES)
    assert (df["severity"] >= "WARN").tolist() == [False, True, True, True]
    assert df["severity_raw"].tolist() == ["Info", "warning", "CRITICAL", "NOTE2SELF"]


def test_notice_is_its_own_severity_between_info_and_warn() -> None:
    lines = [
        (SID, {"body": "n", "severity": "notice", "timestamp": "2026-11-27T12:00:01Z"}),
        (SID, {"body": "i", "severity": "INFO", "timestamp": "2026-11-27T12:00:02Z"}),
        (SID, {"body": "w", "severity": "WARN", "timestamp": "2026-11-27T12:00:03Z"}),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a known severity: no "unknown severities" warning
        df = sk.logs_frame(lines)
    assert df["severity"].tolist() == ["NOTICE", "INFO", "WARN"]
    assert (df["severity"] > "INFO").tolist() == [True, False, True]
    assert (df["severity"] < "WARN").tolist() == [True, True, False]


def test_agents_frame() -> None:
    df = frames.agents_frame([(SID, {"name": "triage", "identifier": "agent_" + "1" * 40})])
    assert df["name"].tolist() == ["triage"] and str(df["name"].dtype) == "category"


def test_warnings_never_drop_rows() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = sk.sessions_frame([_session(id=1), _session(trigger=5), "junk"])  # type: ignore[list-item]
    assert len(df) == 2


def test_drop_repeated_removes_each_pages_overlap_with_the_page_before() -> None:
    import pyarrow as pa

    from sessionkit.client import Page

    pages = [
        Page(0, b"", ("a", "b", "c")),
        Page(2, b"", ("c", "d", "e"), repeated=frozenset({"c"})),
        Page(4, b"", ("e", "f"), repeated=frozenset({"e"})),
    ]
    table = pa.table({"id": [i for p in pages for i in p.ids], "n": range(8)})
    kept = frames.drop_repeated(table, pages)
    assert kept["id"].to_pylist() == ["a", "b", "c", "d", "e", "f"]
    assert kept["n"].to_pylist() == [0, 1, 2, 4, 5, 7]
    first = table.slice(0, 3)
    assert frames.drop_repeated(first, pages[:1]) is first  # nothing repeated: no copy
    with pytest.raises(sk.BadResponseError, match="rows were parsed from pages whose envelopes"):
        frames.drop_repeated(table, pages[:1])  # 8 rows parsed, 3 listed: refused
    renamed = first.set_column(0, "id", pa.array(["a", "x", "c"]))
    with pytest.raises(sk.BadResponseError, match="ids parsed from the page bodies differ"):
        frames.drop_repeated(renamed, pages[:1])


def test_an_empty_deployment_id_is_missing_on_both_roads() -> None:
    records = [
        {"id": "sess_1", "deployment_id": "", "devmode": True},
        {"id": "sess_2", "deployment_id": "deploy_1", "devmode": False},
    ]
    body = orjson.dumps({"success": True, "data": records})
    for frame in (sk.sessions_frame(records), sk.frames.sessions_frame_from_pages([body])):
        assert frame["deployment_id"].isna().tolist() == [True, False]
        assert list(frame["deployment_id"].cat.categories) == ["deploy_1"]


def test_concat_keeps_categories_and_the_severity_order() -> None:
    import sessionkit as sk

    a = pd.DataFrame({"env": pd.Categorical(["production"]), "n": pd.array([1], "Int64")})
    b = pd.DataFrame({"env": pd.Categorical(["preview"]), "extra": ["x"]})
    out = sk.concat([a, b])
    assert out["env"].dtype == pd.CategoricalDtype(["preview", "production"])
    assert out["env"].tolist() == ["production", "preview"]
    assert out["n"].dtype == "Int64" and out["extra"].isna().tolist() == [True, False]
    order = pd.CategoricalDtype(["DEBUG", "INFO", "ERROR"], ordered=True)
    logs = [pd.DataFrame({"severity": pd.Series(v, dtype=order)}) for v in (["INFO"], ["ERROR"])]
    assert sk.concat(logs)["severity"].dtype == order
    assert pd.concat(logs)["severity"].dtype == order  # the same order already stacks in pandas
    with pytest.raises(ValueError, match="at least one frame"):
        sk.concat([])


# --------------------------------------------------------------------------- free-form values


def _both_roads(records: list[dict[str, object]]) -> tuple[pd.DataFrame, list[str]]:
    """The frame of ``records`` from raw pages (one per record: several pages in one batch)
    and from the records themselves — asserted equal — and the SchemaWarnings of the pages."""
    pages = [json.dumps({"success": True, "data": [r]}).encode() for r in records]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paged = frames.sessions_frame_from_pages(pages)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = sk.sessions_frame(records)
    pd.testing.assert_frame_equal(paged, whole)
    assert paged.attrs == whole.attrs
    return paged, [str(w.message) for w in caught if issubclass(w.category, sk.SchemaWarning)]


def test_a_nested_path_and_a_dotted_key_get_their_own_columns_on_both_roads() -> None:
    """Before: both were `metadata.x.y` and the page road set one value to NA."""
    df, said = _both_roads(
        [_session(metadata={"x": {"y": 1}}), _session(id=SID2, metadata={"x.y": 2, "": 3})]
    )
    assert df["metadata.x.y"].tolist() == [1, pd.NA]
    assert df['metadata."x.y"'].tolist() == [pd.NA, 2]
    assert df['metadata.""'].tolist() == [pd.NA, 3]
    assert str(df["metadata.x.y"].dtype) == str(df['metadata."x.y"'].dtype) == "Int64"
    assert said == []


def test_a_field_named_like_a_metadata_column_is_kept_apart() -> None:
    """Before: a field `metadata.x` and metadata key `x` shared a column; one value was lost."""
    df, _ = _both_roads(
        [
            _session(metadata={"x": 1}, **{"metadata.x": "field", "api.agent": True}),
            _session(id=SID2, metadata={"x": 2}, agent="theirs"),
        ]
    )
    assert df["metadata.x"].tolist() == [1, 2]
    assert df["api.metadata.x"].tolist() == ["field", pd.NA]
    assert df["api.api.agent"].tolist() == [True, pd.NA]
    assert df["api.agent"].tolist() == [pd.NA, "theirs"]


@pytest.mark.parametrize(
    ("values", "texts", "kinds"),
    [
        ([2**53 + 1, 1.5], ["9007199254740993", "1.5"], "1 integer past ±2**53, 1 number"),
        ([2**64, 1], ["18446744073709551616", "1"], "1 integer, 1 integer past ±2**53"),
        ([-(2**63) - 1, None], ["-9223372036854775809", None], "1 integer past ±2**53"),
        ([1, "1"], ["1", '"1"'], "1 integer, 1 string"),
        ([True, 1.0], ["true", "1"], "1 boolean, 1 number"),
        ([[1, "a"], [{"o": 1.0}]], ['[1,"a"]', '[{"o":1}]'], "2 list"),
    ],
)
def test_values_no_column_type_holds_exactly_are_kept_as_json_text_and_said(
    values: list[object], texts: list[str | None], kinds: str
) -> None:
    """Before: 2**53+1 read as 2**53 on the page road, 2**64 as a float, 1 and "1" as "1"."""
    records = [_session(id=f"sess_{i}", metadata={"k": v}) for i, v in enumerate(values)]
    df, said = _both_roads(records)
    assert [None if v is pd.NA else v for v in df["metadata.k"]] == texts
    assert str(df["metadata.k"].dtype) == "string"
    assert df.attrs[frames.JSON_COLUMNS] == ["metadata.k"]
    assert [m for m in said if "metadata.k" in m] == [
        frames.widened_text("sessions.metadata.k", _kinds(kinds), "sess_0")
    ]
    decoded = [None if t is pd.NA else jsonparse.loads(str(t).encode()) for t in df["metadata.k"]]
    assert decoded == values


def _kinds(text: str) -> dict[str, int]:
    return {kind: int(n) for n, kind in (part.split(" ", 1) for part in text.split(", "))}


def test_integers_and_fractions_in_one_key_are_exact_floats_without_a_word() -> None:
    df, said = _both_roads(
        [_session(metadata={"k": 2**53}), _session(id=SID2, metadata={"k": 0.5})]
    )
    assert df["metadata.k"].tolist() == [2.0**53, 0.5] and str(df["metadata.k"].dtype) == "float64"
    assert said == [] and frames.JSON_COLUMNS not in df.attrs


def test_text_that_looks_like_a_time_stays_text_on_the_page_road() -> None:
    """Before: Arrow read it as a timestamp[s] (the +02:00 dropped) on the page road only."""
    when = "2026-01-01T10:00:00+02:00"
    df, _ = _both_roads([_session(metadata={"when": when, "days": ["2026-01-01"]})])
    assert df["metadata.when"].tolist() == [when] and str(df["metadata.when"].dtype) == "string"
    assert df["metadata.days"].tolist() == [["2026-01-01"]]


def test_metadata_that_is_no_object_is_reported_not_dropped_silently() -> None:
    df, said = _both_roads([_session(metadata="gold"), _session(id=SID2, metadata=[None, None])])
    assert len(df) == 2 and not [c for c in df.columns if c.startswith("metadata.")]
    assert any(
        m.startswith("sessions.metadata: 2 value(s) could not be read as a JSON object")
        for m in said
    )


def test_a_number_past_a_double_is_said_wherever_it_lands() -> None:
    body = orjson.dumps(
        {
            "success": True,
            "data": [
                _session(metadata={"f": "@INF@", "l": ["@INF@"], "mix": "@INF@"}),
                _session(id=SID2, metadata={"mix": "text"}),
            ],
        }
    ).replace(b'"@INF@"', b"1e400")
    with pytest.warns(sk.SchemaWarning) as caught:
        df = frames.sessions_frame_from_pages([body])
    said = " ".join(str(w.message) for w in caught)
    assert df["metadata.f"].iloc[0] == float("inf") and pd.isna(df["metadata.f"].iloc[1])
    assert df["metadata.l"].iloc[0] == [float("inf")]
    assert df["metadata.mix"].tolist() == ["Infinity", '"text"']
    assert "sessions.metadata.f: 1 value(s) are infinite" in said
    assert "sessions.metadata.l: 1 value(s) are infinite" in said
    assert (
        "sessions.metadata.mix: 2 value(s) (1 infinite number, 1 string) became JSON text" in said
    )


def test_eval_run_fields_never_collide_with_the_columns_of_their_result() -> None:
    """Before: a run field `metadata.x` or `result.k`, or a dotted result.metadata key, shared
    a column with (and was overwritten by) the result's own."""
    run = {
        "id": "evalrun_1",
        "metadata.x": "field",
        "result.k": "field",
        "metadata": "a field of the run",
        "result": {"k": {"deep": 1}, "metadata": {"x": 1, "a": {"b": 2}, "a.b": 3}},
    }
    df = sk.eval_runs_frame([(SID, run)])
    row = df.iloc[0]
    assert row["metadata.x"] == 1 and row["api.metadata.x"] == "field"
    assert row["metadata.a.b"] == 2 and row['metadata."a.b"'] == 3
    assert row["result.k"] == '{"deep":1}' and row["api.result.k"] == "field"
    assert row["metadata"] == "a field of the run"


def test_json_text_columns_survive_a_round_trip_through_pandas_into_the_store_form() -> None:
    from sessionkit.store._arrow import frame_to_table

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = sk.sessions_frame(
            [_session(metadata={"k": 1}), _session(id=SID2, metadata={"k": "1"})]
        )
    table = frame_to_table(df)
    assert table.schema.field("metadata.k").type == frames.JSON
    assert table["metadata.k"].to_pylist() == ["1", '"1"']
    picked = frame_to_table(df[df["id"] == SID2])  # a selection keeps the frame's attrs
    assert picked.schema.field("metadata.k").type == frames.JSON
    assert picked["metadata.k"].to_pylist() == ['"1"']
