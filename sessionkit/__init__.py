"""sessionkit: analyse Agentuity agent sessions in pandas and Jupyter.

The first cell of a notebook::

    import sessionkit as sk
    client = sk.connect()                 # live API with AGENTUITY_SDK_KEY, else the emulator
    sessions = sk.load_sessions(since="7d")
    spans = sk.load_spans(sessions.head(50))

What each module owns and may import: ``ARCHITECTURE.md`` at the repository's root.
"""

import importlib
from types import ModuleType

from .agents import AmbiguousAgentError, UnknownAgentError
from .client import Client
from .connect import connect
from .errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BadResponseError,
    ConfigurationError,
    InsecureWarning,
    InvalidArgumentError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    SchemaError,
    SchemaWarning,
    ServerError,
    SessionKitError,
    SessionKitWarning,
    WrongRegionError,
)
from .frames import concat, empty_frame, eval_runs_frame, logs_frame, sessions_frame
from .loaders import (
    Details,
    SessionDetail,
    load_agents,
    load_details,
    load_eval_runs,
    load_logs,
    load_session,
    load_sessions,
    load_spans,
)
from .spans import spans_frame
from .store import Store, StoreLockedError, StoreSourceError, SyncResult

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AmbiguousAgentError",
    "AuthenticationError",
    "BadRequestError",
    "BadResponseError",
    "Client",
    "ConfigurationError",
    "Details",
    "InsecureWarning",
    "InvalidArgumentError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "SchemaError",
    "SchemaWarning",
    "ServerError",
    "SessionDetail",
    "SessionKitError",
    "SessionKitWarning",
    "Store",
    "StoreLockedError",
    "StoreSourceError",
    "SyncResult",
    "UnknownAgentError",
    "WrongRegionError",
    "__version__",
    "concat",
    "connect",
    "empty_frame",
    "eval_runs_frame",
    "load_agents",
    "load_details",
    "load_eval_runs",
    "load_logs",
    "load_session",
    "load_sessions",
    "load_spans",
    "logs_frame",
    "sessions_frame",
    "spans_frame",
]

#: Sub-packages reachable as ``sk.plot``, ``sk.analysis``, ... after ``import sessionkit as sk``,
#: imported on first use (matplotlib and ipywidgets cost nothing until then).
_LAZY = ("analysis", "plot", "report", "widgets", "emulator", "store")


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """What tab completion offers: the public API and the lazy sub-packages, no internals."""
    return sorted([*__all__, *_LAZY])
