"""The span flattening sessionkit shipped before the vectorised build: the oracle of the
equality tests (``test_spans_equal_reference.py``), kept in the tests only.

It is the former ``sessionkit/spans.py`` (``flatten_timeline`` and ``spans_frame``) unchanged
but for its name, reading the rule tables (attribute names from :mod:`sessionkit.spanattrs`, the path cap
from :mod:`sessionkit.spans`), so that a change of a rule is made once and both builds follow it.
One dict per span, checked value by value: about 15 µs a span.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import pandas as pd

from sessionkit import schema
from sessionkit.errors import SchemaError
from sessionkit.frames import Problems, _records_table, to_pandas
from sessionkit.spanattrs import ATTRIBUTE_COLUMNS as _ATTRIBUTE_COLUMNS
from sessionkit.spanattrs import STORAGE_ONLY as _STORAGE_ONLY
from sessionkit.spanattrs import STORAGE_PREFIX as _STORAGE_PREFIX
from sessionkit.spans import MAX_PATH_DEPTH, PATH_SEPARATOR


def _duration_ms(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def flatten_timeline(
    session_id: str, root: object, problems: Problems, *, max_nodes: int | None = None
) -> list[dict[str, Any]]:
    """One session's timeline → span rows (dicts with the spans frame's fields).

    ``duration``/``self_duration`` are returned in milliseconds (floats); the frame builder
    converts them. Malformed nodes are recorded in ``problems`` and skipped with their subtree.
    """
    rows: list[dict[str, Any]] = []
    if root is None:
        return rows
    seen: set[int] = set()
    # stack entries: (node, parent row index or -1, depth, position, parent path)
    stack: list[tuple[object, int, int, int, str]] = [(root, -1, 0, 0, "")]
    while stack:
        node, parent, depth, position, parent_path = stack.pop()
        if not isinstance(node, Mapping):
            problems.add("timeline", session_id, node, "a span object")
            continue
        if id(node) in seen:
            problems.add("timeline", session_id, node.get("id"), "a tree (the node repeats)")
            continue
        seen.add(id(node))
        if max_nodes is not None and len(rows) >= max_nodes:
            raise SchemaError(
                f"timeline of {session_id} has more than {max_nodes} spans; raise max_spans"
            )
        operation = node.get("operation")
        operation = operation if isinstance(operation, str) else None
        if depth > MAX_PATH_DEPTH:  # the parent's path already ends with the ellipsis
            path = parent_path
        elif depth == MAX_PATH_DEPTH:
            path = parent_path + PATH_SEPARATOR + "…"
        else:
            path = operation or "?"
            if parent_path:
                path = parent_path + PATH_SEPARATOR + path
        duration = _duration_ms(node.get("duration"))
        if duration is None and node.get("duration") is not None:
            problems.add("duration", session_id, node.get("duration"), "milliseconds (a number)")
        attributes = node.get("attributes")
        if attributes is not None and not isinstance(attributes, Mapping):
            problems.add("attributes", session_id, attributes, "an object")
            attributes = None
        node_id = node.get("id")
        row: dict[str, Any] = {
            "session_id": session_id,
            "span_id": node_id if isinstance(node_id, str) else None,
            "parent_id": rows[parent]["span_id"] if parent >= 0 else None,
            "depth": depth,
            "position": position,
            "operation": operation,
            "path": path,
            "duration": duration,
            "_children_ms": 0.0,
            "error": _error_text(node.get("error")),
        }
        attrs = attributes or {}
        storage = operation is not None and operation.startswith(_STORAGE_PREFIX)
        for column, keys in _ATTRIBUTE_COLUMNS.items():
            row[column] = next(
                (attrs[k] for k in keys if k in attrs and (storage or k not in _STORAGE_ONLY)),
                None,
            )
        row["attributes"] = (
            orjson.dumps(attrs, option=orjson.OPT_NON_STR_KEYS).decode() if attrs else None
        )
        index = len(rows)
        rows.append(row)
        if parent >= 0 and duration is not None:
            rows[parent]["_children_ms"] += duration
        children = node.get("children")
        if children is None:
            continue
        if not isinstance(children, list):
            problems.add("children", session_id, children, "a list of spans")
            continue
        for pos in range(len(children) - 1, -1, -1):
            stack.append((children[pos], index, depth + 1, pos, path))
    for row in rows:
        children_ms = row.pop("_children_ms")
        duration = row["duration"]
        row["self_duration"] = None if duration is None else max(0.0, duration - children_ms)
    return rows


def _error_text(value: object) -> str | None:
    if value is None or value is False:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("message"), str):
        return str(value["message"])
    return orjson.dumps(value, default=str).decode()


def reference_spans_frame(
    timelines: Iterable[tuple[str, object]], *, strict: bool = False, max_spans: int | None = None
) -> pd.DataFrame:
    """``(session_id, timeline_root)`` pairs → the typed spans frame, one row per node.

    Rows come in pre-order per session (a parent before its children, siblings in order).
    ``duration`` and ``self_duration`` are ``timedelta64[ns]`` converted from milliseconds.
    """
    problems = Problems("spans", strict)
    rows: list[dict[str, Any]] = []
    for session_id, root in timelines:
        rows.extend(flatten_timeline(session_id, root, problems, max_nodes=max_spans))
    table = _records_table(rows, schema.SPAN_COLUMNS, problems, id_field="session_id", extras=False)
    problems.warn()
    return to_pandas(table, schema.SPAN_COLUMNS)
