"""The emulated project's data: :class:`Dataset`, columnar truth rendered to wire JSON as of a time.

Design
------
The index is **columnar**: numpy arrays (one per drawn number: times, durations, agent,
deployment, outcome, tokens, costs, codes for text) ordered by ``created_ns``. Everything
textual — ids, RFC 3339 strings, error messages, metadata, timelines, eval runs, logs — is
derived deterministically from ``(seed, row)``; list records are rendered for a whole page at
once (vectorised column formatting) and their JSON bytes cached per row once they can no longer
change, so a cold list walk costs a few microseconds per session and a warm one almost nothing.

"As of now" (one place: :meth:`Dataset._records_json`): a session whose ``end_ns`` is after ``now``
is pending — no end, duration, cpu time, costs, tokens, error or timeline, ``success: false``,
``updated_at`` = its start, and only the log lines already written.

Live mode (``meta["live_rate"]`` sessions per second): :meth:`Dataset.grow` appends the
sessions due by a later clock, drawn with :func:`.draw.draw_columns`.

Imports: :mod:`.catalog`, :mod:`.texts`, :mod:`.draw`, :mod:`.records` (of the emulator),
numpy and orjson.
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
    ENVS,
    FAMILIES,
    MODELS,
    NS,
    PROFILES,
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
from .records import (
    METADATA_HEAD,
    METADATA_NULL,
    METHOD_JSON,
    NULL,
    ROUTED,
    URL_JSON,
    USER_DATA_JSON,
    USER_DATA_NULL,
    fragments,
    json_items,
    metadata_json,
    render,
    table,
)
from .texts import SessionFacts, build_eval_runs, build_logs, build_timeline, session_error

#: List records kept rendered as JSON bytes (a bounded cache: rows past the bound are rendered
#: on every request, still vectorised).
RENDER_CACHE_ROWS = 200_000
#: Row keys of live sessions start here (numbered by arrival), far from the base rows' keys.
LIVE_KEY_OFFSET = 10**9

#: The drawn codes the metadata object is made from.
_METADATA_CODES = (
    "meta_kind",
    "agent",
    "trigger",
    "m_tier",
    "m_channel",
    "m_user",
    "m_lang",
    "m_pages",
    "m_src",
    "m_exp",
)
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
        self._route_ids = tuple(route_id(seed, k) for k in range(len(PROFILES)))
        self._deleted_by = deleted_by(seed)
        self._agent_names = tuple(str(a["name"]) for a in meta["agents"])
        self._agent_identifiers = tuple(str(a["identifier"]) for a in meta["agents"])
        # pre-encoded JSON of the values list records draw from a vocabulary, by code
        self._deleted_by_json = orjson.dumps(self._deleted_by)
        self._org_json = orjson.dumps(meta["org_id"])
        self._project_json = table(list(meta["projects"]))
        self._deployment_json = table([d["id"] for d in meta["deployments"]] + [""])
        self._trigger_json = table(list(TRIGGERS))
        self._env_json = table(list(ENVS))
        self._route_json = table(list(self._route_ids))
        self._region_json = fragments("region", list(REGIONS))
        self._agent_ids_json: dict[tuple[str, ...], bytes] = {}
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

    def _records_json(self, rows: np.ndarray, now_ns: int) -> list[bytes]:
        """Wire session objects (list form: no ``timeline``) of ``rows`` as of ``now_ns``, as
        compact JSON bytes, one per row: each field encoded for all rows at once
        (:mod:`.records`)."""
        idx = np.asarray(rows, dtype=np.int64)
        m = len(idx)
        if not m:
            return []
        a, c = self._a, self.columns
        key = a["key"][idx]
        agent = a["agent"][idx].astype(np.intp)
        end = c["end_ns"][idx]
        start = c["start_ns"][idx]
        deleted_ns = a["deleted_ns"][idx]
        pending = end > now_ns
        deleted = c["deleted"][idx] & ~pending & (deleted_ns <= now_ns)
        success = c["success"][idx]
        priced = ~pending & a["has_llm"][idx]
        null = [NULL] * m

        def nulled(values: list[bytes], where: np.ndarray) -> list[bytes]:
            for j in np.flatnonzero(where).tolist():
                values[j] = NULL
            return values

        digits, forms = a["digits"][idx], a["tz_form"][idx]
        stamps = (
            ("created_at", c["created_ns"][idx]),
            ("updated_at", _updated(end, start, deleted_ns, now_ns)),
            ("start_time", start),
            ("end_time", end),
            ("deleted_at", deleted_ns),
        )
        texts = json_items(  # all five time fields of all rows in one pass
            format_rfc3339_many(
                np.concatenate([ns for _, ns in stamps]),
                np.concatenate([field_digits(digits, field) for field, _ in stamps]),
                np.tile(forms, len(stamps)),
            )
        )
        created_at, updated_at, start_time, end_time, deleted_at = (
            texts[k * m : (k + 1) * m] for k in range(len(stamps))
        )
        deleted_by = null.copy()
        for j in np.flatnonzero(deleted).tolist():
            deleted_by[j] = self._deleted_by_json
        errors = null.copy()
        failed = np.flatnonzero(~pending & ~success)
        for j, k, family, g, t in zip(
            failed.tolist(),
            key[failed].tolist(),
            a["family"][idx][failed].tolist(),
            agent[failed].tolist(),
            a["fail_at"][idx][failed].tolist(),
            strict=True,
        ):
            errors[j] = orjson.dumps(session_error(self.seed, k, FAMILIES[family], g, t))
        agent_ids_json = self._agent_ids_json
        agent_ids = []
        for ids in c["agent_identifiers"][idx].tolist():
            encoded = agent_ids_json.get(ids)
            if encoded is None:
                encoded = agent_ids_json[ids] = orjson.dumps(list(ids))
            agent_ids.append(encoded)
        routed = ROUTED[a["trigger"][idx]]
        unrouted = np.full(m, NULL, dtype=object)
        meta_kind = a["meta_kind"][idx]
        tails = np.full(m, b"", dtype=object)
        tails[meta_kind == 1] = METADATA_NULL
        for j, text in enumerate(self._metadata_json(idx)):
            if text is not None:
                tails[j] = METADATA_HEAD + text
        user_data = a["user_data"][idx]
        tails[user_data == 1] += USER_DATA_NULL
        with_data = user_data == 2
        tails[with_data] += USER_DATA_JSON[key[with_data] % 50]
        extra = key % 97 == 13  # the spec: unknown extra fields appear
        tails[extra] += self._region_json[a["region"][idx][extra]]
        return render(
            [
                json_items(c["id"][idx].tolist()),
                created_at,
                updated_at,
                start_time,
                nulled(end_time, pending),
                json_items(deleted.tolist()),
                nulled(deleted_at, ~deleted),
                deleted_by,
                nulled(json_items(c["duration_ns"][idx].tolist()), pending),
                nulled(json_items(c["cpu_ns"][idx].tolist()), pending),
                [self._org_json] * m,
                self._project_json[a["project"][idx]].tolist(),
                self._deployment_json[a["deployment"][idx]].tolist(),
                agent_ids,
                self._trigger_json[a["trigger"][idx]].tolist(),
                self._env_json[a["env"][idx]].tolist(),
                json_items(c["devmode"][idx].tolist()),
                json_items(pending.tolist()),
                json_items((success & ~pending).tolist()),
                errors,
                nulled(json_items([round(v, 8) for v in a["llm_cost"][idx].tolist()]), ~priced),
                nulled(json_items([round(v, 8) for v in a["total_cost"][idx].tolist()]), ~priced),
                nulled(json_items(a["prompt"][idx].tolist()), ~priced),
                nulled(json_items(a["completion"][idx].tolist()), ~priced),
                np.where(routed, METHOD_JSON, unrouted).tolist(),
                np.where(routed, URL_JSON[agent * 2 + (key % 4 != 0)], unrouted).tolist(),
                np.where(routed, self._route_json[agent], unrouted).tolist(),
                json_items([t or None for t in c["thread_id"][idx].tolist()]),
                tails.tolist(),
            ]
        )

    def _records(self, rows: np.ndarray, now_ns: int) -> list[dict[str, Any]]:
        """:meth:`_records_json` parsed: fresh dicts, keys in wire order."""
        return [orjson.loads(record) for record in self._records_json(rows, now_ns)]

    def _metadata_json(self, idx: np.ndarray) -> list[bytes | None]:
        """The metadata object of each of rows ``idx`` as JSON (``None`` where null/absent)."""
        a = self._a
        return metadata_json({name: a[name][idx] for name in _METADATA_CODES})

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
            records = self._records_json(todo, now_ns)
            for j, i, part, keep in zip(missing, todo.tolist(), records, stable, strict=True):
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
        texts = self._metadata_json(np.asarray(rows, dtype=np.int64))
        return [None if text is None else orjson.loads(text) for text in texts]

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
            store=int(a["store"][i]),
            calls=bool(a["calls"][i]),
            target=int(a["target"][i]),
            fail_at=int(a["fail_at"][i]),
            slow_ns=int(a["slow_ns"][i]),
            eval_code=int(a["eval_code"][i]),
            eval_shift=float(a["eval_shift"][i]),
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
        if not ROUTED[int(self._a["trigger"][i])]:
            return None
        return {
            "id": self._route_ids[agent],
            "method": "post" if int(self._a["key"][i]) % 3 == 0 else "POST",
            "path": PROFILES[agent].path,
        }

    def error(self, i: int) -> str:
        """The failed session's error message (family-templated, varying ids and numbers)."""
        return session_error(
            self.seed,
            int(self._a["key"][i]),
            FAMILIES[int(self._a["family"][i])],
            int(self._a["agent"][i]),
            int(self._a["fail_at"][i]),
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
