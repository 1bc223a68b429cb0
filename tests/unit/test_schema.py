"""The dtype table is the one home of every column a loader returns, added columns included."""

from __future__ import annotations

import pandas as pd

import sessionkit as sk
from sessionkit import schema
from sessionkit.details import routes_frame


def test_every_column_of_a_loaded_sessions_frame_is_in_the_table() -> None:
    sessions = sk.load_sessions(limit=20, progress=False)
    fixed = [c for c in sessions.columns if not c.startswith("metadata.")]
    table = {c.name: c for c in schema.ENTITIES["sessions"]}
    assert set(fixed) == set(table)
    for name in fixed:
        assert str(sessions[name].dtype) == table[name].dtype_name, name
    added = [c.name for c in schema.SESSION_ADDED_COLUMNS]
    assert added == ["agent", "agent_id"]
    at = fixed.index("agent_ids")
    assert fixed[at + 1 : at + 3] == added


def test_routes_are_typed_from_the_table() -> None:
    detail = {"route": {"id": "route_1", "method": "post", "path": "/hook"}}
    frame = routes_frame([("sess_1", detail), ("sess_2", {"route": None})])
    assert list(frame.columns) == [c.name for c in schema.ROUTE_COLUMNS]
    assert frame.to_dict("records") == [
        {"session_id": "sess_1", "route_id": "route_1", "method": "POST", "path": "/hook"}
    ]
    assert [str(t) for t in frame.dtypes] == [c.dtype_name for c in schema.ROUTE_COLUMNS]


def test_the_readme_table_marks_added_columns() -> None:
    text = schema.markdown_table()
    assert "| `agent_id` | `category` |  | added by sessionkit: " in text
    assert "**routes**" in text
    assert isinstance(schema.columns("sessions"), tuple)
    assert "agent" not in {c.name for c in schema.columns("sessions")}  # not sent by the API
    assert pd.api.types.is_string_dtype(schema.STRING)
