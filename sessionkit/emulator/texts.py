"""Per-session text of the synthetic project: error messages, timelines, eval runs and logs.

Everything here is a pure function of one session's :class:`SessionFacts` (numbers the dataset
drew for it) and RNGs seeded by ``(seed, row key, salt)`` (:func:`.catalog.row_rng`), so a
session renders the same way every time, in every process. The story is consistent: a failed
session's error appears on the failing span (and its ancestors), as an ERROR log line, and the
timeline's total equals the session's duration.

Span attributes use the names the Agentuity runtime sets (the spec's table): the root request
``http.method``/``http.host``/``http.user_agent``/``http.path``; ``agent.run``
``@agentuity/agentId``/``agentInstanceId``/``agentDescription``/``agentName`` and
``@agentuity/threadId`` (only when the session belongs to a thread); outbound fetches
``http.url``/``http.path``/``http.method``/``host``; storage calls plain ``name`` (the store) and
``key``; LLM calls the OpenTelemetry ``gen_ai.*`` names.

Imports: :mod:`.catalog` and :mod:`.incidents` (of the emulator), numpy and orjson.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import orjson

from .catalog import (
    AGENT_DESCRIPTIONS,
    AGENTS_HOST,
    EVALS,
    NS,
    PROFILES,
    STORES,
    AgentProfile,
    format_rfc3339,
    row_rng,
    stable_hex,
)
from .incidents import EVAL_ORDER, TARGETS


@dataclass(frozen=True)
class SessionFacts:
    """What the text of one session is derived from: its drawn numbers, as plain values.

    Times are ns since epoch; ``agent`` and ``nested`` are indexes into
    :data:`~.catalog.PROFILES` (``nested`` is -1 without a nested agent call); ``agent_names`` and
    ``agent_identifiers`` are the project's names and stable ids of every profile, by index;
    ``error`` is the session's error message (``None`` when it succeeded); ``base_now_ns`` is the
    dataset's own "now" (not a request's). ``store`` is the key-value store it reads (an index
    into :data:`~.catalog.STORES`), ``calls`` whether it calls its profile's outbound host;
    ``target`` (an index into :data:`.incidents.TARGETS`, -1 none) is the span a planted
    incident slowed by ``slow_ns``, ``fail_at`` the one a planted failure broke; ``eval_code``/``eval_shift`` the eval a planted
    incident shifted (an index into :data:`.incidents.EVAL_ORDER`, -1 none) and by how much.
    """

    seed: int
    key: int
    session_id: str
    thread_id: str
    agent: int
    nested: int
    trigger: str
    family: str
    model: str
    success: bool
    error: str | None
    start_ns: int
    end_ns: int
    duration_ns: int
    prompt_tokens: int
    completion_tokens: int
    agent_names: tuple[str, ...]
    agent_identifiers: tuple[str, ...]
    base_now_ns: int
    store: int = 0
    calls: bool = False
    target: int = -1
    fail_at: int = -1
    slow_ns: int = 0
    eval_code: int = -1
    eval_shift: float = 0.0

    def rng(self, salt: int) -> np.random.Generator:
        """The RNG of this session's text number ``salt`` (see :func:`.catalog.row_rng`)."""
        return row_rng(self.seed, self.key, salt)


_HOSTS = ("api.openai.com", "api.anthropic.com")
_TOOLS = (
    "crm.lookup_customer",
    "web.search",
    "pdf.extract_tables",
    "calendar.find_slot",
    "orders.get_status",
)
_FIELDS = (
    "invoice_total",
    "customer.email",
    "line_items[3].sku",
    "due_date",
    "summary",
    "priority",
)
_STORES = STORES
#: ``http.user_agent`` of the root request span, picked by row (no RNG draw).
_USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "curl/8.5.0",
    "python-httpx/0.28.1",
    "node",
)


def session_error(seed: int, key: int, family: str, agent_index: int, target: int = -1) -> str:
    """The error message of the failed session with row key ``key`` (its salt-2 RNG); a
    ``target`` (an index into :data:`.incidents.TARGETS`) names the host or store that broke."""
    where = TARGETS[target] if target >= 0 else ("", "")
    return error_message(family, row_rng(seed, key, 2), PROFILES[agent_index], where)


_ORG_CHARS = "AbCdEfGhJkLmNpQrStUvWxYz0123456789"


def _pick(rng: np.random.Generator, options: tuple[int, ...]) -> int:
    """One of ``options``, uniformly: the draw ``rng.choice(options)`` makes (the same bounded
    integer, so the same value and the same RNG state after), without its array conversion."""
    return options[int(rng.integers(0, len(options)))]


def _hexs(rng: np.random.Generator, n: int) -> str:
    return rng.bytes((n + 1) // 2).hex()[:n]


def error_message(
    family: str,
    rng: np.random.Generator,
    agent: AgentProfile,
    where: tuple[str, str] = ("", ""),
) -> str:
    """A realistic error message of ``family`` whose ids, numbers and quoted values vary;
    ``where`` (a :data:`.incidents.TARGETS` entry) names the host, store or model at fault."""
    kind, value = where
    if family == "auth_expired":
        host = value if kind == "host" else agent.host or "api.partner-2.example.com"
        return (
            f"AuthError: 401 Unauthorized from https://{host}/v1/token: credentials for client "
            f"cli_{_hexs(rng, 12)} expired {int(rng.integers(1, 90))} minutes ago"
        )
    if family == "schema_drift":
        field = _FIELDS[int(rng.integers(len(_FIELDS)))]
        return (
            f"SchemaError: response of tool '{_TOOLS[int(rng.integers(len(_TOOLS)))]}' is missing "
            f"required field '{field}' (schema version {int(rng.integers(2, 5))}, request req_{_hexs(rng, 16)})"
        )
    if family == "quota_exceeded":
        return (
            f"QuotaExceededError: monthly quota of {_pick(rng, (10000, 50000, 100000))} requests "
            f"exhausted for project proj_{_hexs(rng, 20)}; resets in {int(rng.integers(1, 28))} days"
        )
    if family == "kv_miss" and value.startswith("agentuity.keyvalue.get "):
        store = value.split(" ", 1)[1]
        return f"KeyNotFound: key 'cust:{int(rng.integers(1000, 99999))}:profile' not found in store '{store}'"
    if family == "upstream" and kind == "host":
        return (
            f"UpstreamError: GET https://{value}/v2/records/{_hexs(rng, 8)} returned "
            f"{_pick(rng, (500, 502, 503, 504))} after {int(rng.integers(120, 9000))}ms"
        )
    if family == "rate_limit" and kind == "model":
        agent = replace(agent, model=value)
    if family == "rate_limit":
        limit = _pick(rng, (30000, 60000, 200000))
        used = int(limit - rng.integers(10, 2000))
        org = "org-" + "".join(_ORG_CHARS[k] for k in rng.integers(0, len(_ORG_CHARS), 12).tolist())
        if agent.model.startswith("claude"):
            return (
                f"RateLimitError: 429 from api.anthropic.com: Number of request tokens has exceeded your "
                f"per-minute rate limit (request_id req_{_hexs(rng, 24)}); retry after {int(rng.integers(2, 60))}s"
            )
        return (
            f"RateLimitError: 429 from api.openai.com: Rate limit reached for {agent.model} in organization "
            f"{org} on tokens per min (TPM): Limit {limit}, Used {used}, Requested {int(rng.integers(300, 4000))}. "
            f"Please try again in {rng.uniform(0.5, 9):.3f}s."
        )
    if family == "tool_timeout":
        tool = _TOOLS[int(rng.integers(len(_TOOLS)))]
        return (
            f"ToolTimeoutError: tool '{tool}' did not respond within {_pick(rng, (15, 30, 30, 60))}s "
            f"(call_id call_{_hexs(rng, 16)}, attempt {int(rng.integers(1, 4))} of 3)"
        )
    if family == "validation":
        field = _FIELDS[int(rng.integers(len(_FIELDS)))]
        value = ("", "n/a", "2026-13-45", "-17.5", "null")[int(rng.integers(5))]
        return (
            f"ValidationError: 1 validation error for ExtractionResult\n{field}\n  Input should be a valid "
            f"value [type=value_error, input_value='{value}', input_type=str] (document doc_{_hexs(rng, 12)})"
        )
    if family == "kv_miss":
        store = _STORES[int(rng.integers(len(_STORES)))]
        return f"KeyNotFound: key 'cust:{int(rng.integers(1000, 99999))}:profile' not found in store '{store}'"
    if family == "context":
        limit = 128000 if agent.model.startswith("gpt") else 200000
        return (
            f"BadRequestError: context_length_exceeded: This model's maximum context length is {limit} tokens. "
            f"However, your messages resulted in {int(limit + rng.integers(100, 40000))} tokens. "
            f"Please reduce the length of the messages."
        )
    status = _pick(rng, (500, 502, 503, 504))
    url = f"https://api.partner-{int(rng.integers(1, 4))}.example.com/v2/records/{_hexs(rng, 8)}"
    return f"UpstreamError: GET {url} returned {status} after {int(rng.integers(120, 9000))}ms"


def _span(
    rng: np.random.Generator, operation: str, ms: float, attributes: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": _hexs(rng, 16),
        "operation": operation,
        "duration": round(float(ms), 3),
        "attributes": attributes,
    }


def build_timeline(facts: SessionFacts) -> dict[str, Any]:
    """The span tree of a completed session: root request → agent.run → storage/HTTP/LLM calls.

    Returns the root node (``duration`` in milliseconds, a float rounded to 3 decimals)."""
    rng = facts.rng(3)
    agent = PROFILES[facts.agent]
    total_ms = facts.duration_ns / 1e6
    slow_ms = facts.slow_ns / 1e6  # a planted incident's extra time, taken by its span
    error = facts.error
    body_ms = (total_ms - slow_ms) * rng.uniform(0.93, 0.99)
    run = _agent_run(facts, rng, facts.agent, body_ms, error, depth=1)
    if slow_ms > 0:
        _slow_down(run, facts.target, slow_ms)
    if facts.trigger == "cron":
        root = _span(rng, "cron.trigger", total_ms, {"cron.schedule": "0 6,12,18 * * *"})
    else:
        root = _span(
            rng,
            "HTTP POST",
            total_ms,
            {
                "http.method": "POST",
                "http.host": AGENTS_HOST,
                "http.user_agent": _USER_AGENTS[facts.key % len(_USER_AGENTS)],
                "http.path": agent.path,
            },
        )
    root["children"] = [run]
    if error:
        root["error"] = error
    return root


def _agent_run(
    facts: SessionFacts,
    rng: np.random.Generator,
    agent_index: int,
    budget_ms: float,
    error: str | None,
    depth: int,
) -> dict[str, Any]:
    """The ``agent.run`` span of profile ``agent_index`` (``depth`` 1 = the called agent, deeper
    = nested calls) with its children, sharing ``budget_ms`` milliseconds."""
    agent = PROFILES[agent_index]
    model = facts.model
    attributes = {
        "@agentuity/agentId": facts.agent_identifiers[agent_index],
        "@agentuity/agentInstanceId": "agentinst_"
        + stable_hex(facts.seed, f"inst:{facts.key}:{depth}", 32),
        "@agentuity/agentDescription": AGENT_DESCRIPTIONS[agent_index],
        "@agentuity/agentName": facts.agent_names[agent_index],
    }
    thread = facts.thread_id
    if thread:  # the session's own thread (sessions outside a thread have none)
        attributes["@agentuity/threadId"] = thread
    run = _span(rng, "agent.run", budget_ms, attributes)
    steps: list[tuple[str, dict[str, Any], float]] = []
    store = _STORES[facts.store] if depth == 1 else _STORES[int(rng.integers(len(_STORES)))]
    steps.append(
        (
            "agentuity.keyvalue.get",
            {"name": store, "key": f"cust:{int(rng.integers(1000, 99999))}:profile"},
            1,
        )
    )
    n_llm = {"research-assistant": int(rng.integers(3, 7)), "daily-digest": 3}.get(
        agent.name, int(rng.integers(1, 3))
    )
    for k in range(n_llm):
        if agent.name in ("research-assistant", "daily-digest"):
            steps.append(("HTTP GET", _fetch("GET", "search.example.org", "/q", _hexs(rng, 6)), 2))
            if k % 2 == 0:
                steps.append(
                    (
                        "agentuity.vector.search",
                        {"name": "knowledge", "key": f"query-{_hexs(rng, 6)}"},
                        1,
                    )
                )
        steps.append(
            (
                "gen_ai.chat",
                {
                    "gen_ai.system": "anthropic" if model.startswith("claude") else "openai",
                    "gen_ai.request.model": model,
                    "gen_ai.usage.input_tokens": int(facts.prompt_tokens / n_llm),
                    "gen_ai.usage.output_tokens": int(facts.completion_tokens / n_llm),
                },
                10,
            )
        )
    outbound = error is not None and facts.family in _OUTBOUND_FAMILIES and facts.fail_at < 0
    searcher = agent.name in ("research-assistant", "daily-digest")  # they call out in their loop
    if agent.host and not searcher and ((facts.calls or outbound) if depth == 1 else False):
        tool = _TOOLS[agent_index % len(_TOOLS)].split(".")[1]
        steps.insert(1, ("HTTP GET", _fetch("GET", agent.host, f"/v1/{tool}", _hexs(rng, 6)), 5))
    if agent.name == "doc-extractor":
        steps.insert(
            1,
            (
                "agentuity.stream.get",
                {"name": "uploads", "key": f"doc_{_hexs(rng, 12)}.pdf"},
                3,
            ),
        )
    steps.append(
        (
            "agentuity.keyvalue.set",
            {"name": "threads", "key": f"thread:{_hexs(rng, 10)}"},
            0.5,
        )
    )
    nested = facts.nested
    weights = np.array([w for _, _, w in steps]) * rng.uniform(0.6, 1.4, len(steps))
    child_budget = budget_ms * rng.uniform(0.85, 0.97)
    if nested >= 0 and depth < 3:
        child_budget *= 0.6
    shares = weights / weights.sum() * child_budget
    children = [_span(rng, op, ms, attrs) for (op, attrs, _), ms in zip(steps, shares, strict=True)]
    if nested >= 0 and depth < 3:
        sub = _agent_run(facts, rng, nested, budget_ms * 0.3, None, depth + 1)
        children.insert(len(children) - 1, sub)
    if error is not None:
        target = _failing_child(children, facts.family, facts.fail_at if depth == 1 else -1)
        target["error"] = error
        run["error"] = error
    if rng.random() < 0.08 and len(children) > 2:  # concurrent calls: children outlast the parent
        for child in children[1:3]:
            child["duration"] = round(child["duration"] * 3, 3)
    run["children"] = children
    return run


#: Families whose failing span is an outbound call: a session failing with one calls out
#: (to its profile's host) even when it would not have otherwise.
_OUTBOUND_FAMILIES = ("tool_timeout", "upstream", "auth_expired", "schema_drift")


def _fetch(method: str, host: str, path: str, query_id: str) -> dict[str, Any]:
    """Attributes of an outbound fetch span, as the runtime names them (``host`` unprefixed)."""
    return {
        "http.url": f"https://{host}{path}?id={query_id}",
        "http.path": path,
        "http.method": method,
        "host": host,
    }


def _matches(span: dict[str, Any], target: int) -> bool:
    """Whether ``span`` is one of :data:`.incidents.TARGETS` ``target`` (a host's fetch, a
    store's read, an operation, a model's call)."""
    kind, value = TARGETS[target]
    attributes = span.get("attributes") or {}
    if kind == "host":
        return span["operation"] == "HTTP GET" and attributes.get("host") == value
    if kind == "model":
        return attributes.get("gen_ai.request.model") == value
    if value.startswith("agentuity.keyvalue.get "):
        return (
            span["operation"] == "agentuity.keyvalue.get"
            and attributes.get("name") == value.split(" ", 1)[1]
        )
    return bool(span["operation"] == value)


def _slow_down(run: dict[str, Any], target: int, slow_ms: float) -> None:
    """Give ``slow_ms`` milliseconds more to the spans of ``target`` among ``run``'s children
    (shared evenly) and to ``run`` itself; the root's duration already holds them."""
    hits = [c for c in run["children"] if target >= 0 and _matches(c, target)]
    if not hits:  # nothing to slow: the agent's own work took the time
        hits = [run["children"][-1]]
    for child in hits:
        child["duration"] = round(child["duration"] + slow_ms / len(hits), 3)
    run["duration"] = round(run["duration"] + slow_ms, 3)


def _failing_child(children: list[dict[str, Any]], family: str, target: int = -1) -> dict[str, Any]:
    if target >= 0:
        for child in children:
            if _matches(child, target):
                return child
    wanted = {
        "rate_limit": "gen_ai.chat",
        "context": "gen_ai.chat",
        "validation": "gen_ai.chat",
        "kv_miss": "agentuity.keyvalue.get",
        "tool_timeout": "HTTP GET",
        "upstream": "HTTP GET",
        "auth_expired": "HTTP GET",
        "schema_drift": "HTTP GET",
        "quota_exceeded": "gen_ai.chat",
    }[family]
    for child in reversed(children):
        if child["operation"] == wanted:
            return child
    return children[-1]


_EVALS = EVALS


def build_eval_runs(facts: SessionFacts) -> list[dict[str, Any]]:
    """Eval runs of a completed session (wire objects): ``result`` as an object, or (older runs)
    as JSON text; an empty list for about a third of sessions."""
    rng = facts.rng(4)
    agent = PROFILES[facts.agent]
    shifted = EVAL_ORDER[facts.eval_code] if facts.eval_code >= 0 else ""
    if rng.random() < 0.35:
        return []
    end = facts.end_ns
    success = facts.success
    runs = []
    for k, name in enumerate(_EVALS[agent.name]):
        created = end + int(rng.integers(1, 20)) * NS + k * 1000
        pending = rng.random() < 0.02
        broken = not pending and rng.random() < 0.03
        base = 0.82 if success else 0.45
        if name == "json-valid":
            base = 0.95 if success else 0.3
        if name == shifted:  # a planted eval regression
            base += facts.eval_shift
        score = float(np.clip(rng.normal(base, 0.15), 0, 1))
        passed = score >= 0.6
        metadata = {"judge": "gpt-4o-mini", "eval_version": int(rng.integers(1, 4))}
        result: Any
        if broken:
            result = {
                "success": False,
                "passed": False,
                "error": "judge returned invalid JSON",
                "metadata": metadata,
            }
        elif pending:
            result = None
        else:
            result = {
                "success": True,
                "passed": passed,
                "score": round(score, 4),
                "reason": ("Meets the rubric" if passed else "Misses required details"),
                "metadata": metadata,
            }
        if (
            result is not None
            and created < facts.base_now_ns - 20 * 86400 * NS + 10 * 86400 * NS
            and rng.random() < 0.5
        ):
            result = orjson.dumps(result).decode()  # older servers send the result as a JSON string
        runs.append(
            {
                "id": f"evalrun_{rng.bytes(16).hex()}",
                "created_at": format_rfc3339(created // 1000 * 1000, 6, 0),
                "eval_id": f"eval_{stable_hex(facts.seed, 'eval:' + name, 24)}",
                "eval_name": name,
                "pending": pending,
                "success": not broken and not pending,
                "error": "judge returned invalid JSON" if broken else None,
                "result": result,
            }
        )
    return runs


def build_logs(facts: SessionFacts) -> list[tuple[int, dict[str, Any]]]:
    """``(timestamp ns, wire log line)`` of a session over its whole life, in time order (the
    caller cuts at its now)."""
    rng = facts.rng(5)
    agent = PROFILES[facts.agent]
    start = facts.start_ns
    end = facts.end_ns
    success = facts.success
    family = facts.family
    span = max(end - start, 1)
    name = facts.agent_names[facts.agent]
    lines: list[tuple[float, str, str]] = [
        (0.0, "INFO", f"session {facts.session_id} started: agent {name}"),
        (0.01, "DEBUG", f"loaded {int(rng.integers(1, 12))} items from key-value store"),
        (0.02, "TRACE", "prompt assembled"),
    ]
    for k in range(int(rng.integers(1, 4))):
        lines.append((0.1 + 0.2 * k, "DEBUG", f"calling model {agent.model} (attempt 1)"))
    if rng.random() < 0.25:
        lines.append(
            (
                0.5,
                ("WARN", "warning", "Warn")[int(rng.integers(3))],
                "retrying after 429 from provider (backoff 1.2s)",
            )
        )
    if success:
        lines.append(
            (
                0.98,
                ("INFO", "Info", "info")[int(rng.integers(3))],
                f"session completed in {span / 1e9:.2f}s",
            )
        )
    else:
        message = facts.error or ""
        lines.append((0.97, "ERROR", message.splitlines()[0]))
        if family in ("context", "upstream") and rng.random() < 0.3:
            lines.append((0.99, ("FATAL", "CRITICAL")[int(rng.integers(2))], "agent run aborted"))
    out = []
    for frac, severity, body in lines:
        ts = start + int(span * frac)
        ts = ts // 1000 * 1000
        out.append(
            (ts, {"body": body, "severity": severity, "timestamp": format_rfc3339(ts, 6, 0)})
        )
    return out
