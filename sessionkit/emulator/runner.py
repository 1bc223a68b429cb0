"""Running the emulator: in-process (:class:`Emulator`) or in a child process
(:func:`spawn_emulator_process`, which keeps the server off the caller's GIL for benchmarks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np

from ..config import DEMO_KEY
from .catalog import DEFAULT_SESSIONS, REGIONS
from .chaos import FaultChooser, Faults
from .dataset import Dataset
from .generate import generate
from .httpd import QueryEngine, Stats, _Server

#: The key the emulator accepts unless given another: the public demo key (one home, config).
DEFAULT_KEY = DEMO_KEY
HOME_REGION = "usw"


class Emulator:
    """The Agentuity Sessions API on loopback: one server per region plus the App API (logs).

    ``with Emulator() as emu:`` starts every server on a free port in background threads and
    stops them (and their keep-alive connections) on exit. ``dataset=None`` serves the demo
    dataset, ``sessions=N`` / ``seed=`` / ``agent_names=`` a generated one (see
    :func:`~sessionkit.emulator.generate`: five other agent names make it look like another
    team's project); ``live=RATE`` makes sessions arrive at RATE per second and pending ones
    complete as the clock (``clock_speed`` × wall time) advances. ``faults`` may be replaced
    while running.

    Single-region by default: every region server answers every session it lists, so a client
    given only ``catalyst_url`` (or any one of ``region_urls``) reads the whole project.
    ``multi_region=True`` (or ``Faults(multi_region=True)``) routes like the real service:
    ``GET /session/{id}`` on the wrong region answers 421 with ``x-agentuity-region``, and a
    client needs ``region_urls`` to follow it.
    """

    def __init__(
        self,
        dataset: Dataset | None = None,
        *,
        sessions: int | None = None,
        seed: int = 7,
        key: str = DEFAULT_KEY,
        faults: Faults | None = None,
        live: float | None = None,
        clock_speed: float = 1.0,
        verbose: bool = False,
        multi_region: bool = False,
        agent_names: Sequence[str] | None = None,
    ) -> None:
        if dataset is None:
            dataset = generate(
                DEFAULT_SESSIONS if sessions is None else sessions,
                seed=seed,
                live_rate=live,
                agent_names=agent_names,
            )
        self.dataset = dataset
        self.key = key
        self.live = live
        self.clock_speed = clock_speed
        self.verbose = verbose
        #: Route by region (421 for another region's session); see also ``Faults.multi_region``.
        self.multi_region = multi_region
        self.stats = Stats()
        self.faults = faults or Faults()
        #: Hostile-response injection for tests: ``{path: body}`` answers GET ``path`` (any
        #: query, any region) with ``200`` and these exact bytes instead of the dataset's
        #: answer, e.g. a timeline 10,000 levels deep or a page with a million rows.
        self.raw_answers: dict[str, bytes] = {}
        self.queries = QueryEngine(dataset)
        self._stop = threading.Event()
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self._started = 0.0
        self._grow_lock = threading.Lock()
        self.region_urls: dict[str, str] = {}
        self.catalyst_url = ""
        self.api_url = ""

    # ------------------------------------------------------------------ configuration

    @property
    def faults(self) -> Faults:
        """The active fault configuration (assign a new :class:`Faults` to change it)."""
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self._faults = value
        self._chooser = FaultChooser(value)

    def routes_regions(self) -> bool:
        """Whether region servers answer 421 for sessions of another region (multi-region)."""
        return self.multi_region or self.faults.multi_region

    def now(self) -> int:
        """The emulator's clock in ns since epoch: frozen at the dataset's ``now`` unless live."""
        if not self.live or not self._started:
            return self.dataset.now_ns
        elapsed = (time.monotonic() - self._started) * self.clock_speed
        return self.dataset.now_ns + int(elapsed * 1e9)

    # ------------------------------------------------------------------ lifecycle

    def start(self, port: int = 0) -> Emulator:
        """Start the servers (idempotent); returns ``self``.

        ``port=0`` picks free ports; otherwise the home region listens on ``port``, the other
        regions on the next ports and the App API after them.
        """
        if self._servers:
            return self
        try:
            for k, region in enumerate(REGIONS):
                self._servers.append(_Server(self, "catalyst", region, port + k if port else 0))
            self._servers.append(_Server(self, "app", None, port + len(REGIONS) if port else 0))
        except OSError:  # a port is taken: close the ones already bound (none serves yet)
            for server in self._servers:
                server.server_close()
            self._servers.clear()
            raise
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                daemon=True,
                name=f"sessionkit-emulator-{server.role}-{server.region}",
            )
            thread.start()
            self._threads.append(thread)
        ports = [s.server_address[1] for s in self._servers]
        self.region_urls = {
            r: f"http://127.0.0.1:{p}" for r, p in zip(REGIONS, ports, strict=False)
        }
        self.catalyst_url = self.region_urls[HOME_REGION]
        self.api_url = f"http://127.0.0.1:{ports[-1]}"
        self._started = time.monotonic()
        return self

    def stop(self) -> None:
        """Stop every server and close open connections."""
        self._stop.set()
        for server in self._servers:
            server.shutdown()
            server.close_all()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"Emulator(sessions={len(self.dataset)}, catalyst_url={self.catalyst_url!r}, "
            f"api_url={self.api_url!r}, live={self.live}, multi_region={self.routes_regions()}, "
            f"faults_active={self.faults.active()})"
        )

    # ------------------------------------------------------------------ used by the handlers

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _list(self, query: dict[str, str], limit: int, offset: int) -> bytes:
        now = self.now()
        if self.live:
            with self._grow_lock:
                self.dataset.grow(now)
        faults, chooser = self.faults, self._chooser
        deletes = chooser.count(faults.deletes_per_list)
        if deletes:
            gone = self.queries.delete(
                deletes, now, newest=faults.delete_newest, pick=chooser.random
            )
            self.stats.add(*["deleted"] * gone)
        cap = faults.page_cap
        if cap is not None:
            limit = min(limit, cap)
        if faults.ignore_offset:
            offset = 0
        ties = None
        if faults.shuffle_ties:
            seed = int(chooser.random() * 2**32)
            ties = np.random.default_rng(seed).random(len(self.dataset))
        rows = self.queries.rows(query, now, frozen=not self.live, tie_order=ties)
        return self.dataset.list_page(rows[offset : offset + limit], now)


@contextmanager
def run_emulator(**options: Any) -> Iterator[Emulator]:
    """``with run_emulator(sessions=500) as emu:`` — an :class:`Emulator` started and stopped."""
    with Emulator(**options) as emu:
        yield emu


@dataclass
class EmulatorProcess:
    """A running emulator in a child process: its URLs and key."""

    catalyst_url: str
    api_url: str
    region_urls: dict[str, str]
    key: str
    process: subprocess.Popen[bytes] = field(repr=False)


@contextmanager
def spawn_emulator_process(
    *,
    sessions: int | None = None,
    seed: int = 7,
    key: str = DEFAULT_KEY,
    faults: Faults | None = None,
    live: float | None = None,
    multi_region: bool = False,
    agent_names: Sequence[str] | None = None,
    ready_timeout: float = 600.0,
) -> Iterator[EmulatorProcess]:
    """Run ``python -m sessionkit.emulator --port 0 --json-ready ...`` and yield its URLs."""
    args = [
        sys.executable,
        "-m",
        "sessionkit.emulator",
        "--port",
        "0",
        "--json-ready",
        "--seed",
        str(seed),
    ]  # the key travels in SESSIONKIT_EMULATOR_KEY, not argv, so `ps` does not show it
    if sessions is not None:
        args += ["--sessions", str(sessions)]
    if live:
        args += ["--live", str(live)]
    if multi_region:
        args.append("--multi-region")
    if agent_names is not None:
        args += ["--agent-names", ",".join(agent_names)]
    if faults is not None:
        args += ["--faults-json", json.dumps(faults.__dict__)]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "SESSIONKIT_EMULATOR_KEY": key},
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + ready_timeout
        line = b""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line or line.startswith(b"{"):
                break
        if not line.startswith(b"{"):
            raise RuntimeError("the emulator process did not start (no ready line)")
        info = json.loads(line)
        yield EmulatorProcess(
            info["catalyst_url"], info["api_url"], info["region_urls"], info["key"], proc
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
