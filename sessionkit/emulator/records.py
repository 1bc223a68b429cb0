"""Wire JSON of list records, encoded a column at a time: the fast path of ``GET /session``.

A list record is ``orjson.dumps`` of a dict whose keys come in a fixed order. Rendering a page
dict by dict costs a Python dict and an encoder call per row; here each field is encoded for
all rows of a page at once (one ``orjson.dumps`` per column, split at the commas, or a lookup
in a table of pre-encoded values) and a row is one bytes ``%`` format of its fields. Every
fragment comes from ``orjson`` itself, so the bytes are exactly those of the dict form.

Also here: the rule of a session's ``metadata`` object (its fields by agent profile and
metadata kind), as JSON fragments; :class:`~.dataset.Dataset` parses them when it needs dicts.

Imports: :mod:`.catalog` only (of the emulator), numpy and orjson.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from .catalog import AGENTS_HOST, PROFILES, TRIGGERS

#: The fields of a list record, in wire order; the last ``%s`` is the optional tail
#: (``metadata``, ``user_data``, ``region`` where present).
FIELDS = (
    "id",
    "created_at",
    "updated_at",
    "start_time",
    "end_time",
    "deleted",
    "deleted_at",
    "deleted_by",
    "duration",
    "cpu_time",
    "org_id",
    "project_id",
    "deployment_id",
    "agent_ids",
    "trigger",
    "env",
    "devmode",
    "pending",
    "success",
    "error",
    "llm_cost",
    "total_cost",
    "llm_prompt_token_count",
    "llm_completion_token_count",
    "method",
    "url",
    "route_id",
    "thread_id",
)
RECORD_TEMPLATE = b"{" + b",".join(orjson.dumps(name) + b":%s" for name in FIELDS) + b"%s}"
NULL = b"null"


def json_items(values: list[Any]) -> list[bytes]:
    """The compact JSON text of each of ``values`` (numbers, bools, ``None``, strings), in order.

    One ``orjson.dumps`` of the whole list, split at its commas; should a value's own text hold
    a comma (a string with one), each value is encoded alone instead."""
    if not values:
        return []
    items = orjson.dumps(values)[1:-1].split(b",")
    if len(items) != len(values):
        return [orjson.dumps(v) for v in values]
    return items


def table(values: list[Any]) -> np.ndarray:
    """An object array of the JSON text of each of ``values``: a lookup table by code."""
    out = np.empty(len(values), dtype=object)
    out[:] = [orjson.dumps(v) for v in values]
    return out


def fragments(prefix: str, values: list[Any]) -> np.ndarray:
    """An object array of ``,"prefix":<value JSON>`` for each of ``values`` (by code)."""
    head = b"," + orjson.dumps(prefix) + b":"
    out = np.empty(len(values), dtype=object)
    out[:] = [head + orjson.dumps(v) for v in values]
    return out


def render(columns: list[list[bytes]]) -> list[bytes]:
    """Records from one list of JSON fragments per field of :data:`FIELDS` plus the tail."""
    template = RECORD_TEMPLATE
    return [template % row for row in zip(*columns, strict=True)]


# ---------------------------------------------------------------------------- route and url

#: Whether a session of each trigger code has an HTTP route (cron and agent runs have none).
ROUTED = np.array([t not in ("cron", "agent") for t in TRIGGERS])
#: ``url`` by ``agent * 2 + (key % 4 != 0)``: absolute for every fourth row key, else the path.
URL_JSON = table(
    [u for agent in PROFILES for u in (f"https://{AGENTS_HOST}{agent.path}", agent.path)]
)
METHOD_JSON = orjson.dumps("POST")

# ---------------------------------------------------------------------------- metadata

_TIERS = ("free", "pro", "enterprise")
_CHANNELS = ("web", "mobile", "slack")
_CHANNEL_OF_TRIGGER = {"email": "email", "sms": "sms", "cron": "scheduler"}
_LANGUAGES = ("en", "en", "en", "es", "de", "fr")
_SOURCES = ("pdf", "docx", "html")
_EXPERIMENTS = ("prompt-v2", "control")
#: Profiles whose metadata names the customer (user id, language) and the document.
_CUSTOMER_AGENTS = np.array([a.name in ("support-triage", "sms-concierge") for a in PROFILES])
_DOCUMENT_AGENTS = np.array([a.name == "doc-extractor" for a in PROFILES])

_TIER_JSON = np.array([b'{"customer_tier":' + orjson.dumps(t) for t in _TIERS], dtype=object)
#: ``channel`` by ``trigger * 3 + m_channel``: the trigger's own channel, else the drawn one.
_CHANNEL_JSON = fragments(
    "channel",
    [_CHANNEL_OF_TRIGGER.get(t, c) for t in TRIGGERS for c in _CHANNELS],
)
_USER_JSON = fragments("user_id", [f"u_{u:05d}" for u in range(4000)])  # m_user < 4000
_LANGUAGE_JSON = fragments("language", list(_LANGUAGES))
_PAGES_JSON = fragments("document_pages", list(range(128)))
_SOURCE_JSON = fragments("source", [{"kind": s, "bucket": "uploads"} for s in _SOURCES])
_EXPERIMENT_JSON = fragments("experiment", list(_EXPERIMENTS))


def metadata_json(codes: dict[str, np.ndarray]) -> list[bytes | None]:
    """The ``metadata`` object of each row as JSON (``None`` where null or absent, i.e.
    ``meta_kind < 2``), from the rows' drawn codes: ``meta_kind``, ``agent``, ``trigger``,
    ``m_tier``, ``m_channel``, ``m_user``, ``m_lang``, ``m_pages``, ``m_src``, ``m_exp``.

    Fields in order: ``customer_tier``, ``channel``; ``user_id`` and ``language`` for the
    customer-facing agents; ``document_pages`` and ``source`` for the document extractor;
    ``experiment`` for kind 3."""
    kind = codes["meta_kind"]
    agent = codes["agent"].astype(np.intp)
    empty = np.full(len(kind), b"", dtype=object)
    customer = _CUSTOMER_AGENTS[agent]
    document = _DOCUMENT_AGENTS[agent]
    text = (
        _TIER_JSON[codes["m_tier"]]
        + _CHANNEL_JSON[codes["trigger"].astype(np.intp) * 3 + codes["m_channel"]]
        + np.where(customer, _USER_JSON[codes["m_user"]], empty)
        + np.where(customer, _LANGUAGE_JSON[codes["m_lang"]], empty)
        + np.where(document, _PAGES_JSON[codes["m_pages"]], empty)
        + np.where(document, _SOURCE_JSON[codes["m_src"]], empty)
        + np.where(kind == 3, _EXPERIMENT_JSON[codes["m_exp"]], empty)
        + b"}"
    )
    return [t if k >= 2 else None for t, k in zip(text.tolist(), kind.tolist(), strict=True)]


#: ``user_data`` (a JSON *string*) of a session that has one, by ``key % 50`` (the seat).
USER_DATA_JSON = fragments(
    "user_data",
    [orjson.dumps({"locale": "en-US", "plan": "pro", "seat": seat}).decode() for seat in range(50)],
)
METADATA_NULL = b',"metadata":null'
METADATA_HEAD = b',"metadata":'
USER_DATA_NULL = b',"user_data":null'
