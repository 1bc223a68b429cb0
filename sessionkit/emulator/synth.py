"""The synthetic project the emulator serves: a deterministic, seeded generator of sessions.

Design
------
The index is **columnar**: :func:`generate` draws every session's numbers at once with numpy
(times, durations, agent, deployment, outcome, tokens, costs, codes for text) and keeps them as
arrays ordered by ``created_ns``. Everything textual — ids, RFC 3339 strings, error messages,
metadata, timelines, eval runs, logs — is derived *lazily* and deterministically from
``(seed, row)``, so a million sessions cost a few hundred MB of arrays, not a million dicts.
Rendered list records are cached per row (the list endpoint's hot path).

The project (see ``data/README.md``): five agents with distinct profiles over 30 days, a daily
and weekly rhythm, cron runs at fixed hours, threads, several deployments per agent, failures
from a handful of realistic families, and two planted incidents — a ``support-triage``
deployment whose failure rate jumps (tool timeouts) and a ``doc-extractor`` deployment whose
cost per session triples (a bigger model and longer prompts). ``Dataset.incidents`` records
them as ground truth.

"As of now" (one place: :meth:`Dataset._as_of`): a session whose ``end_ns`` is after ``now`` is
pending — no end, duration, cpu time, costs, tokens, error or timeline, ``success: false``,
``updated_at`` = its start, and only the log lines already written.

Timing (2-core machine): ``generate(3000)`` ≈ 0.1 s, ``generate(1_000_000)`` ≈ 6 s; list
rendering ≈ 60k sessions/s on first render, far more when cached.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

NS = 1_000_000_000
DAY_NS = 86_400 * NS
DEMO_END = "2026-11-27T12:00:00Z"
REGIONS = ("usw", "usc", "use")
#: Completed list records kept rendered (a bounded cache: a million-session set is never held
#: as a million dicts; rows past the bound are rendered on every request, ~45k/s).
RENDER_CACHE_ROWS = 200_000
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
    ),
)
CRON_HOURS = (6, 12, 18)
FAMILIES = ("rate_limit", "tool_timeout", "validation", "kv_miss", "context", "upstream")

# the planted incidents: (agent, deployment index counted from 0, day it starts)
FAILURE_INCIDENT = ("support-triage", 2, 18)  # failure rate 4% → 26%, mostly tool timeouts
COST_INCIDENT = ("doc-extractor", 1, 12)  # cost per session ~×3: whole documents in the prompt
FAILURE_INCIDENT_RATE = 0.26


def _hex(seed: int, label: str, n: int) -> str:
    """A stable lowercase hex string of ``n`` digits from ``(seed, label)`` (no ``hash()``)."""
    out = ""
    counter = 0
    while len(out) < n:
        out += hashlib.blake2b(f"{seed}:{label}:{counter}".encode(), digest_size=32).hexdigest()
        counter += 1
    return out[:n]


def _iso(ns: int) -> str:
    """ns since epoch → ``YYYY-MM-DDTHH:MM:SS.fffffffffZ`` (9 digits)."""
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


class Dataset:
    """Columnar truth of an emulated project, rendered to wire JSON as of a time ``now``.

    Index columns (numpy arrays, rows ordered by ``created_ns``) are attributes and entries of
    ``columns``: ``id``, ``created_ns``, ``start_ns``, ``end_ns``, ``duration_ns``, ``cpu_ns``, ``org_id``,
    ``project_id``, ``deployment_id``, ``trigger``, ``env``, ``thread_id`` ("" when none),
    ``region``, ``devmode``, ``success``, ``deleted``, ``agent_identifiers`` (tuples).
    """

    def __init__(
        self, arrays: dict[str, np.ndarray], *, seed: int, now_ns: int, meta: dict[str, Any]
    ) -> None:
        self.seed = seed
        self.now_ns = now_ns
        self.regions: tuple[str, ...] = REGIONS
        self.meta = meta
        self.incidents: list[dict[str, Any]] = meta["incidents"]
        self._a = arrays
        self._n = len(arrays["created_ns"])
        self._lock = threading.Lock()
        self._cache: dict[tuple[int, bool], dict[str, Any]] = {}
        self._live_rate: float | None = meta.get("live_rate")
        self._live_next = 0
        self._build_columns()

    # ------------------------------------------------------------------ index

    def _build_columns(self) -> None:
        a, n = self._a, self._n
        agents = self.meta["agents"]
        deployments = self.meta["deployments"]
        self.columns: dict[str, np.ndarray] = {
            "id": np.array(
                [f"sess_{_hex(self.seed, f's{int(k)}', 32)}" for k in a["key"][:n]], dtype=object
            ),
            "created_ns": a["created_ns"][:n],
            "start_ns": a["start_ns"][:n],
            "end_ns": a["end_ns"][:n],
            "cpu_ns": a["cpu_ns"][:n],
            "duration_ns": a["duration_ns"][:n],
            "org_id": np.full(n, self.meta["org_id"], dtype=object),
            "project_id": np.array(self.meta["projects"], dtype=object)[a["project"][:n]],
            "deployment_id": np.array([d["id"] for d in deployments] + [""], dtype=object)[
                a["deployment"][:n]
            ],
            "trigger": np.array(TRIGGERS, dtype=object)[a["trigger"][:n]],
            "env": np.array(ENVS, dtype=object)[a["env"][:n]],
            "thread_id": np.array(
                [
                    "" if t < 0 else f"thrd_{_hex(self.seed, f't{int(t)}', 24)}"
                    for t in a["thread"][:n]
                ],
                dtype=object,
            ),
            "region": np.array(REGIONS, dtype=object)[a["region"][:n]],
            "devmode": a["devmode"][:n],
            "success": a["success"][:n],
            "deleted": a["deleted"][:n],
            "agent_identifiers": np.array([self._agent_ids(i) for i in range(n)], dtype=object),
        }
        for name, values in self.columns.items():
            setattr(self, name, values)
        self._positions = {sid: i for i, sid in enumerate(self.columns["id"])}
        _ = agents

    def _agent_ids(self, i: int) -> tuple[str, ...]:
        deployments = self.meta["deployments"]
        agents = self.meta["agents"]
        ids: list[str] = []
        for agent_index in self._agents_of(i):
            dep = int(self._a["deployment"][i])
            dep_agent = deployments[dep]["agent"] if dep < len(deployments) else agent_index
            dep_key = (
                deployments[dep]["key"]
                if dep < len(deployments) and dep_agent == agent_index
                else _dev_key(agent_index, agents[agent_index]["name"])
            )
            ids.append(f"agentid_{_hex(self.seed, f'ad{dep_key}:{agent_index}', 40)}")
            ids.append(agents[agent_index]["identifier"])
        return tuple(ids)

    def _agents_of(self, i: int) -> list[int]:
        agent = int(self._a["agent"][i])
        nested = int(self._a["nested"][i])
        return [agent] if nested < 0 else [agent, nested]

    def __len__(self) -> int:
        return self._n

    def position(self, session_id: str) -> int | None:
        """Row of ``session_id`` (``None`` when unknown)."""
        return self._positions.get(session_id)

    def updated_ns(self, now_ns: int) -> np.ndarray:
        """``updated_at`` of every row as of ``now_ns`` (int64 ns)."""
        end = self.columns["end_ns"]
        n = len(end)  # the columns may lag the raw arrays while a live grow() is appending
        start = self.columns["start_ns"][:n]
        deleted_at = self._a["deleted_ns"][:n]
        done = end <= now_ns
        updated = np.where(done, end, start)
        return np.where(
            done & (deleted_at > 0) & (deleted_at <= now_ns),
            np.maximum(updated, deleted_at),
            updated,
        )

    def pending(self, i: int, now_ns: int) -> bool:
        """Whether row ``i`` is still running at ``now_ns``."""
        return int(self.columns["end_ns"][i]) > now_ns

    # ------------------------------------------------------------------ live growth

    def grow(self, now_ns: int) -> int:
        """Live mode: append the sessions due by ``now_ns`` (at the live rate after the base data)."""
        if not self._live_rate:
            return 0
        with self._lock:
            interval = NS / self._live_rate
            due = int((now_ns - self.now_ns) // interval) + 1 if now_ns >= self.now_ns else 0
            add = due - self._live_next
            if add <= 0:
                return 0
            _append_live(self, self._live_next, add, interval)
            self._live_next = due
            return add

    # ------------------------------------------------------------------ rendering

    def _rng(self, i: int, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(self._a["key"][i]), salt])

    def metadata(self, i: int) -> dict[str, Any] | None:
        """The session's metadata (``None`` when null or absent)."""
        kind = int(self._a["meta_kind"][i])
        if kind < 2:
            return None
        a = self._a
        agent = AGENTS[int(a["agent"][i])].name
        meta: dict[str, Any] = {
            "customer_tier": ("free", "pro", "enterprise")[int(a["m_tier"][i])],
            "channel": {"email": "email", "sms": "sms", "cron": "scheduler"}.get(
                TRIGGERS[int(a["trigger"][i])], ("web", "mobile", "slack")[int(a["m_channel"][i])]
            ),
        }
        if agent in ("support-triage", "sms-concierge"):
            meta["user_id"] = f"u_{int(a['m_user'][i]):05d}"
            meta["language"] = ("en", "en", "en", "es", "de", "fr")[int(a["m_lang"][i])]
        if agent == "doc-extractor":
            meta["document_pages"] = int(a["m_pages"][i])
            meta["source"] = {
                "kind": ("pdf", "docx", "html")[int(a["m_src"][i])],
                "bucket": "uploads",
            }
        if kind == 3:
            meta["experiment"] = ("prompt-v2", "control")[int(a["m_exp"][i])]
        return meta

    def _times(self, i: int, field: str, ns: int) -> str:
        """RFC 3339 text of ``ns`` in the row's chosen form (digits and offset per row/field)."""
        digits = int(self._a["digits"][i])
        form = int(self._a["tz_form"][i])
        if field != "created_at":
            digits = (digits + len(field)) % 10
        return format_rfc3339(ns, digits, form)

    def _as_of(self, i: int, now_ns: int, *, with_timeline: bool) -> dict[str, Any]:
        a = self._a
        c = self.columns
        pending = int(c["end_ns"][i]) > now_ns
        agent = AGENTS[int(a["agent"][i])]
        trigger = str(c["trigger"][i])
        start = int(c["start_ns"][i])
        deleted_ns = int(a["deleted_ns"][i])
        deleted = bool(c["deleted"][i]) and not pending and deleted_ns <= now_ns
        has_llm = bool(a["has_llm"][i])
        route = self._route(i)
        session: dict[str, Any] = {
            "id": str(c["id"][i]),
            "created_at": self._times(i, "created_at", int(c["created_ns"][i])),
            "updated_at": self._times(i, "updated_at", int(self.updated_ns_row(i, now_ns))),
            "start_time": self._times(i, "start_time", start),
            "end_time": None if pending else self._times(i, "end_time", int(c["end_ns"][i])),
            "deleted": deleted,
            "deleted_at": self._times(i, "deleted_at", deleted_ns) if deleted else None,
            "deleted_by": (f"user_{_hex(self.seed, 'admin', 27)}" if deleted else None),
            "duration": None if pending else int(c["duration_ns"][i]),
            "cpu_time": None if pending else int(c["cpu_ns"][i]),
            "org_id": str(c["org_id"][i]),
            "project_id": str(c["project_id"][i]),
            "deployment_id": str(c["deployment_id"][i]),
            "agent_ids": list(c["agent_identifiers"][i]),
            "trigger": trigger,
            "env": str(c["env"][i]),
            "devmode": bool(c["devmode"][i]),
            "pending": pending,
            "success": False if pending else bool(c["success"][i]),
            "error": None if pending or bool(c["success"][i]) else self.error(i),
            "llm_cost": None if pending or not has_llm else round(float(a["llm_cost"][i]), 8),
            "total_cost": None if pending or not has_llm else round(float(a["total_cost"][i]), 8),
            "llm_prompt_token_count": None if pending or not has_llm else int(a["prompt"][i]),
            "llm_completion_token_count": None
            if pending or not has_llm
            else int(a["completion"][i]),
            "method": route["method"].upper() if route else None,
            "url": self._url(i, agent, route),
            "route_id": route["id"] if route else None,
            "thread_id": str(c["thread_id"][i]) or None,
        }
        kind = int(a["meta_kind"][i])
        if kind == 1:
            session["metadata"] = None
        elif kind >= 2:
            session["metadata"] = self.metadata(i)
        ud = int(a["user_data"][i])
        if ud == 1:
            session["user_data"] = None
        elif ud == 2:
            session["user_data"] = orjson.dumps(
                {"locale": "en-US", "plan": "pro", "seat": int(a["key"][i] % 50)}
            ).decode()
        if int(a["key"][i]) % 97 == 13:  # the spec: unknown extra fields appear
            session["region"] = str(c["region"][i])
        if with_timeline:
            session["timeline"] = None if pending else self.timeline(i)
        return session

    def updated_ns_row(self, i: int, now_ns: int) -> int:
        """``updated_at`` of row ``i`` as of ``now_ns``."""
        end = int(self.columns["end_ns"][i])
        if end > now_ns:
            return int(self.columns["start_ns"][i])
        deleted_ns = int(self._a["deleted_ns"][i])
        if deleted_ns and deleted_ns <= now_ns:
            return max(end, deleted_ns)
        return end

    def render_sessions(
        self, rows: Sequence[int] | np.ndarray, now_ns: int
    ) -> list[dict[str, Any]]:
        """Wire session objects (list form: no ``timeline``) of ``rows`` as of ``now_ns``."""
        out: list[dict[str, Any]] = []
        end = self.columns["end_ns"]
        deleted_ns = self._a["deleted_ns"]
        cache = self._cache
        for i in rows:
            i = int(i)
            done = int(end[i]) <= now_ns
            stable = done and (not deleted_ns[i] or deleted_ns[i] <= now_ns)
            key = (i, done)
            record = cache.get(key) if stable else None
            if record is None:
                record = self._as_of(i, now_ns, with_timeline=False)
                if stable and len(cache) < RENDER_CACHE_ROWS:
                    cache[key] = record
            out.append(record)
        return out

    def agent_name(self, i: int) -> str:
        """The name of row ``i``'s (calling) agent as the project calls it."""
        return str(self.meta["agents"][int(self._a["agent"][i])]["name"])

    def detail(self, i: int, now_ns: int) -> dict[str, Any]:
        """``data`` of ``GET /session/{id}``: session (with timeline), agents, eval runs, route."""
        session = self._as_of(i, now_ns, with_timeline=True)
        agents = [
            {
                "name": self.meta["agents"][a]["name"],
                "identifier": self.meta["agents"][a]["identifier"],
            }
            for a in self._agents_of(i)
        ]
        return {
            "session": session,
            "agents": agents,
            "eval_runs": [] if session["pending"] else self.eval_runs(i),
            "route": self._route(i, lowercase_sometimes=True),
        }

    # ------------------------------------------------------------------ text

    def _route(self, i: int, *, lowercase_sometimes: bool = False) -> dict[str, Any] | None:
        agent = int(self._a["agent"][i])
        trigger = TRIGGERS[int(self._a["trigger"][i])]
        if trigger in ("cron", "agent"):
            return None
        method = "post" if lowercase_sometimes and int(self._a["key"][i]) % 3 == 0 else "POST"
        return {
            "id": f"route_{_hex(self.seed, f'r{agent}', 24)}",
            "method": method,
            "path": AGENTS[agent].path,
        }

    def _url(self, i: int, agent: AgentProfile, route: dict[str, Any] | None) -> str | None:
        if route is None:
            return None
        if int(self._a["key"][i]) % 4 == 0:
            return f"https://agents.example-shop.com{agent.path}"
        return agent.path

    def error(self, i: int) -> str:
        """The failed session's error message (family-templated, varying ids and numbers)."""
        return error_message(
            FAMILIES[int(self._a["family"][i])], self._rng(i, 2), AGENTS[int(self._a["agent"][i])]
        )

    def timeline(self, i: int) -> dict[str, Any]:
        """The session's span tree (durations in milliseconds)."""
        return build_timeline(self, i)

    def eval_runs(self, i: int) -> list[dict[str, Any]]:
        """Eval runs of a completed session."""
        return build_eval_runs(self, i)

    def logs(self, i: int, now_ns: int) -> list[dict[str, Any]]:
        """Log lines with ``timestamp <= now_ns``."""
        return [line for ts, line in build_logs(self, i) if ts <= now_ns]

    # ------------------------------------------------------------------ files

    def to_jsonl(self, path: str | Path) -> None:
        """Export the complete truth: a header line, then one line per session (gzip if ``.gz``)."""
        header = {
            "format": "sessionkit-demo/1",
            "seed": self.seed,
            "now": _iso(self.now_ns),
            "sessions": self._n,
            "regions": list(self.regions),
            "incidents": self.incidents,
        }
        lines = [orjson.dumps(header)]
        far = int(self.columns["end_ns"].max()) + NS if self._n else self.now_ns
        for i in range(self._n):
            record = self.detail(i, far)
            record["region"] = str(self.columns["region"][i])
            record["logs"] = self.logs(i, far)
            lines.append(orjson.dumps(record))
        data = b"\n".join(lines) + b"\n"
        path = Path(path)
        if path.suffix == ".gz":
            with (
                open(path, "wb") as fh,
                gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, compresslevel=9) as gz,
            ):
                gz.write(data)
        else:
            path.write_bytes(data)


def format_rfc3339(ns: int, digits: int, form: int) -> str:
    """``ns`` as RFC 3339 with ``digits`` fractional digits (0–9; the ns must be a multiple of the
    implied unit to stay exact) and zone ``form``: 0 → ``Z``, 1 → ``+02:00``, 2 → ``-05:00``,
    3 → ``+00:00``."""
    offset_min = (0, 120, -300, 0)[form]
    local = ns + offset_min * 60 * NS
    text = str(np.datetime64(local, "ns"))  # YYYY-MM-DDTHH:MM:SS.fffffffff
    head, frac = text[:19], text[20:29]
    stamp = head + ("." + frac[:digits] if digits else "")
    if form == 0:
        return stamp + "Z"
    sign = "+" if offset_min >= 0 else "-"
    return f"{stamp}{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"


# ====================================================================== generation


#: Sessions in the demo project (:func:`load_demo`).
DEFAULT_SESSIONS = 3000


def generate(
    n_sessions: int = DEFAULT_SESSIONS,
    *,
    seed: int = 7,
    end: str = DEMO_END,
    days: int = 30,
    live_rate: float | None = None,
    agent_names: Sequence[str] | None = None,
) -> Dataset:
    """A deterministic project of ``n_sessions`` sessions over ``days`` days ending at ``end``.

    ``live_rate`` (sessions per second) makes :meth:`Dataset.grow` append new sessions after
    ``end`` as a live server's clock advances. ``agent_names`` renames the five agents (in the
    order of :data:`AGENTS`: each name takes that profile's behaviour) so the project looks like
    someone else's: every name the wire carries and every id derived from a name change with it.
    The default (``None``) is the demo's names, byte for byte the same project as before.
    """
    if n_sessions < 0 or days < 1:
        raise ValueError("n_sessions must be >= 0 and days >= 1")
    names = check_agent_names(agent_names)
    now_ns = parse_iso(end)
    rng = np.random.default_rng(seed)
    meta = _project(seed, now_ns, days, names)
    meta["live_rate"] = live_rate
    arrays = _draw(rng, n_sessions, now_ns, days, meta, seed)
    _measure_cost_incident(arrays, meta)
    return Dataset(arrays, seed=seed, now_ns=now_ns, meta=meta)


def check_agent_names(agent_names: Sequence[str] | None) -> tuple[str, ...]:
    """``agent_names`` checked: one distinct, non-blank name per profile of :data:`AGENTS`
    (the demo's names when ``None``). Raises ``ValueError`` naming what is wrong."""
    if agent_names is None:
        return tuple(a.name for a in AGENTS)
    if isinstance(agent_names, str):
        raise ValueError("agent_names must be a sequence of names, not one string")
    names = tuple(agent_names)
    if len(names) != len(AGENTS):
        raise ValueError(
            f"agent_names needs exactly {len(AGENTS)} names (one per agent profile: "
            f"{', '.join(a.name for a in AGENTS)}), got {len(names)}"
        )
    for name in names:
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ValueError(f"agent name {name!r} must be a non-blank string without edge spaces")
        if name.startswith(("agent_", "agentid_")):
            raise ValueError(f"agent name {name!r} looks like an agent id (agent_/agentid_ prefix)")
    if len(set(names)) != len(names):
        raise ValueError(f"agent_names must be distinct, got {names}")
    return names


def _dev_key(agent_index: int, name: str) -> str:
    """The label devmode ``agentid_`` ids are derived from (the demo's own stays as it was)."""
    return f"dev{agent_index}" if name == AGENTS[agent_index].name else f"dev:{name}"


def _measure_cost_incident(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Fill the cost incident's ``before``/``after`` with the mean total cost (USD) per session."""
    incident = next(i for i in meta["incidents"] if i["kind"] == "cost_per_session")
    deployments = meta["deployments"]
    agent_index = [a["name"] for a in meta["agents"]].index(incident["agent"])
    dep_index = next(k for k, d in enumerate(deployments) if d["id"] == incident["deployment_id"])
    previous = dep_index - 1
    mine = arrays["agent"] == agent_index
    for field_name, dep in (("before", previous), ("after", dep_index)):
        mask = mine & (arrays["deployment"] == dep)
        incident[field_name] = (
            round(float(arrays["total_cost"][mask].mean()), 6) if mask.any() else None
        )


def load_demo() -> Dataset:
    """The default demo dataset (``generate()`` with its defaults; see ``data/README.md``)."""
    return generate()


def _project(seed: int, now_ns: int, days: int, names: tuple[str, ...]) -> dict[str, Any]:
    """Org, projects, agents (named ``names``) and deployments (with their start times)."""
    start_ns = now_ns - days * DAY_NS
    agents = [{"name": n, "identifier": f"agent_{_hex(seed, 'agent:' + n, 40)}"} for n in names]
    deployments: list[dict[str, Any]] = []
    incident_days = {FAILURE_INCIDENT[:2]: FAILURE_INCIDENT[2], COST_INCIDENT[:2]: COST_INCIDENT[2]}
    for index, agent in enumerate(AGENTS):
        count = agent.deployments
        name = names[index]
        for k in range(count):
            day = incident_days.get((agent.name, k), round(k * days / count))
            if k == 0:
                day = 0
            deployments.append(
                {
                    "id": f"deploy_{_hex(seed, f'dep:{name}:{k}', 24)}",
                    "key": f"{name}:{k}",
                    "agent": index,
                    "index": k,
                    "start_ns": start_ns + day * DAY_NS + (9 * 3600 + 17 * 60) * NS * (k > 0),
                }
            )
    incidents = []
    for kind, (name, k, _day) in (
        ("failure_rate", FAILURE_INCIDENT),
        ("cost_per_session", COST_INCIDENT),
    ):
        profile = [a.name for a in AGENTS].index(name)
        dep = next(d for d in deployments if d["key"] == f"{names[profile]}:{k}")
        agent = AGENTS[dep["agent"]]
        incident: dict[str, Any] = {
            "kind": kind,
            "agent": names[profile],
            "agent_identifier": agents[dep["agent"]]["identifier"],
            "deployment_id": dep["id"],
            "start": _iso(dep["start_ns"]),
        }
        if kind == "failure_rate":
            incident.update(
                metric="failure_rate",
                family="tool_timeout",
                before=agent.fail_rate,
                after=FAILURE_INCIDENT_RATE,
            )
        else:
            incident.update(
                metric="cost_per_session",
                family=None,
                before=None,
                after=None,
                cause="prompts carry whole documents (3.4x prompt tokens)",
            )
        incidents.append(incident)
    return {
        "org_id": "org_" + _hex(seed, "org", 27),
        "projects": ["proj_" + _hex(seed, "proj:main", 32), "proj_" + _hex(seed, "proj:labs", 32)],
        "agents": agents,
        "deployments": deployments,
        "incidents": incidents,
        "start_ns": start_ns,
        "days": days,
    }


def _start_times(rng: np.random.Generator, n: int, start_ns: int, days: int) -> np.ndarray:
    """Start times with a daily and weekly rhythm (quiet nights and weekends)."""
    hours = np.arange(days * 24)
    stamp = start_ns // NS + hours * 3600
    hour_of_day = (stamp // 3600) % 24
    weekday = ((stamp // 86400) + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Sat, Sun
    diurnal = 0.25 + np.exp(-0.5 * ((hour_of_day - 15) / 4.0) ** 2)
    weekly = np.where(weekday >= 5, 0.45, 1.0)
    weights = diurnal * weekly
    chosen = rng.choice(hours, size=n, p=weights / weights.sum())
    return start_ns + chosen * 3600 * NS + rng.integers(0, 3600 * NS, size=n)


def _draw(
    rng: np.random.Generator, n: int, now_ns: int, days: int, meta: dict[str, Any], seed: int
) -> dict[str, np.ndarray]:
    """Every numeric column of ``n`` sessions, vectorised, ordered by created time."""
    start_ns = meta["start_ns"]
    # cron runs of the digest at fixed hours every day, the rest drawn with the rhythm
    cron_times = np.array(
        [start_ns + d * DAY_NS + h * 3600 * NS for d in range(days) for h in CRON_HOURS],
        dtype=np.int64,
    )
    cron_times = cron_times[cron_times < now_ns - 600 * NS][: max(0, n // 20)]
    n_other = n - len(cron_times)
    recent = min(
        max(n // 60, 0), n_other
    )  # sessions in the last minutes: some still pending at now
    starts = np.concatenate(
        [
            _start_times(rng, n_other - recent, start_ns, days),
            now_ns - rng.integers(5 * NS, 600 * NS, size=recent),
            cron_times + rng.integers(0, 2 * NS, size=len(cron_times)),
        ]
    )
    starts = np.minimum(starts, now_ns - NS)
    shares = np.array([a.share for a in AGENTS[:-1]])
    agent = np.concatenate(
        [
            rng.choice(len(AGENTS) - 1, size=n_other, p=shares / shares.sum()),
            np.full(len(cron_times), len(AGENTS) - 1),
        ]
    )
    arrays = _columns(
        rng,
        starts.astype(np.int64),
        agent,
        now_ns,
        meta,
        recent_from=n_other - recent,
        recent_to=n_other,
    )
    order = np.lexsort((arrays["key"], arrays["created_ns"]))
    return {k: v[order] for k, v in arrays.items()}


def _columns(
    rng: np.random.Generator,
    starts: np.ndarray,
    agent: np.ndarray,
    now_ns: int,
    meta: dict[str, Any],
    *,
    key_offset: int = 0,
    recent_from: int = 0,
    recent_to: int = 0,
) -> dict[str, np.ndarray]:
    n = len(starts)
    key = np.arange(key_offset, key_offset + n, dtype=np.int64)
    profiles = [AGENTS[a] for a in range(len(AGENTS))]
    trigger = np.zeros(n, dtype=np.int8)
    for a, profile in enumerate(profiles):
        mask = agent == a
        names = list(profile.triggers)
        p = np.array([profile.triggers[t] for t in names])
        trigger[mask] = np.array([TRIGGERS.index(t) for t in names])[
            rng.choice(len(names), size=int(mask.sum()), p=p / p.sum())
        ]
    env = rng.choice(3, size=n, p=[0.82, 0.11, 0.07]).astype(np.int8)
    env[trigger == TRIGGERS.index("cron")] = 0
    devmode = (env == 2) & (rng.random(n) < 0.75)
    # deployment: the latest deployment of the agent started before the session
    deployments = meta["deployments"]
    deployment = np.full(n, len(deployments), dtype=np.int32)  # len → "" (devmode without deploy)
    dep_index = np.zeros(n, dtype=np.int32)
    for d, dep in enumerate(deployments):
        mask = (agent == dep["agent"]) & (starts >= dep["start_ns"])
        deployment[mask] = d
        dep_index[mask] = dep["index"]
    deployment[devmode & (rng.random(n) < 0.6)] = len(deployments)
    # outcome
    fail_rate = np.array([p.fail_rate for p in profiles])[agent]
    f_agent, f_dep, _ = FAILURE_INCIDENT
    f_mask = (
        (agent == [p.name for p in profiles].index(f_agent))
        & (dep_index == f_dep)
        & (deployment < len(deployments))
    )
    fail_rate = np.where(f_mask, FAILURE_INCIDENT_RATE, fail_rate)
    success = rng.random(n) >= fail_rate
    family = np.zeros(n, dtype=np.int8)
    for a, profile in enumerate(profiles):
        mask = agent == a
        names = list(profile.families)
        p = np.array([profile.families[f] for f in names])
        family[mask] = np.array([FAMILIES.index(f) for f in names])[
            rng.choice(len(names), size=int(mask.sum()), p=p / p.sum())
        ]
    incident_family = np.where(rng.random(n) < 0.8, FAMILIES.index("tool_timeout"), family)
    family = np.where(f_mask, incident_family, family).astype(np.int8)
    # durations (heavy tails); failures end earlier or hang until a timeout
    median = np.array([p.duration_s for p in profiles])[agent]
    sigma = np.array([p.sigma for p in profiles])[agent]
    seconds = median * np.exp(rng.normal(0, sigma, n))
    timeout = family == FAMILIES.index("tool_timeout")
    seconds = np.where(
        ~success & timeout, 30 + rng.exponential(5, n), np.where(~success, seconds * 0.4, seconds)
    )
    duration = np.maximum((seconds * 1e9).astype(np.int64), 5_000_000)
    if (
        recent_to > recent_from
    ):  # the last-minutes sessions: some end seconds after now, some minutes
        idx = np.arange(recent_from, recent_to)
        remaining = np.where(
            rng.random(len(idx)) < 0.5,
            rng.integers(2, 20, len(idx)),
            rng.integers(60, 900, len(idx)),
        )
        ends = now_ns + remaining * NS
        duration[idx] = np.where(rng.random(len(idx)) < 0.6, ends - starts[idx], duration[idx])
    cpu = (duration * rng.uniform(0.04, 0.55, n)).astype(np.int64)
    # tokens and costs
    cost_agent = [p.name for p in profiles].index(COST_INCIDENT[0])
    c_mask = (
        (agent == cost_agent) & (dep_index >= COST_INCIDENT[1]) & (deployment < len(deployments))
    )
    prompt = np.array([p.prompt_tokens for p in profiles])[agent] * np.exp(rng.normal(0, 0.6, n))
    prompt = np.where(c_mask, prompt * 3.4, prompt)  # the incident: whole documents in the prompt
    completion = np.array([p.completion_tokens for p in profiles])[agent] * np.exp(
        rng.normal(0, 0.5, n)
    )
    completion = np.where(c_mask, completion * 1.6, completion)
    prompt = np.maximum(prompt.astype(np.int64), 20)
    completion = np.maximum(completion.astype(np.int64), 1)
    model = np.array([MODELS.index(p.model) for p in profiles])[agent]
    price_in = np.array([MODEL_PRICES[m][0] for m in MODELS])[model]
    price_out = np.array([MODEL_PRICES[m][1] for m in MODELS])[model]
    llm_cost = (prompt * price_in + completion * price_out) / 1e6
    infra = (
        duration / 1e9 * 0.000018
        + 0.0001
        + np.where(rng.random(n) < 0.2, rng.uniform(0, 0.002, n), 0)
    )
    total_cost = llm_cost + infra
    has_llm = ~((~success) & (family == FAMILIES.index("kv_miss")) & (rng.random(n) < 0.7))
    # threads: consecutive sessions of the same agent sharing a conversation, 2–6 per thread
    thread_share = np.array([p.threads for p in profiles])[agent]
    in_thread = rng.random(n) < thread_share
    thread = np.full(n, -1, dtype=np.int64)
    for a in range(len(profiles)):
        members = np.flatnonzero(in_thread & (agent == a))
        members = members[np.argsort(starts[members], kind="stable")]
        sizes = rng.integers(2, 7, size=len(members) // 2 + 1)
        labels = np.repeat(np.arange(len(sizes)), sizes)[: len(members)]
        thread[members] = key_offset * 7 + a * 1_000_000 + labels
    # nested agent calls (research-assistant → doc-extractor)
    research = [p.name for p in profiles].index("research-assistant")
    nested = np.where(
        (agent == research) & (rng.random(n) < 0.4),
        [p.name for p in profiles].index("doc-extractor"),
        -1,
    )
    deleted = rng.random(n) < 0.004
    deleted_ns = np.where(deleted, starts + duration + rng.integers(3600, 5 * 86400, n) * NS, 0)
    deleted_ns = np.where(deleted_ns > now_ns, 0, deleted_ns)
    deleted &= deleted_ns > 0
    digits = rng.integers(0, 10, n).astype(np.int8)
    tz_form = rng.choice(4, size=n, p=[0.8, 0.08, 0.08, 0.04]).astype(np.int8)
    arrays = {
        "key": key,
        "agent": agent.astype(np.int8),
        "trigger": trigger,
        "env": env,
        "devmode": devmode,
        "deployment": deployment,
        "success": success,
        "family": family,
        "has_llm": has_llm,
        "prompt": prompt,
        "completion": completion,
        "model": model.astype(np.int8),
        "llm_cost": llm_cost,
        "total_cost": total_cost,
        "thread": thread.astype(np.int64),
        "nested": nested.astype(np.int8),
        "deleted": deleted,
        "deleted_ns": deleted_ns.astype(np.int64),
        "digits": digits,
        "tz_form": tz_form,
        "project": (rng.random(n) < 0.05).astype(np.int8),
        "region": rng.choice(3, size=n, p=[0.8, 0.12, 0.08]).astype(np.int8),
        "meta_kind": rng.choice(4, size=n, p=[0.08, 0.07, 0.7, 0.15]).astype(
            np.int8
        ),  # absent, null, obj, obj+exp
        "user_data": rng.choice(3, size=n, p=[0.6, 0.2, 0.2]).astype(
            np.int8
        ),  # absent, null, JSON string
        # metadata values, drawn here so rendering needs no per-row RNG
        "m_tier": rng.choice(3, size=n, p=[0.55, 0.35, 0.10]).astype(np.int8),
        "m_channel": rng.integers(0, 3, n).astype(np.int8),
        "m_user": rng.integers(1, 4000, n).astype(np.int16),
        "m_lang": rng.integers(0, 6, n).astype(np.int8),
        "m_pages": rng.integers(1, 80, n).astype(np.int8),
        "m_src": rng.integers(0, 3, n).astype(np.int8),
        "m_exp": rng.integers(0, 2, n).astype(np.int8),
    }
    # times: truncate every stored instant to the digits it will be printed with (exact round trip)
    starts = _truncate(starts, (digits + len("start_time")) % 10)
    created = _truncate(starts - rng.integers(0, 40_000_000, n), digits)
    ends = _truncate(starts + duration, (digits + len("end_time")) % 10)
    arrays["deleted_ns"] = _truncate(arrays["deleted_ns"], (digits + len("deleted_at")) % 10)
    arrays["created_ns"] = created
    arrays["start_ns"] = starts
    arrays["end_ns"] = ends
    arrays["cpu_ns"] = np.minimum(cpu, ends - starts)
    # updated_at uses the end or start time, printed with the updated_at digits: keep them exact too
    upd_digits = (digits + len("updated_at")) % 10
    common = np.minimum(
        np.minimum(upd_digits, (digits + len("start_time")) % 10), (digits + len("end_time")) % 10
    )
    arrays["start_ns"] = _truncate(arrays["start_ns"], common)
    arrays["end_ns"] = _truncate(
        arrays["start_ns"] + duration, common
    )  # >= start: start is a multiple
    # the reported duration is the exact one; printed times are truncated to their digits, so
    # end_time - start_time may differ from it by less than the printed precision (as with Go)
    arrays["duration_ns"] = duration
    arrays["cpu_ns"] = np.minimum(cpu, duration)
    arrays["created_ns"] = np.minimum(arrays["created_ns"], arrays["start_ns"])
    return arrays


def _truncate(ns: np.ndarray, digits: np.ndarray | int) -> np.ndarray:
    unit = (10 ** (9 - np.asarray(digits, dtype=np.int64))).astype(np.int64)
    return (np.asarray(ns, dtype=np.int64) // unit) * unit


def _append_live(ds: Dataset, first: int, count: int, interval: float) -> None:
    """Append ``count`` live sessions (numbers ``first``…) created at the live rate after ``now_ns``."""
    rng = np.random.default_rng([ds.seed, 991, first])
    starts = (ds.now_ns + (np.arange(first, first + count) * interval)).astype(np.int64) + 1
    shares = np.array([a.share for a in AGENTS[:-1]])
    agent = rng.choice(len(AGENTS) - 1, size=count, p=shares / shares.sum())
    extra = _columns(rng, starts, agent, ds.now_ns + 10**15, ds.meta, key_offset=10**9 + first)
    extra["created_ns"] = np.maximum(extra["created_ns"], starts - 40_000_000)
    for name, values in extra.items():
        ds._a[name] = np.concatenate([ds._a[name][: ds._n], values])
    old = ds._n
    ds._n += count
    ids = [f"sess_{_hex(ds.seed, f's{int(k)}', 32)}" for k in extra["key"]]
    new_cols = {
        "id": np.array(ids, dtype=object),
        "agent_identifiers": np.array([None] * count, dtype=object),
    }
    for j in range(count):
        new_cols["agent_identifiers"][j] = ds._agent_ids(old + j)
    # rebuild the derived columns for the new rows by concatenation
    base = ds.columns
    derived = {
        "created_ns": ds._a["created_ns"],
        "start_ns": ds._a["start_ns"],
        "end_ns": ds._a["end_ns"],
        "cpu_ns": ds._a["cpu_ns"],
        "duration_ns": ds._a["duration_ns"],
        "org_id": np.concatenate([base["org_id"], np.full(count, ds.meta["org_id"], dtype=object)]),
        "project_id": np.concatenate(
            [base["project_id"], np.array(ds.meta["projects"], dtype=object)[extra["project"]]]
        ),
        "deployment_id": np.concatenate(
            [
                base["deployment_id"],
                np.array([d["id"] for d in ds.meta["deployments"]] + [""], dtype=object)[
                    extra["deployment"]
                ],
            ]
        ),
        "trigger": np.concatenate(
            [base["trigger"], np.array(TRIGGERS, dtype=object)[extra["trigger"]]]
        ),
        "env": np.concatenate([base["env"], np.array(ENVS, dtype=object)[extra["env"]]]),
        "thread_id": np.concatenate(
            [
                base["thread_id"],
                np.array(
                    [
                        "" if t < 0 else f"thrd_{_hex(ds.seed, f't{int(t)}', 24)}"
                        for t in extra["thread"]
                    ],
                    dtype=object,
                ),
            ]
        ),
        "region": np.concatenate(
            [base["region"], np.array(REGIONS, dtype=object)[extra["region"]]]
        ),
        "devmode": ds._a["devmode"],
        "success": ds._a["success"],
        "deleted": ds._a["deleted"],
        "id": np.concatenate([base["id"], new_cols["id"]]),
        "agent_identifiers": np.concatenate(
            [base["agent_identifiers"], new_cols["agent_identifiers"]]
        ),
    }
    ds.columns = derived
    for name, values in derived.items():
        setattr(ds, name, values)
    for j, sid in enumerate(ids):
        ds._positions[sid] = old + j


from .details import build_eval_runs, build_logs, build_timeline, error_message  # noqa: E402
