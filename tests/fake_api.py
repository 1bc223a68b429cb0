"""An in-memory ``GET /session`` for walk tests: rows with an id and a start time, answering
``fetch(params, offset, limit)`` like the list endpoint (sort, direction, startAfter /
startBefore, limit / offset), with knobs for the ways a live or hostile server differs:
deletions and insertions between requests, ties ordered at random on each request, bounds
rounded to a precision or read inclusively, pages capped below the limit."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import orjson

from sessionkit import timestamps
from sessionkit.client.paging import Page

NS = 1_000_000_000


@dataclass
class Row:
    id: str
    start: int  # ns since the epoch
    created: int = 0


@dataclass
class FakeSessions:
    """The project's rows and how the fake server answers. ``before_request(server)`` runs
    before each answer (under the lock): delete or insert rows there."""

    rows: list[Row]
    shuffle_ties: bool = False
    precision: int = 1  # bounds are truncated to a multiple of this many ns
    inclusive: bool = False  # startBefore/startAfter read as <= / >=
    cap: Callable[[int, Mapping[str, str]], int | None] = lambda calls, params: None
    before_request: Callable[[FakeSessions], None] | None = None
    ignore_bounds: bool = False
    seed: int = 0
    calls: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def alive(self) -> set[str]:
        with self.lock:
            return {r.id for r in self.rows}

    def fetch(self, params: Mapping[str, str], offset: int, limit: int) -> Page:
        with self.lock:
            self.calls.append({**params, "offset": str(offset), "limit": str(limit)})
            if self.before_request is not None:
                self.before_request(self)
            rows = list(self.rows)
            if not self.ignore_bounds:
                if "startAfter" in params:
                    after = self._bound(params["startAfter"])
                    rows = [
                        r for r in rows if (r.start >= after if self.inclusive else r.start > after)
                    ]
                if "startBefore" in params:
                    before = self._bound(params["startBefore"])
                    rows = [
                        r
                        for r in rows
                        if (r.start <= before if self.inclusive else r.start < before)
                    ]
            sort = params.get("sort", "created")
            key: Callable[[Row], int] = (
                (lambda r: r.start) if sort == "startTime" else (lambda r: r.created)
            )
            tie = {r.id: (self.rng.random() if self.shuffle_ties else 0.0) for r in rows}
            rows.sort(key=lambda r: (key(r), tie[r.id], r.id))
            if params.get("direction", "desc") == "desc":
                rows.reverse()
            cap = self.cap(len(self.calls), params)
            size = limit if cap is None else min(cap, limit)
            page = rows[offset : offset + size]
        body = orjson.dumps(
            {
                "success": True,
                "data": [{"id": r.id, "start_time": timestamps.format_ns(r.start)} for r in page],
            }
        )
        return Page(offset, body, tuple(r.id for r in page), starts=tuple(r.start for r in page))

    def _bound(self, text: str) -> int:
        value = timestamps.parse_one(text)
        assert value is not None, text
        return value - value % self.precision


def spread(
    n: int, *, start: int = 1_700_000_000 * NS, gap: int = 37 * NS, ties: int = 1
) -> list[Row]:
    """``n`` rows, ``ties`` of them sharing each start time, ``gap`` ns apart, oldest first."""
    return [
        Row(f"s{i:06d}", start + (i // ties) * gap, created=start + (i // ties) * gap + i % 7)
        for i in range(n)
    ]


def distinct(pages: list[Page]) -> list[str]:
    """The walk's rows, each once, in order (what the loaders keep)."""
    out: list[str] = []
    for page in pages:
        out.extend(i for i in page.ids if i not in page.repeated)
    return out


def page_of(offset: int, ids: list[str]) -> Page:
    """A page holding rows with these ids (no times)."""
    body = orjson.dumps({"success": True, "data": [{"id": i} for i in ids]})
    return Page(offset, body, tuple(ids))
