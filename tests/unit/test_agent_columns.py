"""The sessions' agent_id column: built in Arrow, equal to the pandas way of building it."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionkit.agents import STRING, string_category, with_agent_id


@given(st.lists(st.one_of(st.none(), st.sampled_from(["agent_b", "agent_a", "Agent_Z", "é", ""]))))
def test_string_category_equals_astype_category(values: list[str | None]) -> None:
    arr = pa.array(values, pa.string())
    expected = pd.Series(pd.array(values, dtype=STRING)).astype("category")
    pd.testing.assert_series_equal(pd.Series(string_category(arr)), expected)


@pytest.mark.parametrize("lists", [[["agentid_1", "agent_b"], ["agent_a"], [], None], []])
def test_with_agent_id_takes_the_first_stable_id(lists: list[list[str] | None]) -> None:
    frame = pd.DataFrame({"id": [f"s{i}" for i in range(len(lists))]})
    frame["agent_ids"] = pd.Series(lists, dtype=pd.ArrowDtype(pa.list_(pa.string())))
    out = with_agent_id(frame)
    assert list(out.columns) == ["id", "agent_ids", "agent_id"]
    assert isinstance(out["agent_id"].dtype, pd.CategoricalDtype)
    assert out["agent_id"].astype(object).where(out["agent_id"].notna(), None).tolist() == (
        ["agent_b", "agent_a", None, None] if lists else []
    )
