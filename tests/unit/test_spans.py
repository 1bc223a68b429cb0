"""Timeline flattening: order, self time, hostile shapes (deep, wide, cyclic, malformed)."""

from __future__ import annotations

from types import MappingProxyType

import pandas as pd
import pytest

import sessionkit as sk

TREE = {
    "id": "r",
    "operation": "HTTP POST",
    "duration": 100.0,
    "attributes": {"http.method": "POST", "http.path": "/api/x", "http.host": "h"},
    "children": [
        {
            "id": "a",
            "operation": "agent.run",
            "duration": 90.0,
            "attributes": {"@agentuity/agentName": "triage", "@agentuity/agentId": "agent_1"},
            "children": [
                {
                    "id": "k",
                    "operation": "agentuity.keyvalue.get",
                    "duration": 5.5,
                    "attributes": {},
                },
                {
                    "id": "l",
                    "operation": "gen_ai.chat",
                    "duration": 95.0,
                    "error": "RateLimitError",
                    "attributes": {
                        "gen_ai.request.model": "gpt-4o",
                        "gen_ai.usage.input_tokens": 1200,
                    },
                },
            ],
        },
        {
            "id": "h",
            "operation": "HTTP GET",
            "duration": 4.25,
            "attributes": {"http.url": "https://x.test/a"},
        },
    ],
}


def test_preorder_rows_depth_position_parent_and_path() -> None:
    df = sk.spans_frame([("s1", TREE)])
    assert df["span_id"].tolist() == ["r", "a", "k", "l", "h"]
    assert df["parent_id"].tolist()[1:] == ["r", "a", "a", "r"] and pd.isna(df["parent_id"].iloc[0])
    assert df["depth"].tolist() == [0, 1, 2, 2, 1] and str(df["depth"].dtype) == "Int64"
    assert df["position"].tolist() == [0, 0, 0, 1, 1]
    assert df["path"].iloc[3] == "HTTP POST > agent.run > gen_ai.chat"
    assert str(df["duration"].dtype) == "timedelta64[ns]"
    assert df["duration"].iloc[4] == pd.Timedelta(4.25, "ms")
    assert df["agent_name"].iloc[1] == "triage" and df["model"].iloc[3] == "gpt-4o"
    assert df["input_tokens"].iloc[3] == 1200 and df["http_url"].iloc[4] == "https://x.test/a"
    assert df["error"].iloc[3] == "RateLimitError" and df["error"].isna().sum() == 4


def test_self_duration_is_duration_minus_children_never_negative() -> None:
    df = sk.spans_frame([("s1", TREE)]).set_index("span_id")
    assert df.loc["r", "self_duration"] == pd.Timedelta(100 - 90 - 4.25, "ms")
    assert df.loc["a", "self_duration"] == pd.Timedelta(0)  # children (100.5 ms) ran concurrently
    assert df.loc["k", "self_duration"] == pd.Timedelta(5.5, "ms")


def _chain(depth: int) -> dict[str, object]:
    root: dict[str, object] = {"id": "n0", "operation": "op", "duration": float(depth)}
    node = root
    for i in range(1, depth):
        child: dict[str, object] = {"id": f"n{i}", "operation": "op", "duration": float(depth - i)}
        node["children"] = [child]
        node = child
    return root


def test_ten_thousand_levels_deep_without_recursion() -> None:
    df = sk.spans_frame([("s", _chain(10_000))])
    assert len(df) == 10_000 and df["depth"].max() == 9_999
    assert (df["self_duration"] == pd.Timedelta(1, "ms")).all()


def test_a_hundred_thousand_children_flatten_in_order() -> None:
    """(Time per node, flat from 10k to 1M nodes, is measured in benchmarks/bench_spans.py.)"""
    kids = [{"id": f"c{i}", "operation": "op", "duration": 1.0} for i in range(100_000)]
    root = {"id": "r", "operation": "root", "duration": 100_000.0, "children": kids}
    big = sk.spans_frame([("s", root)])
    assert len(big) == 100_001
    assert big["position"].iloc[1:].tolist() == list(range(100_000))
    assert (big["depth"].iloc[1:] == 1).all() and big["self_duration"].iloc[0] == pd.Timedelta(0)


def test_cyclic_and_malformed_nodes_are_reported_not_looped() -> None:
    cyclic: dict[str, object] = {"id": "r", "operation": "root", "duration": 1.0}
    cyclic["children"] = [
        cyclic,
        "junk",
        {"id": "ok", "operation": "x", "duration": 0.5, "children": 5},
    ]
    with pytest.warns(sk.SchemaWarning) as caught:
        df = sk.spans_frame([("s", cyclic)])
    assert df["span_id"].tolist() == ["r", "ok"]
    text = " ".join(str(w.message) for w in caught)
    assert "spans.timeline" in text and "spans.children" in text


def test_missing_timeline_gives_no_rows_and_full_columns() -> None:
    df = sk.spans_frame([("s", None)])
    assert len(df) == 0 and list(df.columns) == list(sk.empty_frame("spans").columns)


def test_paths_stop_at_the_maximum_depth_so_deep_chains_stay_linear() -> None:
    from sessionkit.spans import MAX_PATH_DEPTH, PATH_SEPARATOR

    df = sk.spans_frame([("s", _chain(MAX_PATH_DEPTH + 50))])
    paths = df["path"].astype(str)
    assert paths.iloc[MAX_PATH_DEPTH - 1].count(PATH_SEPARATOR) == MAX_PATH_DEPTH - 1
    capped = paths.iloc[MAX_PATH_DEPTH]
    assert capped == paths.iloc[MAX_PATH_DEPTH - 1] + PATH_SEPARATOR + "…"
    assert (paths.iloc[MAX_PATH_DEPTH:] == capped).all()
    assert df["path"].nunique() == MAX_PATH_DEPTH + 1


def test_runtime_attribute_names_are_read_first_and_plain_name_only_on_storage_spans() -> None:
    root = {
        "id": "r",
        "operation": "HTTP POST",
        "duration": 10.0,
        "attributes": {"http.method": "POST", "http.host": "agent.example", "name": "not-a-store"},
        "children": [
            {
                "id": "kv",
                "operation": "agentuity.keyvalue.get",
                "duration": 2.0,
                "attributes": {"name": "sessions-cache", "key": "cust:1"},
            },
            {
                "id": "fetch",
                "operation": "HTTP GET",
                "duration": 3.0,
                "attributes": {
                    "http.url": "https://api.partner.example/v2/x",
                    "http.path": "/v2/x",
                    "http.method": "GET",
                    "host": "api.partner.example",
                    "key": "not-a-key",
                },
            },
            {
                "id": "old",
                "operation": "agentuity.vector.search",
                "duration": 1.0,
                "attributes": {"@agentuity/storageName": "docs", "@agentuity/key": "q"},
            },
        ],
    }
    spans = sk.spans_frame([("sess_1", root)]).set_index("span_id")
    assert spans.at["kv", "storage_name"] == "sessions-cache"
    assert spans.at["kv", "storage_key"] == "cust:1"
    assert spans.at["fetch", "http_host"] == "api.partner.example"
    assert pd.isna(spans.at["fetch", "storage_key"]) and pd.isna(spans.at["r", "storage_name"])
    assert spans.at["r", "http_host"] == "agent.example"
    assert spans.at["old", "storage_name"] == "docs" and spans.at["old", "storage_key"] == "q"


def test_durations_past_what_nanoseconds_hold_are_reported_not_raised() -> None:
    """1e305 ms is infinite nanoseconds and 10**400 past a double: each is reported and
    missing, the row kept (the former build raised a bare OverflowError for either)."""
    root = {
        "id": "r",
        "operation": "op",
        "duration": 1e305,
        "children": [{"id": "c", "operation": "op", "duration": 10**400}],
    }
    with pytest.warns(sk.SchemaWarning) as caught:
        df = sk.spans_frame([("s", root)])
    assert df["span_id"].tolist() == ["r", "c"]
    assert df["duration"].isna().all() and df["self_duration"].isna().all()
    text = " ".join(str(w.message) for w in caught)
    assert "spans.duration: 2 value(s) could not be read as milliseconds" in text
    assert "spans.self_duration: 1 value(s)" in text


def test_attribute_and_error_objects_orjson_refuses_are_written_exactly() -> None:
    """An integer past 64 bits (json.loads reads them) in attributes or an error object is
    written exactly, and the odd attributes are named in a warning (the former build raised
    orjson's TypeError); a mapping that is no dict is read like a dict."""

    root = {
        "id": "r",
        "operation": "op",
        "attributes": {"trace": 2**70, "name": "é"},
        "error": {"code": 2**70},
        "children": [
            {"id": "m", "operation": "op", "attributes": MappingProxyType({"http.method": "GET"})}
        ],
    }
    with pytest.warns(sk.SchemaWarning, match="spans.attributes: 1 value.* orjson cannot write"):
        df = sk.spans_frame([("s", root)])
    assert df["attributes"].iloc[0] == '{"trace":1180591620717411303424,"name":"\\u00e9"}'
    assert df["error"].iloc[0] == '{"code":1180591620717411303424}'
    assert df["attributes"].iloc[1] == '{"http.method":"GET"}'
    assert df["http_method"].iloc[1] == "GET"
