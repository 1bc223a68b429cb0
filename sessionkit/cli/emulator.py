"""``sessionkit emulator`` (and ``python -m sessionkit.emulator``): serve the local API.

Exit status: 0 when stopped (Ctrl-C or SIGTERM), 1 when a port cannot be bound, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ..emulator import DEFAULT_KEY, Dataset, Emulator, Faults, generate
from ..emulator.catalog import AGENTS, DEFAULT_SESSIONS, REGIONS
from ..emulator.generate import check_agent_names
from ._common import (
    Command,
    CommandError,
    duration,
    nonempty,
    nonnegative_float,
    nonnegative_int,
    os_error_text,
    positive_int,
    rate,
)

#: The highest --port: the other regions and the App API listen on the ports after it.
MAX_PORT = 65535 - len(REGIONS)


def _utc(ns: int) -> datetime:
    """``ns`` nanoseconds since the epoch as an aware UTC datetime."""
    return datetime.fromtimestamp(ns / 1e9, UTC)


def agent_names(text: str) -> tuple[str, ...]:
    """``--agent-names`` parsed: five comma-separated names (see :func:`check_agent_names`)."""
    try:
        return check_agent_names([part.strip() for part in text.split(",")])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def port(text: str) -> int:
    """argparse type of ``--port``: 0 (any free ports) or 1..MAX_PORT."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(
            f"must be 0 (any free ports) or 1..{MAX_PORT} (the next {len(REGIONS)} ports, up "
            f"to 65535, serve the other regions and the App API), not {value}"
        )
    return value


def configure(p: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``p``."""
    p.add_argument(
        "--port",
        type=port,
        default=8787,
        help=f"port of the home region (usw); the other regions and the App API use the next "
        f"{len(REGIONS)} ports; 0 = any free ports (default: %(default)s)",
    )
    p.add_argument(
        "--sessions",
        type=nonnegative_int,
        default=None,
        metavar="N",
        help="generate N sessions instead of the demo dataset (default: the demo dataset)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=7,
        help="random seed of the project (the demo is seed 7) (default: %(default)s)",
    )
    p.add_argument(
        "--agent-names",
        type=agent_names,
        default=None,
        metavar="A,B,C,D,E",
        help="rename the five agents (comma-separated, in the demo's order: "
        + ", ".join(a.name for a in AGENTS)
        + ") to emulate another project; default: the demo's names",
    )
    p.add_argument(
        "--key",
        type=nonempty,
        default=os.environ.get("SESSIONKIT_EMULATOR_KEY", DEFAULT_KEY),
        help="the Bearer key clients must send (default: $SESSIONKIT_EMULATOR_KEY or the demo key)",
    )
    p.add_argument(
        "--live",
        type=nonnegative_float,
        default=None,
        metavar="RATE",
        help="new sessions per second (live mode) (default: off, a frozen dataset)",
    )
    p.add_argument(
        "--latency",
        type=duration,
        default=0.0,
        help="added to every response, e.g. 50ms (default: %(default)s s)",
    )
    p.add_argument(
        "--latency-jitter",
        type=duration,
        default=0.0,
        help="random extra latency, up to this (default: %(default)s s)",
    )
    p.add_argument(
        "--fault-rate",
        type=rate,
        default=0.0,
        help="total error rate 0..1 spread over every fault kind (default: %(default)s)",
    )
    for kind in ("429", "409", "5xx", "drop", "truncate", "false200", "slow"):
        p.add_argument(
            f"--rate-{kind}",
            type=rate,
            default=None,
            metavar="RATE",
            help=f"rate 0..1 of {kind} faults (default: its share of --fault-rate)",
        )
    p.add_argument(
        "--slow-seconds",
        type=duration,
        default=5.0,
        help="how long a slow fault stalls, e.g. 5s (default: %(default)s s)",
    )
    p.add_argument(
        "--page-cap",
        type=positive_int,
        default=None,
        metavar="K",
        help="return at most K rows per list page (default: the limit the client asks)",
    )
    p.add_argument(
        "--retry-after",
        type=duration,
        default=1.0,
        help="what 429/409 responses advertise in Retry-After (default: %(default)s s)",
    )
    p.add_argument(
        "--multi-region",
        action="store_true",
        help="route by region like the real service: a region server answers 421 for another "
        "region's session (default: every region server answers every session)",
    )
    p.add_argument(
        "--verbose", action="store_true", help="log method, path and status of every request"
    )
    p.add_argument(
        "--json-ready", action="store_true", help="print one JSON line with the URLs when ready"
    )
    p.add_argument("--faults-json", default=None, help=argparse.SUPPRESS)


def region_urls_text(region_urls: dict[str, str]) -> str:
    """``{"usw": "http://a", "usc": "http://b"}`` → ``"usw=http://a,usc=http://b"``."""
    return ",".join(f"{region}={url}" for region, url in region_urls.items())


def faults_from_args(args: argparse.Namespace) -> Faults:
    """The :class:`Faults` the flags describe."""
    if args.faults_json:
        return Faults(**json.loads(args.faults_json))
    faults = Faults.mix(args.fault_rate) if args.fault_rate else Faults()
    faults.latency, faults.latency_jitter = args.latency, args.latency_jitter
    for kind in ("429", "409", "5xx", "drop", "truncate", "false200", "slow"):
        value = getattr(args, f"rate_{kind}")
        if value is not None:
            setattr(faults, f"rate_{kind}", value)
    faults.slow_seconds, faults.page_cap, faults.retry_after = (
        args.slow_seconds,
        args.page_cap,
        args.retry_after,
    )
    return faults


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM, having printed the URLs, the key and how to point
    sessionkit at it (``--json-ready``: one JSON line instead); returns 0 once stopped. Raises
    a :class:`CommandError` when a port cannot be bound."""
    dataset: Dataset = generate(
        DEFAULT_SESSIONS if args.sessions is None else args.sessions,
        seed=args.seed,
        live_rate=args.live,
        agent_names=args.agent_names,
    )
    emu = Emulator(
        dataset,
        key=args.key,
        faults=faults_from_args(args),
        live=args.live,
        verbose=args.verbose,
        multi_region=args.multi_region,
    )
    try:
        emu.start(args.port)
    except OSError as exc:  # start() closed what it had bound
        raise CommandError(
            f"cannot listen on port {args.port} (or one of the {len(REGIONS)} after it): "
            f"{os_error_text(exc)}; stop what uses it, or pass another --port (0 = any free ports)"
        ) from exc
    info = {
        "catalyst_url": emu.catalyst_url,
        "api_url": emu.api_url,
        "region_urls": emu.region_urls,
        "key": emu.key,
        "multi_region": emu.routes_regions(),
    }

    def announce() -> None:
        if args.json_ready:
            print(json.dumps(info), flush=True)
        else:
            print(
                f"sessionkit emulator: {len(dataset):,} sessions"
                + (f", live at {args.live}/s" if args.live else "")
                + (
                    ", multi-region (421 for another region's session)"
                    if emu.routes_regions()
                    else ", single-region (every region URL answers every session)"
                )
            )
            for region, url in emu.region_urls.items():
                print(f"  sessions API ({region}): {url}")
            print(f"  logs API:              {emu.api_url}")
            print(f"  key:                   {emu.key}   (a demo key; it opens only this emulator)")
            first, now = _utc(int(dataset.meta["start_ns"])), _utc(emu.now())
            print(
                f"  data:                  sessions started {first:%Y-%m-%d} to {now:%Y-%m-%d %H:%M} "
                "UTC (the emulator's now" + (", advancing" if args.live else "") + "); relative "
                "times such as since='7d' count back from your clock, so give dates, e.g. "
                f"since='{now - timedelta(days=7):%Y-%m-%d}'"
            )
            print("Point sessionkit (or any client) at it with:")
            print(
                f"  export AGENTUITY_CATALYST_URL={emu.catalyst_url} AGENTUITY_API_URL={emu.api_url} "
                f"AGENTUITY_SDK_KEY={emu.key}"
            )
            if emu.routes_regions():
                print(f"  export SESSIONKIT_REGION_URLS={region_urls_text(emu.region_urls)}")
            print("Ctrl-C stops it.", flush=True)

    try:
        wait_for_stop(announce)
    finally:
        emu.stop()
    return 0


#: Longest a stop can wait (seconds) when SIGTERM lands just before a sleep starts.
_NAP = 0.2


class _Terminated(Exception):
    """Raised in the main thread by the SIGTERM handler :func:`wait_for_stop` installs."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


def wait_for_stop(ready: Callable[[], None] = lambda: None) -> None:
    """Call ``ready()`` (which says the server is up), then block until Ctrl-C (SIGINT) or
    SIGTERM arrives, and return; SIGTERM's handler is put back as it was. The handler is in
    place before ``ready()`` runs, so a SIGTERM sent as soon as the "Ctrl-C stops it" line is
    read stops the server cleanly (exit 0) instead of killing it.

    The handler raises instead of setting a ``threading.Event``: ``Event.set`` takes the
    event's (non-reentrant) lock, and a signal that lands while the main thread holds that
    lock inside ``Event.wait`` deadlocks the process, which then ignores SIGTERM for good. It
    sleeps in short naps: a signal landing just before a nap's system call does not interrupt
    it, and is handled when that nap ends (within :data:`_NAP` seconds)."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        ready()
        while True:
            time.sleep(_NAP)
    except (KeyboardInterrupt, _Terminated):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


COMMAND = Command(
    name="emulator",
    help="run the local Agentuity Sessions API emulator",
    description="Run the local Agentuity API emulator.",
    interrupted="the emulator stopped",
    configure=configure,
    run=run,
)
