"""The column → dtype contract of every sessionkit frame, in one place.

Each entity (sessions, eval runs, logs, spans, agents) is a tuple of :class:`Column`
entries: the column name, the *wire* type (what the API sends), the pandas dtype the
frame carries, the unit and a one-line meaning. Frame building (:mod:`sessionkit.frames`)
applies this table and nothing else decides a dtype; the README's dtype table is generated
from it (``python -m sessionkit.schema``) and a test checks the two agree.

Conventions
-----------
* Timestamps are ``datetime64[ns, UTC]`` — every RFC 3339 variant (``Z`` or a numeric
  offset, 0–9 fractional digits) normalised to UTC, exact to the nanosecond.
* Session ``duration``/``cpu_time`` arrive as integer **nanoseconds**; timeline span
  ``duration`` arrives as float **milliseconds**. Both become ``timedelta64[ns]``.
* Missing values never change a dtype: ``Int64``, ``boolean``, ``Float64`` and ``string``
  are pandas' nullable dtypes (``pd.NA`` for missing); costs are plain ``float64`` (NaN).
* Low-cardinality text is ``category``; ``severity`` is an *ordered* category.
* Free-form objects (session ``metadata``, eval ``result.metadata``) are expanded into
  ``metadata.<key>`` columns (nested keys joined with dots, a key holding a dot quoted) after
  the fixed columns; their dtypes follow the values (``sessionkit.frames``: a column no type
  holds exactly holds each value's JSON text).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pandas as pd
import pyarrow as pa

#: How the API sends a column; ``"added"``: sessionkit derives it (it is not on the wire).
Wire = Literal[
    "string", "timestamp", "int", "float", "bool", "ns", "ms", "string_list", "json", "added"
]

#: Known log severities, lowest first (syslog's ``NOTICE`` sits between INFO and WARN). Other
#: spellings are normalised by :data:`SEVERITY_ALIASES`; values that match neither are kept as
#: extra categories ordered after ``FATAL`` (and reported by a warning), never dropped.
SEVERITIES: tuple[str, ...] = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "ERROR", "FATAL")
SEVERITY_ALIASES: dict[str, str] = {
    "WARNING": "WARN",
    "ERR": "ERROR",
    "CRITICAL": "FATAL",
    "CRIT": "FATAL",
    "PANIC": "FATAL",
    "EMERGENCY": "FATAL",
    "INFORMATION": "INFO",
    "DBG": "DEBUG",
    "VERBOSE": "TRACE",
}

#: The eight session triggers the API documents.
TRIGGERS: tuple[str, ...] = (
    "agent",
    "api",
    "email",
    "sms",
    "cron",
    "manual",
    "discord",
    "websocket",
)
#: Sort keys and directions of ``GET /session``.
SORTS: tuple[str, ...] = ("created", "updated", "duration", "startTime")
DIRECTIONS: tuple[str, ...] = ("asc", "desc")

TIMESTAMP = pd.DatetimeTZDtype(unit="ns", tz="UTC")
TIMEDELTA = "timedelta64[ns]"
STRING = pd.StringDtype(storage="pyarrow")
BOOLEAN = pd.BooleanDtype()
INT64 = pd.Int64Dtype()
FLOAT64_NULLABLE = pd.Float64Dtype()
SEVERITY_DTYPE = pd.CategoricalDtype(list(SEVERITIES), ordered=True)


def unknown_severities(values: Iterable[object]) -> list[str]:
    """The distinct values of ``values`` (normalised severities) not in :data:`SEVERITIES`,
    sorted; missing values are ignored."""
    return sorted({str(v) for v in values if isinstance(v, str)} - set(SEVERITIES))


def severity_dtype(values: Iterable[object] = ()) -> pd.CategoricalDtype:
    """The logs' ordered severity dtype: :data:`SEVERITIES`, then the unknown values present in
    ``values`` (sorted) after ``FATAL``."""
    return pd.CategoricalDtype([*SEVERITIES, *unknown_severities(values)], ordered=True)


@dataclass(frozen=True)
class Column:
    """One column of a frame: its name, wire type, pandas dtype, unit and meaning."""

    name: str
    wire: Wire
    dtype: object
    unit: str = ""
    doc: str = ""

    @property
    def dtype_name(self) -> str:
        """The dtype as pandas prints it (``str(series.dtype)``)."""
        if isinstance(self.dtype, pd.CategoricalDtype):
            return "category"
        return str(pd.api.types.pandas_dtype(self.dtype))


def _c(name: str, wire: Wire, dtype: object, unit: str = "", doc: str = "") -> Column:
    return Column(name, wire, dtype, unit, doc)


AGENT_IDS_DTYPE = pd.ArrowDtype(pa.list_(pa.string()))

#: Text columns where the API's empty string means "none" (devmode sessions have no
#: deployment): they are missing in frames, as the analysis shows them, not a "" category.
EMPTY_IS_MISSING = frozenset({"deployment_id"})

SESSION_COLUMNS: tuple[Column, ...] = (
    _c("id", "string", STRING, "", "session id, sess_ + 32 hex"),
    _c("created_at", "timestamp", TIMESTAMP, "UTC", "when the session record was created"),
    _c("updated_at", "timestamp", TIMESTAMP, "UTC", "last change (completion, deletion)"),
    _c("start_time", "timestamp", TIMESTAMP, "UTC", "when the agent started"),
    _c("end_time", "timestamp", TIMESTAMP, "UTC", "when it ended; missing while pending"),
    _c("duration", "ns", TIMEDELTA, "ns", "wall time, from integer nanoseconds"),
    _c("cpu_time", "ns", TIMEDELTA, "ns", "CPU time, from integer nanoseconds"),
    _c("pending", "bool", BOOLEAN, "", "still running"),
    _c("success", "bool", BOOLEAN, "", "completed without error"),
    _c("error", "string", STRING, "", "error message of a failed session"),
    _c("trigger", "string", "category", "", "agent|api|email|sms|cron|manual|discord|websocket"),
    _c("env", "string", "category", "", "free text: production, preview, development, ..."),
    _c("devmode", "bool", BOOLEAN, "", "run from a developer machine"),
    _c("org_id", "string", "category", "", ""),
    _c("project_id", "string", "category", "", ""),
    _c("deployment_id", "string", "category", "", 'missing when the API sends "" (devmode)'),
    _c("agent_ids", "string_list", AGENT_IDS_DTYPE, "", "agentid_<40hex> and agent_<40hex> ids"),
    _c("thread_id", "string", STRING, "", ""),
    _c("method", "string", "category", "", "HTTP method of the triggering request"),
    _c("url", "string", STRING, "", "a path or an absolute URL"),
    _c("route_id", "string", "category", "", ""),
    _c("llm_cost", "float", "float64", "USD", "LLM spend (currency not stated by the API)"),
    _c("total_cost", "float", "float64", "USD", "total spend, >= llm_cost"),
    _c("llm_prompt_token_count", "int", INT64, "tokens", ""),
    _c("llm_completion_token_count", "int", INT64, "tokens", ""),
    _c("deleted", "bool", BOOLEAN, "", ""),
    _c("deleted_at", "timestamp", TIMESTAMP, "UTC", ""),
    _c("deleted_by", "string", STRING, "", ""),
    _c("user_data", "string", STRING, "", "a JSON string, kept as text"),
)

#: Columns the loaders add to sessions (never sent by the API): ``agent`` with
#: ``agent_names=True``, ``agent_id`` always; inserted after ``agent_ids``.
SESSION_ADDED_COLUMNS: tuple[Column, ...] = (
    _c("agent", "added", "category", "", "the agent's name, from one session detail per agent"),
    _c("agent_id", "added", "category", "", "the stable agent_<40hex> id among agent_ids"),
)

#: Names sessionkit gives columns of its own in a sessions table: the added columns above and
#: the store's ``day`` partition column. An unknown API field of one of these names is kept
#: as ``api.<name>`` (:func:`extra_name`), so it never shadows, or is shadowed by, ours.
RESERVED_NAMES: frozenset[str] = frozenset({c.name for c in SESSION_ADDED_COLUMNS} | {"day"})
#: Prefixes of the columns sessionkit names itself: ``metadata.<key>`` (an expanded
#: ``metadata`` object), ``result.<key>`` (an eval run's result) and ``api.<field>`` (this
#: rule's own). An unknown field whose name starts with one is kept as ``api.<name>`` too.
RESERVED_PREFIXES: tuple[str, ...] = ("metadata.", "result.", "api.")


def extra_name(field: str) -> str:
    """The column name of an unknown API field: itself, or ``api.<field>`` when sessionkit
    uses that name for a column of its own (:data:`RESERVED_NAMES`) or names columns with
    its prefix (:data:`RESERVED_PREFIXES`: a field ``metadata.x`` beside metadata key ``x``
    is ``api.metadata.x``). Distinct fields always get distinct names."""
    if field in RESERVED_NAMES or field.startswith(RESERVED_PREFIXES):
        return f"api.{field}"
    return field


EVAL_RUN_COLUMNS: tuple[Column, ...] = (
    _c("session_id", "string", STRING, "", "joins sessions.id"),
    _c("id", "string", STRING, "", "evalrun_ + 32 hex"),
    _c("eval_id", "string", "category", "", ""),
    _c("created_at", "timestamp", TIMESTAMP, "UTC", ""),
    _c("pending", "bool", BOOLEAN, "", ""),
    _c("success", "bool", BOOLEAN, "", "the eval itself ran without error"),
    _c("error", "string", STRING, "", "why the eval could not run"),
    _c("passed", "bool", BOOLEAN, "", "result.passed"),
    _c("score", "float", FLOAT64_NULLABLE, "0..1", "result.score"),
    _c("reason", "string", STRING, "", "result.reason"),
    _c("result_success", "bool", BOOLEAN, "", "result.success"),
    _c("result_error", "string", STRING, "", "result.error"),
)

LOG_COLUMNS: tuple[Column, ...] = (
    _c("session_id", "string", STRING, "", "joins sessions.id"),
    _c("timestamp", "timestamp", TIMESTAMP, "UTC", ""),
    _c(
        "severity",
        "string",
        SEVERITY_DTYPE,
        "",
        "ordered " + " < ".join(SEVERITIES) + "; other spellings kept as extra categories",
    ),
    _c("body", "string", STRING, "", ""),
    _c("severity_raw", "string", STRING, "", "severity exactly as sent"),
)

SPAN_COLUMNS: tuple[Column, ...] = (
    _c("session_id", "string", STRING, "", "joins sessions.id"),
    _c("span_id", "string", STRING, "", "node id"),
    _c("parent_id", "string", STRING, "", "missing for the root"),
    _c("depth", "int", INT64, "", "0 for the root"),
    _c("position", "int", INT64, "", "index among its siblings, in the order sent"),
    _c("operation", "string", "category", "", "e.g. HTTP POST, agent.run, gen_ai.chat"),
    _c(
        "path",
        "string",
        "category",
        "",
        "operations from the root, joined by ' > ' (32 levels at most, then ' > …')",
    ),
    _c("duration", "ms", TIMEDELTA, "ns", "span time, from float milliseconds"),
    _c("self_duration", "ms", TIMEDELTA, "ns", "duration minus children's, never negative"),
    _c("error", "string", STRING, "", "present on failed spans"),
    _c("agent_name", "string", "category", "", "attribute @agentuity/agentName"),
    _c("agent_id", "string", "category", "", "attribute @agentuity/agentId"),
    _c("http_method", "string", "category", "", "attribute http.method"),
    _c("http_path", "string", STRING, "", "attribute http.path"),
    _c("http_host", "string", "category", "", "attribute http.host"),
    _c("http_url", "string", STRING, "", "attribute http.url"),
    _c("storage_name", "string", "category", "", "key-value/vector/stream store name"),
    _c("storage_key", "string", STRING, "", "key (or query) used on the store"),
    _c("model", "string", "category", "", "attribute gen_ai.request.model"),
    _c("input_tokens", "int", INT64, "tokens", "attribute gen_ai.usage.input_tokens"),
    _c("output_tokens", "int", INT64, "tokens", "attribute gen_ai.usage.output_tokens"),
    _c("attributes", "json", STRING, "", "every attribute, as a JSON object string"),
)

AGENT_COLUMNS: tuple[Column, ...] = (
    _c("session_id", "string", STRING, "", "joins sessions.id"),
    _c("name", "string", "category", "", "agent name"),
    _c("identifier", "string", "category", "", "agent_<40hex> / agentid_<40hex>"),
)

ROUTE_COLUMNS: tuple[Column, ...] = (
    _c("session_id", "string", STRING, "", "joins sessions.id"),
    _c("route_id", "string", "category", "", "route.id"),
    _c("method", "string", "category", "", "route.method, upper case"),
    _c("path", "string", STRING, "", "route.path"),
)

ENTITIES: dict[str, tuple[Column, ...]] = {
    "sessions": SESSION_COLUMNS + SESSION_ADDED_COLUMNS,
    "eval_runs": EVAL_RUN_COLUMNS,
    "logs": LOG_COLUMNS,
    "spans": SPAN_COLUMNS,
    "agents": AGENT_COLUMNS,
    "routes": ROUTE_COLUMNS,
}


def columns(entity: str) -> tuple[Column, ...]:
    """The fixed columns the API sends for ``entity`` (one of :data:`ENTITIES`), in frame
    order; sessions without the :data:`SESSION_ADDED_COLUMNS`."""
    if entity == "sessions":
        return SESSION_COLUMNS
    try:
        return ENTITIES[entity]
    except KeyError:
        raise ValueError(f"unknown entity {entity!r}; expected one of {sorted(ENTITIES)}") from None


def markdown_table() -> str:
    """The dtype table of every entity as Markdown (the README embeds this output)."""
    lines: list[str] = []
    for entity, cols in ENTITIES.items():
        lines += [f"**{entity}**", "", "| column | dtype | unit | meaning |", "|---|---|---|---|"]
        lines += [
            f"| `{c.name}` | `{c.dtype_name}` | {c.unit} | "
            + ("added by sessionkit: " if c.wire == "added" else "")
            + f"{c.doc} |"
            for c in cols
        ]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - documentation helper
    sys.stdout.write(markdown_table())
