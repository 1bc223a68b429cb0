"""``sk.connect()``: the live service when a key is configured, the bundled emulator otherwise.

The default client (what ``client=None`` means in every loader) is created on first use by
:func:`connect` and kept for the process. Falling back to the emulator is announced in one
visible line, so demo data is never mistaken for a real project.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from .client import Client
from .display import format_timestamp

_lock = threading.Lock()
_default: Client | None = None
_closing = False
_emulator: Any = None


def connect(
    *, demo: bool | None = None, api_key: str | None = None, **client_options: Any
) -> Client:
    """Connect and make the result the default client of the loaders.

    ``demo=None`` (default): the live API when ``api_key`` or ``AGENTUITY_SDK_KEY`` is set,
    else the bundled emulator serving the demo dataset, announced on stdout.
    ``demo=True`` forces the emulator, ``demo=False`` forces the live API (and raises
    :class:`~sessionkit.errors.ConfigurationError` without a key). ``client_options`` go to
    :class:`~sessionkit.Client`.
    """
    global _default, _closing
    use_demo = demo if demo is not None else not (api_key or os.environ.get("AGENTUITY_SDK_KEY"))
    client = _demo_client(**client_options) if use_demo else Client(api_key, **client_options)
    with _lock:
        _default = client
        if not _closing:
            atexit.register(_close_default)  # no "unclosed socket" warning at exit
            _closing = True
    return client


def _close_default() -> None:
    with _lock:
        client = _default
    if client is not None:
        client.close()


def default_client() -> Client:
    """The client loaders use when given ``client=None`` (created by :func:`connect`)."""
    with _lock:
        current = _default
    return current if current is not None else connect()


def _demo_client(**client_options: Any) -> Client:
    global _emulator
    from .emulator import Emulator  # imported lazily: the emulator is not needed for live use

    with _lock:
        if _emulator is None:
            _emulator = Emulator()
            _emulator.__enter__()
            atexit.register(_stop_emulator)
        emu = _emulator
    dataset = emu.dataset
    created = dataset.columns["created_ns"]
    span, days = "", None
    if len(dataset):
        first, last = (
            datetime.fromtimestamp(int(ns) // 10**9, UTC).date() for ns in created[[0, -1]]
        )
        span, days = f", {first} to {last}", (first.isoformat(), last.isoformat())
    now = pd.Timestamp(emu.now(), tz="UTC")
    print(
        f"sessionkit: no AGENTUITY_SDK_KEY set; using the bundled emulator with demo data "
        f"({len(dataset):,} sessions{span}); relative times such as since='7d' count back from "
        f"the demo's now, {format_timestamp(now)}. Set AGENTUITY_SDK_KEY to load your own "
        "project.",
        file=sys.stdout,
    )
    client = Client(
        emu.key,
        base_url=emu.catalyst_url,
        logs_base_url=emu.api_url,
        region_urls=emu.region_urls,
        backend="emulator (demo data)",
        **client_options,
    )
    client.demo_span = days
    client.demo_now = now
    return client


def _stop_emulator() -> None:
    global _emulator
    with _lock:
        emu, _emulator = _emulator, None
    if emu is not None:
        emu.__exit__(None, None, None)
