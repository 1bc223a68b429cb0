"""The emulated project's data: :class:`Dataset`, columnar truth rendered to wire JSON as of a time.

Design
------
The index is **columnar**: numpy arrays (one per drawn number: times, durations, agent,
deployment, outcome, tokens, costs, codes for text) ordered by ``created_ns``. Everything
textual — ids, RFC 3339 strings, error messages, metadata, timelines, eval runs, logs — is
derived deterministically from ``(seed, row)``; list records are rendered for a whole page at
once (vectorised column formatting) and their JSON bytes cached per row once they can no longer
change, so a cold list walk costs a few microseconds per session and a warm one almost nothing.

"As of now" (one place: :meth:`Dataset._records`): a session whose ``end_ns`` is after ``now``
is pending — no end, duration, cpu time, costs, tokens, error or timeline, ``success: false``,
``updated_at`` = its start, and only the log lines already written.

Live mode (``meta["live_rate"]`` sessions per second): :meth:`Dataset.grow` appends the
sessions due by a later clock, drawn with :func:`.draw.draw_columns`.

Imports: :mod:`.catalog`, :mod:`.texts`, :mod:`.draw` (of the emulator), numpy and orjson.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from .catalog import (
    AGENTS,
    AGENTS_HOST,
    ENVS,
    FAMILIES,
    MODELS,
    NS,
    REGIONS,
    TRIGGERS,
    deleted_by,
    dev_key,
    field_digits,
    format_rfc3339_many,
    iso_ns,
    route_id,
    row_rng,
    session_id,
    stable_hex,
    thread_id,
)
from .draw import draw_columns
from .texts import SessionFacts, build_eval_runs, build_logs, build_timeline, session_error

#: List records kept rendered as JSON bytes (a bounded cache: rows past the bound are rendered
#: on every request, still vectorised).
RENDER_CACHE_ROWS = 200_000
#: Row keys of live sessions start here (numbered by arrival), far from the base rows' keys.
LIVE_KEY_OFFSET = 10**9

_TIERS = ("free", "pro", "enterprise")
_CHANNELS = ("web", "mobile", "slack")
_CHANNEL_OF_TRIGGER = {"email": "email", "sms": "sms", "cron": "scheduler"}
_LANGUAGES = ("en", "en", "en", "es", "de", "fr")
_SOURCES = ("pdf", "docx", "html")
_EXPERIMENTS = ("prompt-v2", "control")
#: ``user_data`` of a session with a JSON string, by ``key % 50`` (the seat).
_USER_DATA = tuple(
    orjson.dumps({"locale": "en-US", "plan": "pro", "seat": seat}).decode() for seat in range(50)
)
#: Triggers whose sessions arrive without an HTTP route.
_ROUTELESS = frozenset(TRIGGERS.index(t) for t in ("cron", "agent"))
#: Whether a session of each trigger code has an HTTP route.
_ROUTED = np.array([code not in _ROUTELESS for code in range(len(TRIGGERS))])
#: The session ``url`` of each agent profile: absolute (every fourth row key), or the path.
_URLS = tuple((f"https://{AGENTS_HOST}{agent.path}", agent.path) for agent in AGENTS)
_LIST_HEAD = b'{"success":true,"data":['
_LIST_TAIL = b"]}"


class Dataset:
    """Columnar truth of an emulated project, rendered to wire JSON as of a time ``now``.

    Index columns (numpy arrays, rows ordered by ``created_ns``) are attributes and entries of
    ``columns``: ``id``, ``created_ns``, ``start_ns``, ``end_ns``, ``duration_ns``, ``cpu_ns``,
    ``org_id``, ``project_id``, ``deployment_id``, ``trigger``, ``env``, ``thread_id`` ("" when
    none), ``region``, ``devmode``, ``success``, ``deleted``, ``agent_identifiers`` (tuples).
    Times are int64 ns since epoch. ``meta`` holds the project (org, projects, agents,
    deployments, incidents, ``live_rate``).
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
        self._json_cache: dict[int, bytes] = {}
        self._live_rate: float | None = meta.get("live_rate")
        self._live_next = 0
        self._route_ids = tuple(route_id(seed, k) for k in range(len(AGENTS)))
        self._deleted_by = deleted_by(seed)
        self._agent_names = tuple(str(a["name"]) for a in meta["agents"])
        self._agent_identifiers = tuple(str(a["identifier"]) for a in meta["agents"])
        base = {name: values[: self._n] for name, values in arrays.items()}
        derived = self._derived_columns(base)
        self._set_columns({**{name: base[name] for name in _NUMERIC_COLUMNS}, **derived}, self._n)
        self._positions = {sid: i for i, sid in enumerate(self.columns["id"])}

    # ------------------------------------------------------------------ index

    def _derived_columns(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The text columns (object arrays) of the rows whose raw arrays are ``raw``."""
        n = len(raw["key"])
        deployments = self.meta["deployments"]
        agent_ids = np.empty(n, dtype=object)
        agent_ids[:] = [
            self._agent_ids(int(agent), int(nested), int(dep))
            for agent, nested, dep in zip(
                raw["agent"], raw["nested"], raw["deployment"], strict=True
            )
        ]
        return {
            "id": np.array([session_id(self.seed, int(k)) for k in raw["key"]], dtype=object),
            "org_id": np.full(n, self.meta["org_id"], dtype=object),
            "project_id": np.array(self.meta["projects"], dtype=object)[raw["project"]],
            "deployment_id": np.array([d["id"] for d in deployments] + [""], dtype=object)[
                raw["deployment"]
            ],
            "trigger": np.array(TRIGGERS, dtype=object)[raw["trigger"]],
            "env": np.array(ENVS, dtype=object)[raw["env"]],
            "thread_id": np.array(
                [thread_id(self.seed, int(t)) for t in raw["thread"]], dtype=object
            ),
            "region": np.array(REGIONS, dtype=object)[raw["region"]],
            "agent_identifiers": agent_ids,
        }

    def _set_columns(self, columns: dict[str, np.ndarray], n: int) -> None:
        """Publish ``columns`` (``n`` rows) as ``self.columns`` and as attributes."""
        order = ("id", *_NUMERIC_COLUMNS[:5], *_TEXT_COLUMNS, *_NUMERIC_COLUMNS[5:])
        self.columns: dict[str, np.ndarray] = {name: columns[name][:n] for name in order}
        self.columns["agent_identifiers"] = columns["agent_identifiers"][:n]
        for name, values in self.columns.items():
            setattr(self, name, values)

    def _agent_ids(self, agent_index: int, nested: int, dep: int) -> tuple[str, ...]:
        """``agent_ids`` of a session run by ``agent_index`` (calling ``nested`` unless -1)
        under deployment ``dep``: per agent its ``agentid_`` then its stable ``agent_`` id."""
        deployments = self.meta["deployments"]
        ids: list[str] = []
        for agent in (agent_index,) if nested < 0 else (agent_index, nested):
            dep_agent = deployments[dep]["agent"] if dep < len(deployments) else agent
            dep_key = (
                deployments[dep]["key"]
                if dep < len(deployments) and dep_agent == agent
                else dev_key(agent, self._agent_names[agent])
            )
            ids.append(f"agentid_{stable_hex(self.seed, f'ad{dep_key}:{agent}', 40)}")
            ids.append(self._agent_identifiers[agent])
        return tuple(ids)

    def _agents_of(self, i: int) -> list[int]:
        """Profile indexes of the agents row ``i`` ran: the called one, then a nested one."""
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
        return _updated(end, self.columns["start_ns"][:n], self._a["deleted_ns"][:n], now_ns)

    def updated_ns_row(self, i: int, now_ns: int) -> int:
        """``updated_at`` of row ``i`` as of ``now_ns`` (ns since epoch)."""
        rows = np.array([i])
        c = self.columns
        return int(
            _updated(c["end_ns"][rows], c["start_ns"][rows], self._a["deleted_ns"][rows], now_ns)[0]
        )

    def pending(self, i: int, now_ns: int) -> bool:
        """Whether row ``i`` is still running at ``now_ns``."""
        return int(self.columns["end_ns"][i]) > now_ns

    # ------------------------------------------------------------------ live growth

    def grow(self, now_ns: int) -> int:
        """Live mode: append the sessions due by ``now_ns`` (at the live rate after the base
        data); returns how many were added (0 when not live or none is due)."""
        if not self._live_rate:
            return 0
        with self._lock:
            interval = NS / self._live_rate
            due = int((now_ns - self.now_ns) // interval) + 1 if now_ns >= self.now_ns else 0
            add = due - self._live_next
            if add <= 0:
                return 0
            self._append_live(self._live_next, add, interval)
            self._live_next = due
            return add

    def _append_live(self, first: int, count: int, interval: float) -> None:
        """Append ``count`` live sessions (arrival numbers ``first``…) created ``interval`` ns
        apart after ``now_ns``. Readers may run meanwhile: the raw arrays grow first, then the
        row count, then the published columns, then the id index."""
        rng = np.random.default_rng([self.seed, 991, first])
        starts = (self.now_ns + (np.arange(first, first + count) * interval)).astype(np.int64) + 1
        shares = np.array([a.share for a in AGENTS[:-1]])
        agent = rng.choice(len(AGENTS) - 1, size=count, p=shares / shares.sum())
        extra = draw_columns(
            rng, starts, agent, self.now_ns + 10**15, self.meta, key_offset=LIVE_KEY_OFFSET + first
        )
        extra["created_ns"] = np.maximum(extra["created_ns"], starts - 40_000_000)
        for name, values in extra.items():
            self._a[name] = np.concatenate([self._a[name][: self._n], values])
        old = self._n
        self._n += count
        new = self._derived_columns(extra)
        merged = {name: np.concatenate([self.columns[name], new[name]]) for name in new}
        self._set_columns({**{name: self._a[name] for name in _NUMERIC_COLUMNS}, **merged}, self._n)
        for j, sid in enumerate(new["id"]):
            self._positions[sid] = old + j

    # ------------------------------------------------------------------ list records

    def _records(self, rows: np.ndarray, now_ns: int) -> list[dict[str, Any]]:
        """Wire session objects (list form: no ``timeline``) of ``rows`` as of ``now_ns``,
        rendered together: every column is formatted for all rows at once."""
        idx = np.asarray(rows, dtype=np.int64)
        a, c = self._a, self.columns
        key = a["key"][idx]
        agent = a["agent"][idx]
        end = c["end_ns"][idx]
        start = c["start_ns"][idx]
        deleted_ns = a["deleted_ns"][idx]
        pending_ = end > now_ns
        deleted_ = c["deleted"][idx] & ~pending_ & (deleted_ns <= now_ns)
        digits = a["digits"][idx]
        forms = a["tz_form"][idx]
        success = c["success"][idx]
        has_llm = a["has_llm"][idx]
        trigger_code = a["trigger"][idx]

        stamps = (
            ("created_at", c["created_ns"][idx]),
            ("updated_at", _updated(end, start, deleted_ns, now_ns)),
            ("start_time", start),
            ("end_time", end),
            ("deleted_at", deleted_ns),
        )
        m = len(idx)
        texts = format_rfc3339_many(  # all five time fields of all rows in one pass
            np.concatenate([ns for _, ns in stamps]),
            np.concatenate([field_digits(digits, field) for field, _ in stamps]),
            np.tile(forms, len(stamps)),
        )
        created_at, updated_at, start_time, end_time, deleted_at = (
            texts[k * m : (k + 1) * m] for k in range(len(stamps))
        )
        keys = key.tolist()
        agents = agent.tolist()
        families = a["family"][idx].tolist()
        failed = (~pending_ & ~success).tolist()
        errors = [
            session_error(self.seed, k, FAMILIES[f], g) if bad else None
            for k, f, g, bad in zip(keys, families, agents, failed, strict=True)
        ]
        priced = (~pending_ & has_llm).tolist()
        llm_cost = [
            round(v, 8) if p else None
            for v, p in zip(a["llm_cost"][idx].tolist(), priced, strict=True)
        ]
        total_cost = [
            round(v, 8) if p else None
            for v, p in zip(a["total_cost"][idx].tolist(), priced, strict=True)
        ]
        routed = _ROUTED[trigger_code].tolist()
        urls = _URLS
        metadata = self.metadata_of(idx)
        meta_kind = a["meta_kind"][idx].tolist()
        user_data = a["user_data"][idx].tolist()
        out: list[dict[str, Any]] = []
        columns = zip(
            idx.tolist(),
            c["id"][idx].tolist(),
            pending_.tolist(),
            deleted_.tolist(),
            c["duration_ns"][idx].tolist(),
            c["cpu_ns"][idx].tolist(),
            c["org_id"][idx].tolist(),
            c["project_id"][idx].tolist(),
            c["deployment_id"][idx].tolist(),
            c["agent_identifiers"][idx].tolist(),
            c["trigger"][idx].tolist(),
            c["env"][idx].tolist(),
            c["devmode"][idx].tolist(),
            success.tolist(),
            a["prompt"][idx].tolist(),
            a["completion"][idx].tolist(),
            c["thread_id"][idx].tolist(),
            strict=True,
        )
        for j, (
            i,
            sid,
            pending,
            deleted,
            duration,
            cpu,
            org,
            project,
            deployment,
            agent_ids,
            trigger,
            env,
            devmode,
            ok,
            prompt,
            completion,
            thread,
        ) in enumerate(columns):
            k = keys[j]
            priced_j = priced[j]
            route = routed[j]
            session: dict[str, Any] = {
                "id": sid,
                "created_at": created_at[j],
                "updated_at": updated_at[j],
                "start_time": start_time[j],
                "end_time": None if pending else end_time[j],
                "deleted": deleted,
                "deleted_at": deleted_at[j] if deleted else None,
                "deleted_by": self._deleted_by if deleted else None,
                "duration": None if pending else duration,
                "cpu_time": None if pending else cpu,
                "org_id": org,
                "project_id": project,
                "deployment_id": deployment,
                "agent_ids": list(agent_ids),
                "trigger": trigger,
                "env": env,
                "devmode": devmode,
                "pending": pending,
                "success": False if pending else ok,
                "error": errors[j],
                "llm_cost": llm_cost[j],
                "total_cost": total_cost[j],
                "llm_prompt_token_count": prompt if priced_j else None,
                "llm_completion_token_count": completion if priced_j else None,
                "method": "POST" if route else None,
                "url": urls[agents[j]][k % 4 != 0] if route else None,
                "route_id": self._route_ids[agents[j]] if route else None,
                "thread_id": thread or None,
            }
            if meta_kind[j] == 1:
                session["metadata"] = None
            elif meta_kind[j] >= 2:
                session["metadata"] = metadata[j]
            if user_data[j] == 1:
                session["user_data"] = None
            elif user_data[j] == 2:
                session["user_data"] = _USER_DATA[k % 50]
            if k % 97 == 13:  # the spec: unknown extra fields appear
                session["region"] = str(c["region"][i])
            out.append(session)
        return out

    def render_sessions(
        self, rows: Sequence[int] | np.ndarray, now_ns: int
    ) -> list[dict[str, Any]]:
        """Wire session objects (list form: no ``timeline``) of ``rows`` as of ``now_ns``
        (fresh dicts, in the order of ``rows``)."""
        return self._records(np.asarray(rows, dtype=np.int64), now_ns)

    def render_sessions_json(self, rows: Sequence[int] | np.ndarray, now_ns: int) -> list[bytes]:
        """:meth:`render_sessions` as compact JSON bytes, one per row: the bytes of rows that
        can no longer change (completed, deletion settled) come from a per-row cache."""
        idx = np.asarray(rows, dtype=np.int64)
        cache = self._json_cache
        out: list[bytes | None] = [cache.get(i) for i in idx.tolist()]
        missing = [j for j, part in enumerate(out) if part is None]
        if missing:
            todo = idx[missing]
            deleted_ns = self._a["deleted_ns"][todo]
            stable = (
                (self.columns["end_ns"][todo] <= now_ns)
                & ((deleted_ns == 0) | (deleted_ns <= now_ns))
            ).tolist()
            records = self._records(todo, now_ns)
            for j, i, record, keep in zip(missing, todo.tolist(), records, stable, strict=True):
                part = orjson.dumps(record)
                out[j] = part
                if keep and len(cache) < RENDER_CACHE_ROWS:
                    cache[i] = part
        return [part for part in out if part is not None]

    def list_page(self, rows: Sequence[int] | np.ndarray, now_ns: int) -> bytes:
        """The body of a ``GET /session`` page of ``rows`` as of ``now_ns``: byte for byte
        ``orjson.dumps({"success": True, "data": render_sessions(rows, now_ns)})``."""
        parts = self.render_sessions_json(rows, now_ns)
        if not parts:
            return _LIST_HEAD + _LIST_TAIL
        pieces = [b","] * (2 * len(parts) + 1)  # head, row, ",", row, ..., row, tail: one copy
        pieces[0], pieces[-1] = _LIST_HEAD, _LIST_TAIL
        pieces[1::2] = parts
        return b"".join(pieces)

    # ------------------------------------------------------------------ one session

    def metadata_of(self, rows: Sequence[int] | np.ndarray) -> list[dict[str, Any] | None]:
        """The metadata object of each of ``rows`` (``None`` where null or absent), in order."""
        idx = np.asarray(rows, dtype=np.int64)
        a = self._a
        cols = zip(
            a["meta_kind"][idx].tolist(),
            a["agent"][idx].tolist(),
            a["trigger"][idx].tolist(),
            a["m_tier"][idx].tolist(),
            a["m_channel"][idx].tolist(),
            a["m_user"][idx].tolist(),
            a["m_lang"][idx].tolist(),
            a["m_pages"][idx].tolist(),
            a["m_src"][idx].tolist(),
            a["m_exp"][idx].tolist(),
            strict=True,
        )
        out: list[dict[str, Any] | None] = []
        for kind, agent, trigger, tier, channel, user, lang, pages, src, exp in cols:
            if kind < 2:
                out.append(None)
                continue
            name = AGENTS[agent].name
            meta: dict[str, Any] = {
                "customer_tier": _TIERS[tier],
                "channel": _CHANNEL_OF_TRIGGER.get(TRIGGERS[trigger], _CHANNELS[channel]),
            }
            if name in ("support-triage", "sms-concierge"):
                meta["user_id"] = f"u_{user:05d}"
                meta["language"] = _LANGUAGES[lang]
            if name == "doc-extractor":
                meta["document_pages"] = pages
                meta["source"] = {"kind": _SOURCES[src], "bucket": "uploads"}
            if kind == 3:
                meta["experiment"] = _EXPERIMENTS[exp]
            out.append(meta)
        return out

    def metadata(self, i: int) -> dict[str, Any] | None:
        """The session's metadata (``None`` when null or absent)."""
        return self.metadata_of([i])[0]

    def agent_name(self, i: int) -> str:
        """The name of row ``i``'s (calling) agent as the project calls it."""
        return self._agent_names[int(self._a["agent"][i])]

    def facts(self, i: int) -> SessionFacts:
        """Row ``i``'s numbers as the plain values :mod:`.texts` renders from."""
        a, c = self._a, self.columns
        success = bool(c["success"][i])
        return SessionFacts(
            seed=self.seed,
            key=int(a["key"][i]),
            session_id=str(c["id"][i]),
            thread_id=str(c["thread_id"][i]),
            agent=int(a["agent"][i]),
            nested=int(a["nested"][i]),
            trigger=TRIGGERS[int(a["trigger"][i])],
            family=FAMILIES[int(a["family"][i])],
            model=MODELS[int(a["model"][i])],
            success=success,
            error=None if success else self.error(i),
            start_ns=int(c["start_ns"][i]),
            end_ns=int(c["end_ns"][i]),
            duration_ns=int(a["duration_ns"][i]),
            prompt_tokens=int(a["prompt"][i]),
            completion_tokens=int(a["completion"][i]),
            agent_names=self._agent_names,
            agent_identifiers=self._agent_identifiers,
            base_now_ns=self.now_ns,
        )

    def _rng(self, i: int, salt: int = 0) -> np.random.Generator:
        """The RNG of row ``i``'s text number ``salt`` (see :func:`.catalog.row_rng`)."""
        return row_rng(self.seed, int(self._a["key"][i]), salt)

    def detail(self, i: int, now_ns: int) -> dict[str, Any]:
        """``data`` of ``GET /session/{id}``: session (with timeline), agents, eval runs, route."""
        session = self._records(np.array([i]), now_ns)[0]
        session["timeline"] = None if session["pending"] else self.timeline(i)
        agents = [
            {"name": self._agent_names[k], "identifier": self._agent_identifiers[k]}
            for k in self._agents_of(i)
        ]
        return {
            "session": session,
            "agents": agents,
            "eval_runs": [] if session["pending"] else self.eval_runs(i),
            "route": self._route(i),
        }

    def _route(self, i: int) -> dict[str, Any] | None:
        """The detail form's ``route`` of row ``i`` (``None`` for cron and agent triggers);
        its method is lowercase for every third row key, as some servers send it."""
        agent = int(self._a["agent"][i])
        if int(self._a["trigger"][i]) in _ROUTELESS:
            return None
        return {
            "id": self._route_ids[agent],
            "method": "post" if int(self._a["key"][i]) % 3 == 0 else "POST",
            "path": AGENTS[agent].path,
        }

    def error(self, i: int) -> str:
        """The failed session's error message (family-templated, varying ids and numbers)."""
        return session_error(
            self.seed,
            int(self._a["key"][i]),
            FAMILIES[int(self._a["family"][i])],
            int(self._a["agent"][i]),
        )

    def timeline(self, i: int) -> dict[str, Any]:
        """The session's span tree (durations in milliseconds)."""
        return build_timeline(self.facts(i))

    def eval_runs(self, i: int) -> list[dict[str, Any]]:
        """Eval runs of a completed session."""
        return build_eval_runs(self.facts(i))

    def logs(self, i: int, now_ns: int) -> list[dict[str, Any]]:
        """Log lines with ``timestamp <= now_ns``."""
        return [line for ts, line in build_logs(self.facts(i)) if ts <= now_ns]

    # ------------------------------------------------------------------ files

    def to_jsonl(self, path: str | Path) -> None:
        """Export the complete truth: a header line, then one line per session (gzip if ``.gz``)."""
        header = {
            "format": "sessionkit-demo/1",
            "seed": self.seed,
            "now": iso_ns(self.now_ns),
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


#: Raw arrays published as columns unchanged (the first five are the times, in this order).
_NUMERIC_COLUMNS = (
    "created_ns",
    "start_ns",
    "end_ns",
    "cpu_ns",
    "duration_ns",
    "devmode",
    "success",
    "deleted",
)
#: Columns derived as text from the raw arrays, in the order ``columns`` lists them.
_TEXT_COLUMNS = (
    "org_id",
    "project_id",
    "deployment_id",
    "trigger",
    "env",
    "thread_id",
    "region",
)


def _updated(
    end_ns: np.ndarray, start_ns: np.ndarray, deleted_ns: np.ndarray, now_ns: int
) -> np.ndarray:
    """``updated_at`` (int64 ns) as of ``now_ns`` of rows with these times: the start while
    running, else the end, or the deletion when that came later and has happened."""
    done = end_ns <= now_ns
    settled = done & (deleted_ns > 0) & (deleted_ns <= now_ns)
    return np.where(settled, np.maximum(end_ns, deleted_ns), np.where(done, end_ns, start_ns))
