"""The HTTP client of the three documented endpoints, with retries, paging and fan-out.

One module per layer (each imports only those above it in this list)::

    retry.py     RetryPolicy, the retry loop, Retry-After parsing, Stopped (pure)
    workers.py   worker threads sharing a stop event (Ctrl-C stops them) (no HTTP)
    envelope.py  the {success, data} envelope and a page's ids, from bytes (pure)
    deadline.py  an attempt's deadline and stop, enforced at the socket (httpcore backend)
    attempt.py   one GET: streamed body, size limit, deadline, status -> exception
    paging.py    Page, the walk strategy (OffsetWalk) and its guard      (no HTTP)
    fanout.py    bounded concurrent map over ids, with progress; chunks
    facade.py    Client, composing them

``from sessionkit.client import Client, Page, PAGE_MAX, RetryPolicy, chunks,
retry_after_seconds`` is the public surface.
"""

from __future__ import annotations

from .facade import Client
from .fanout import chunks, fan_out
from .paging import PAGE_MAX, Page
from .retry import RetryPolicy, retry_after_seconds

__all__ = ["PAGE_MAX", "Client", "Page", "RetryPolicy", "chunks", "fan_out", "retry_after_seconds"]
