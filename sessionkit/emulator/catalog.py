"""The emulator's fixed vocabulary: agent profiles, error families, models, triggers, regions,
the planted incidents, deterministic ids and RFC 3339 time text.

Everything here is a constant or a pure function of its arguments (no dataset, no RNG state), so
every other emulator module may import it and it imports nothing of the emulator. Units: times
are ``int`` nanoseconds since the Unix epoch (UTC) unless a name says otherwise.

Imports: the standard library and numpy only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

NS = 1_000_000_000
DAY_NS = 86_400 * NS
#: The demo project's "now" (the end of its 30 days).
DEMO_END = "2026-11-27T12:00:00Z"
#: Sessions in the demo project (:func:`~sessionkit.emulator.load_demo`).
DEFAULT_SESSIONS = 3000
REGIONS = ("usw", "usc", "use")
TRIGGERS = ("agent", "api", "email", "sms", "cron", "manual", "discord", "websocket")
ENVS = ("production", "preview", "development")

#: USD per 1M tokens (input, output) — list prices the demo uses for llm_cost.
MODEL_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-haiku-3.5": (0.80, 4.00),
}
MODELS = tuple(MODEL_PRICES)


@dataclass(frozen=True)
class AgentProfile:
    """How one demo agent behaves."""

    name: str
    share: float  # of non-cron sessions
    triggers: dict[str, float]
    duration_s: float  # median wall time
    sigma: float  # lognormal spread
    prompt_tokens: float  # median prompt tokens
    completion_tokens: float
    model: str
    fail_rate: float
    families: dict[str, float]
    path: str
    deployments: int
    threads: float  # share of sessions that belong to a thread
    host: str = ""  # the outbound host its tool calls go to ("" = none)
    host_share: float = 0.0  # share of its sessions that call ``host``


AGENTS: tuple[AgentProfile, ...] = (
    AgentProfile(
        "support-triage",
        0.40,
        {"api": 0.45, "email": 0.35, "sms": 0.08, "websocket": 0.12},
        2.2,
        0.7,
        1800,
        350,
        "gpt-4o-mini",
        0.04,
        {"rate_limit": 0.35, "tool_timeout": 0.25, "kv_miss": 0.25, "validation": 0.15},
        "/api/triage",
        4,
        0.35,
        "crm.example-shop.com",
        0.3,
    ),
    AgentProfile(
        "doc-extractor",
        0.26,
        {"api": 0.8, "manual": 0.08, "agent": 0.12},
        11.0,
        0.8,
        9000,
        1200,
        "gpt-4o-mini",
        0.05,
        {"validation": 0.45, "context": 0.3, "upstream": 0.25},
        "/api/extract",
        3,
        0.0,
        "ocr.partner-1.example.com",
        0.3,
    ),
    AgentProfile(
        "research-assistant",
        0.16,
        {"manual": 0.35, "discord": 0.3, "api": 0.35},
        48.0,
        0.9,
        14000,
        2400,
        "claude-sonnet-4",
        0.07,
        {"rate_limit": 0.3, "tool_timeout": 0.3, "context": 0.25, "upstream": 0.15},
        "/api/research",
        3,
        0.45,
        "search.example.org",
        1.0,
    ),
    AgentProfile(
        "sms-concierge",
        0.18,
        {"sms": 0.6, "websocket": 0.4},
        3.5,
        0.6,
        2200,
        300,
        "claude-haiku-3.5",
        0.03,
        {"rate_limit": 0.3, "kv_miss": 0.4, "upstream": 0.3},
        "/api/concierge",
        2,
        0.55,
        "orders.example-shop.com",
        0.2,
    ),
    AgentProfile(
        "daily-digest",
        0.0,
        {"cron": 1.0},
        95.0,
        0.4,
        22000,
        1800,
        "gpt-4o",
        0.05,
        {"upstream": 0.5, "rate_limit": 0.5},
        "/cron/digest",
        2,
        0.0,
        "search.example.org",
        1.0,
    ),
)
#: ``@agentuity/agentDescription`` of each demo agent profile, by profile index.
AGENT_DESCRIPTIONS = (
    "Classifies inbound support requests and drafts a first reply",
    "Extracts structured fields from uploaded documents",
    "Researches a question across the web and the knowledge base, with citations",
    "Answers customer questions over SMS and chat",
    "Writes the daily digest of the project's activity",
    "Relays partner webhooks to the support queue",
)
#: A tiny agent, one of the demo's decoys: a handful of sessions, most of them failing — weak
#: evidence, not an incident. Not a profile of :data:`AGENTS` (no share, never drawn at random);
#: its sessions are placed by the generator. Its name follows the project's first agent name.
TINY_AGENT = AgentProfile(
    "webhook-relay",
    0.0,
    {"api": 1.0},
    1.2,
    0.5,
    900,
    120,
    "gpt-4o-mini",
    0.75,
    {"upstream": 1.0},
    "/api/webhook",
    1,
    0.0,
    "hooks.partner-3.example.com",
    1.0,
)
#: Every profile a session's agent code indexes: the five of :data:`AGENTS`, then the tiny one.
PROFILES: tuple[AgentProfile, ...] = (*AGENTS, TINY_AGENT)
CRON_HOURS = (6, 12, 18)
#: Error families the profiles fail with; the last three (:data:`NEW_FAMILIES`) appear only
#: through a planted incident (a new error family).
FAMILIES = (
    "rate_limit",
    "tool_timeout",
    "validation",
    "kv_miss",
    "context",
    "upstream",
    "auth_expired",
    "schema_drift",
    "quota_exceeded",
)
NEW_FAMILIES = FAMILIES[6:]

# the demo's deployment schedule puts these deployments on these days (agent, deployment index
# counted from 0, day): the failure and cost incidents of ``incidents.demo_plans``
FAILURE_INCIDENT = ("support-triage", 2, 18)  # failure rate 4% → 26%, mostly tool timeouts
COST_INCIDENT = ("doc-extractor", 1, 12)  # cost per session ~×3: whole documents in the prompt
FAILURE_INCIDENT_RATE = 0.26
#: The key-value stores an agent reads its profile from (one per session, drawn).
STORES = ("customers", "sessions-cache", "prompts", "threads")
#: Operations of the timelines that incidents can be located at (besides hosts, stores, models).
OPERATIONS = ("agentuity.vector.search", "agentuity.stream.get", "agentuity.keyvalue.set")
#: Every outbound host a profile calls (by first appearance).
HOSTS = tuple(dict.fromkeys(p.host for p in PROFILES if p.host))
#: Eval names each profile's sessions are judged by (by profile name).
EVALS: dict[str, tuple[str, ...]] = {
    "support-triage": ("helpfulness", "tone", "pii-leak"),
    "doc-extractor": ("json-valid", "faithfulness"),
    "research-assistant": ("faithfulness", "helpfulness", "citation-check"),
    "sms-concierge": ("tone", "pii-leak"),
    "daily-digest": ("faithfulness",),
    "webhook-relay": (),
}
EVAL_NAMES = tuple(dict.fromkeys(name for names in EVALS.values() for name in names))

#: The host absolute session ``url`` values and root request spans name.
AGENTS_HOST = "agents.example-shop.com"


# ---------------------------------------------------------------------------- deterministic ids


def stable_hex(seed: int, label: str, n: int) -> str:
    """A stable lowercase hex string of ``n`` digits from ``(seed, label)`` (blake2b, no ``hash()``)."""
    out = ""
    counter = 0
    while len(out) < n:
        out += hashlib.blake2b(f"{seed}:{label}:{counter}".encode(), digest_size=32).hexdigest()
        counter += 1
    return out[:n]


def session_id(seed: int, key: int) -> str:
    """The wire id (``sess_`` + 32 hex) of the session drawn with row key ``key``."""
    return f"sess_{stable_hex(seed, f's{key}', 32)}"


def thread_id(seed: int, thread: int) -> str:
    """The wire thread id of thread number ``thread``; ``""`` when ``thread < 0`` (no thread)."""
    return "" if thread < 0 else f"thrd_{stable_hex(seed, f't{thread}', 24)}"


def route_id(seed: int, agent_index: int) -> str:
    """The wire route id (``route_`` + 24 hex) of agent profile ``agent_index``'s HTTP route."""
    return f"route_{stable_hex(seed, f'r{agent_index}', 24)}"


def deleted_by(seed: int) -> str:
    """The user id (``user_`` + 27 hex) every deleted session names as ``deleted_by``."""
    return f"user_{stable_hex(seed, 'admin', 27)}"


def dev_key(agent_index: int, name: str) -> str:
    """The label devmode ``agentid_`` ids are derived from (the demo's own stays as it was)."""
    return f"dev{agent_index}" if name == PROFILES[agent_index].name else f"dev:{name}"


def tiny_agent_name(names: tuple[str, ...]) -> str:
    """The tiny decoy agent's name in a project whose five agents are ``names``: the demo's
    ``webhook-relay``, else ``<first name>-webhook`` (so no demo name shows elsewhere)."""
    if names == tuple(a.name for a in AGENTS):
        return TINY_AGENT.name
    return f"{names[0]}-webhook"


def row_rng(seed: int, key: int, salt: int) -> np.random.Generator:
    """The RNG one text of one session is drawn from: seeded by ``(seed, row key, salt)``.

    Salts: 2 the error message, 3 the timeline, 4 the eval runs, 5 the logs.
    """
    # what np.random.default_rng([seed, key, salt]) builds, without its argument dispatch
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, key, salt])))


# ---------------------------------------------------------------------------- time text

#: Zone suffix and offset (minutes east of UTC) of each RFC 3339 form a row may print.
_ZONE_SUFFIX = ("Z", "+02:00", "-05:00", "+00:00")
_ZONE_MINUTES = np.array((0, 120, -300, 0), dtype=np.int64)
_WIDTH = 35  # YYYY-MM-DDTHH:MM:SS + . + 9 digits + ±HH:MM
_DASH = ord("-")


def _digit_codes(width: int) -> np.ndarray:
    """Code points of ``f"{v:0{width}d}"`` for every ``v`` below ``10**width``: one row each."""
    values = np.arange(10**width)[:, None]
    return (values // 10 ** np.arange(width - 1, -1, -1) % 10 + ord("0")).astype(np.uint32)


_DIGITS4 = _digit_codes(4)  # 0000..9999
_DIGITS3 = _digit_codes(3)
_DIGITS2 = _digit_codes(2)
_SECONDS = np.arange(86_400)
_CLOCK = np.concatenate(
    [
        np.full((86_400, 1), ord("T"), dtype=np.uint32),
        _DIGITS2[_SECONDS // 3600],
        np.full((86_400, 1), ord(":"), dtype=np.uint32),
        _DIGITS2[_SECONDS // 60 % 60],
        np.full((86_400, 1), ord(":"), dtype=np.uint32),
        _DIGITS2[_SECONDS % 60],
    ],
    axis=1,
)  # THH:MM:SS of every second of a day
#: Columns 19.. of a time text by (digits, form): which computed fraction characters stay
#: (``_TAIL_KEEP``) and what is added on top (``_TAIL``: the '.', the zone suffix).
_TAIL_KEEP = np.zeros((10, _WIDTH - 19), dtype=np.uint32)
_TAIL = np.zeros((10, 4, _WIDTH - 19), dtype=np.uint32)
for _d in range(10):
    _TAIL_KEEP[_d, 1 : 1 + _d] = 1
    for _f, _suffix in enumerate(_ZONE_SUFFIX):
        _tail = ("." + "\0" * _d if _d else "") + _suffix
        _TAIL[_d, _f, : len(_tail)] = [0 if ch == "\0" else ord(ch) for ch in _tail]
del _d, _f, _suffix, _tail


def iso_ns(ns: int) -> str:
    """``ns`` since epoch as ``YYYY-MM-DDTHH:MM:SS.fffffffffZ`` (always 9 digits, UTC)."""
    return str(np.datetime64(int(ns), "ns")) + "Z"


def parse_iso(text: str) -> int:
    """RFC 3339 (Z or offset, 0–9 digits) → ns since epoch, exactly."""
    text = text.strip()
    offset_ns = 0
    if text.endswith(("Z", "z")):
        body = text[:-1]
    else:
        sign = 1 if text[-6] == "+" else -1
        hours, minutes = int(text[-5:-3]), int(text[-2:])
        offset_ns = sign * (hours * 3600 + minutes * 60) * NS
        body = text[:-6]
    return int(np.datetime64(body, "ns").astype(np.int64)) - offset_ns


def format_rfc3339(ns: int, digits: int, form: int) -> str:
    """``ns`` as RFC 3339 with ``digits`` fractional digits (0–9; the ns must be a multiple of the
    implied unit to stay exact) and zone ``form``: 0 → ``Z``, 1 → ``+02:00``, 2 → ``-05:00``,
    3 → ``+00:00``."""
    return format_rfc3339_many(np.array([ns], dtype=np.int64), [digits], [form])[0]


def format_rfc3339_many(
    ns: np.ndarray, digits: np.ndarray | list[int], forms: np.ndarray | list[int]
) -> list[str]:
    """:func:`format_rfc3339` of every element of ``ns`` (int64 ns since epoch) at once, with
    per-element ``digits`` and zone ``forms``; returns one string per element, in order.

    Vectorised: the characters are assembled as a code-point matrix from digit tables and
    read back as strings, with no per-element formatting."""
    form = np.asarray(forms, dtype=np.intp)
    dig = np.asarray(digits, dtype=np.intp)
    local = np.asarray(ns, dtype=np.int64) + _ZONE_MINUTES[form] * (60 * NS)
    seconds, frac = np.divmod(local, NS)
    day = seconds.astype("datetime64[s]").astype("datetime64[D]")
    month_start = day.astype("datetime64[M]")
    year = month_start.astype("datetime64[Y]").astype(np.intp) + 1970
    month = month_start.astype(np.intp) % 12 + 1
    day_of_month = (day - month_start).astype(np.intp) + 1
    second_of_day = (seconds - day.astype("datetime64[s]").astype(np.int64)).astype(np.intp)
    frac_ms, frac_us_ns = np.divmod(frac, 1_000_000)
    frac_us, frac_ns = np.divmod(frac_us_ns, 1000)
    chars = np.empty((len(form), _WIDTH), dtype=np.uint32)
    take = np.take
    chars[:, 0:4] = take(_DIGITS4, year, axis=0)
    chars[:, 4] = _DASH
    chars[:, 5:7] = take(_DIGITS2, month, axis=0)
    chars[:, 7] = _DASH
    chars[:, 8:10] = take(_DIGITS2, day_of_month, axis=0)
    chars[:, 10:19] = take(_CLOCK, second_of_day, axis=0)  # THH:MM:SS
    chars[:, 20:23] = take(_DIGITS3, frac_ms, axis=0)
    chars[:, 23:26] = take(_DIGITS3, frac_us, axis=0)
    chars[:, 26:29] = take(_DIGITS3, frac_ns, axis=0)
    chars[:, 29:] = 0
    # from the '.' on: the kept fraction digits, then the zone, then NULs
    chars[:, 19:] = chars[:, 19:] * _TAIL_KEEP[dig] + _TAIL[dig, form]
    return chars.view(f"<U{_WIDTH}").ravel().tolist()  # trailing NULs are not part of a str


def field_digits(digits: np.ndarray, field: str) -> np.ndarray:
    """Fractional digits a row prints ``field`` with, from the row's base ``digits``: the base
    for ``created_at``, shifted by the field name's length (mod 10) for every other time field."""
    if field == "created_at":
        return digits
    return (np.asarray(digits, dtype=np.int64) + len(field)) % 10
