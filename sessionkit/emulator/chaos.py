"""Fault injection for the emulator: which faults, how often, decided reproducibly.

Every knob defaults to off. Rates are probabilities per request; faults are drawn in a fixed
order from one seeded ``random.Random`` under a lock, so a run with the same seed and the same
request order injects the same faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, fields

#: Error kinds, in the order they are drawn.
KINDS: tuple[str, ...] = ("429", "409", "5xx", "drop", "truncate", "false200", "slow")


@dataclass
class Faults:
    """What the emulator does wrong, and how often.

    ``latency`` (seconds) is added to every response plus up to ``latency_jitter`` more;
    ``rate_*`` are per-request probabilities; ``slow_seconds`` is how long a slow response
    stalls (past a client's timeout); ``page_cap`` caps list pages below the asked ``limit``;
    ``retry_after`` is what 429/409 responses advertise (seconds).

    Behaviours of a live or careless server, off by default:

    * ``deletes_per_list``: before answering each list request, hard-delete 1 to this many
      sessions (gone from lists, 404 by id) — the newest visible ones with ``delete_newest``
      (a project cleaning up while a walk runs), else anywhere.
    * ``shuffle_ties``: sessions with equal sort values come in a new random order on each
      request (instead of by id).
    * ``ignore_offset``: list requests answer from offset 0 whatever they ask.
    * ``trickle_bytes_per_s``: every body is sent at this rate (and, with
      ``trickle_headers``, the status line and headers too): a server that never quite
      stops answering.

    ``multi_region`` turns on region routing: a region server answers ``GET /session/{id}``
    for a session that lives in another region with 421 and ``x-agentuity-region`` (as the
    real service does). Off by default, so a client pointed at any one region URL (the
    ``export`` recipe ``sessionkit emulator`` prints) reads every session. It is a behaviour,
    not an error kind: :meth:`active` ignores it.
    """

    latency: float = 0.0
    latency_jitter: float = 0.0
    rate_429: float = 0.0
    rate_409: float = 0.0
    rate_5xx: float = 0.0
    rate_drop: float = 0.0
    rate_truncate: float = 0.0
    rate_false200: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 5.0
    page_cap: int | None = None
    retry_after: float = 1.0
    seed: int = 0
    multi_region: bool = False
    deletes_per_list: int = 0
    delete_newest: bool = True
    shuffle_ties: bool = False
    ignore_offset: bool = False
    trickle_bytes_per_s: float = 0.0
    trickle_headers: bool = False

    @classmethod
    def mix(cls, rate: float, *, seed: int = 0, **overrides: float | bool) -> Faults:
        """A total error ``rate`` spread evenly over every error kind (except slow responses,
        which get a tenth of a share so a run stays quick)."""
        share = rate / 6.1
        base = cls(
            rate_429=share,
            rate_409=share,
            rate_5xx=share,
            rate_drop=share,
            rate_truncate=share,
            rate_false200=share,
            rate_slow=share * 0.1,
            slow_seconds=3.0,
            retry_after=0.02,
            seed=seed,
        )
        for name, value in overrides.items():  # e.g. multi_region=True
            setattr(base, name, value)
        return base

    def rates(self) -> dict[str, float]:
        """Probability of each kind in :data:`KINDS`."""
        return {
            "429": self.rate_429,
            "409": self.rate_409,
            "5xx": self.rate_5xx,
            "drop": self.rate_drop,
            "truncate": self.rate_truncate,
            "false200": self.rate_false200,
            "slow": self.rate_slow,
        }

    def active(self) -> bool:
        """Whether any fault knob is on (``seed`` and ``multi_region`` are not faults)."""
        return any(
            getattr(self, f.name) != f.default
            for f in fields(self)
            if f.name not in ("seed", "multi_region")
        )


class FaultChooser:
    """Draws, per request, the fault to inject (or ``None``) and the latency to add."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()

    def count(self, most: int) -> int:
        """A reproducible count from 1 to ``most`` (0 when ``most`` is 0)."""
        if most <= 0:
            return 0
        with self._lock:
            return self._rng.randint(1, most)

    def random(self) -> float:
        """A reproducible float in [0, 1)."""
        with self._lock:
            return self._rng.random()

    def draw(self) -> tuple[str | None, float]:
        """``(kind or None, extra latency seconds)`` for one request."""
        f = self.faults
        with self._lock:
            roll = self._rng.random()
            jitter = self._rng.random() * f.latency_jitter if f.latency_jitter else 0.0
        delay = f.latency + jitter
        edge = 0.0
        for kind, rate in f.rates().items():
            edge += rate
            if roll < edge:
                return kind, delay
        return None, delay

    def pick(self, options: int) -> int:
        """A reproducible choice among ``options`` (e.g. 502 or 503, HTML or JSON)."""
        with self._lock:
            return self._rng.randrange(options)
