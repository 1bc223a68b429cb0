"""Configuration: where the API lives and which key to send, from arguments and the environment.

Resolution order (first hit wins), as the Agentuity SDK and CLI resolve them:

=================  =======================================================================
key                ``api_key=`` argument, then ``AGENTUITY_SDK_KEY``
region             ``region=``, then ``AGENTUITY_REGION``, then ``usw``
sessions base      ``base_url=``, then ``AGENTUITY_CATALYST_URL``, then
                   ``AGENTUITY_TRANSPORT_URL``, then ``https://catalyst-{region}.agentuity.cloud``
logs base          ``logs_base_url=``, then ``AGENTUITY_API_URL``, then ``https://api.agentuity.com``
region URLs        ``region_urls=``, then ``SESSIONKIT_REGION_URLS`` (``usw=URL,use=URL,...``),
                   then the public ``https://catalyst-{R}.agentuity.cloud`` — the public ones
                   only when the sessions base is itself public (see below)
=================  =======================================================================

A 421 answer names the region a session lives in; the client retries once at that region's
base URL. When the sessions base is a loopback host (the bundled emulator, a local proxy or
tunnel) a 421 is followed only to a region URL configured through ``region_urls=`` or
``SESSIONKIT_REGION_URLS``, never to a public host the user did not name.

The key is held in a :class:`Secret` whose ``repr``/``str`` never show it. It is only ever
sent over HTTPS, except to loopback hosts (the bundled emulator): :func:`check_base_url`
refuses a plain-HTTP remote base URL.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

import httpx

from .errors import KEY_ENV_HELP, ConfigurationError, register_secret

REGIONS: tuple[str, ...] = ("usw", "usc", "use")
DEFAULT_REGION = "usw"
LOGS_BASE = "https://api.agentuity.com"


def catalyst_url(region: str) -> str:
    """The public sessions base URL of ``region``."""
    return f"https://catalyst-{region}.agentuity.cloud"


#: The bundled emulator's demo key: printed by the emulator, opens only it, so not scrubbed
#: from messages (its pieces, such as "emulator", are words sessionkit's messages use).
DEMO_KEY = "sk_emulator_demo"


class Secret:
    """A string that never shows itself: ``repr``/``str``/format give ``'***'``."""

    __slots__ = ("__weakref__", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        if value != DEMO_KEY:  # the emulator's printed, public key is not a secret
            register_secret(self)  # scrubbed from every message sessionkit builds

    def get(self) -> str:
        """The secret value (send it, never print it)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


def resolve_key(api_key: str | None, env: Mapping[str, str] | None = None) -> Secret:
    """The key from the argument or ``AGENTUITY_SDK_KEY`` (surrounding whitespace stripped).

    Raises :class:`ConfigurationError` listing every way to give one when there is none, and
    (without quoting it) when it holds a character an HTTP header cannot carry as given: a key
    is printable ASCII, ``!`` to ``~``. Sending such a key would fail deep in the HTTP layer
    with an error that quotes the header, key included."""
    env = os.environ if env is None else env
    key = api_key if api_key is not None else env.get("AGENTUITY_SDK_KEY")
    if not isinstance(key, str) or not key.strip():
        raise ConfigurationError("No Agentuity API key was found.\n" + KEY_ENV_HELP)
    key = key.strip()
    bad = [i for i, c in enumerate(key) if not "!" <= c <= "~"]
    if bad:
        where = "AGENTUITY_SDK_KEY" if api_key is None else "the api_key argument"
        raise ConfigurationError(
            f"The API key in {where} holds {len(bad)} character(s) no key has (a space, a "
            "line break, a control or non-ASCII character; it is not shown). Copy the key "
            "again from the Agentuity console: it is printable ASCII only."
        )
    return Secret(key)


def resolve_region(region: str | None, env: Mapping[str, str] | None = None) -> str:
    """The region from the argument, ``AGENTUITY_REGION`` or the default ``usw``."""
    env = os.environ if env is None else env
    value = region or env.get("AGENTUITY_REGION") or DEFAULT_REGION
    if value not in REGIONS:
        raise ConfigurationError(
            f"Unknown region {value!r}; expected one of {', '.join(REGIONS)} "
            "(argument region= or environment variable AGENTUITY_REGION)."
        )
    return value


def resolve_base_url(
    base_url: str | None, region: str, env: Mapping[str, str] | None = None
) -> str:
    """The sessions ("Catalyst") base URL."""
    env = os.environ if env is None else env
    url = (
        base_url
        or env.get("AGENTUITY_CATALYST_URL")
        or env.get("AGENTUITY_TRANSPORT_URL")
        or catalyst_url(region)
    )
    return check_base_url(url, "base_url")


def resolve_logs_url(logs_base_url: str | None, env: Mapping[str, str] | None = None) -> str:
    """The App API (logs) base URL."""
    env = os.environ if env is None else env
    return check_base_url(
        logs_base_url or env.get("AGENTUITY_API_URL") or LOGS_BASE, "logs_base_url"
    )


REGION_URLS_ENV = "SESSIONKIT_REGION_URLS"


def resolve_region_urls(
    region_urls: Mapping[str, str] | None, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Base URL per region, from ``region_urls`` or ``SESSIONKIT_REGION_URLS``
    (``region=url`` pairs separated by commas), each checked like a base URL; a region name
    not in :data:`REGIONS` raises :class:`~sessionkit.errors.ConfigurationError`."""
    env = os.environ if env is None else env
    if region_urls is None:
        text = env.get(REGION_URLS_ENV, "").strip()
        region_urls = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            region, sep, url = item.partition("=")
            if not sep or not region.strip() or not url.strip():
                raise ConfigurationError(
                    f"{REGION_URLS_ENV} must hold region=url pairs separated by commas, e.g. "
                    f"'usw=http://127.0.0.1:8001,use=http://127.0.0.1:8002'; got {item[:80]!r}"
                )
            region_urls[region.strip()] = url.strip()
        name = REGION_URLS_ENV
    else:
        name = "region_urls"
    unknown = [r for r in region_urls if r not in REGIONS]
    if unknown:  # a 421 names one of REGIONS: a URL under another name would never be used
        raise ConfigurationError(
            f"{name} names unknown region(s) {', '.join(map(repr, unknown))}; expected "
            f"{', '.join(REGIONS)} (the names a 421's x-agentuity-region header carries)."
        )
    return {r: check_base_url(u, f"{name}[{r!r}]") for r, u in region_urls.items()}


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``. Other names under
    ``.localhost`` are not: they are looked up like any name, and a resolver may send them
    off the machine (with the key, over plain HTTP)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, name: str) -> str:
    """Validate a base URL: absolute, HTTPS unless the host is loopback, and no user,
    password, query or fragment (the message never quotes such a URL). Returns it unslashed."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(f"{name} {url!r} is not a valid URL.") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(f"{name} {url!r} must be an absolute http(s) URL.")
    if parsed.userinfo or parsed.query or parsed.fragment:
        part = (
            "a user or password"
            if parsed.userinfo
            else ("a query" if parsed.query else "a fragment")
        )
        raise ConfigurationError(
            f"{name} must be a plain base URL (scheme, host, port, path); this one has {part}, "
            "which sessionkit would send or print with every request. The key goes in "
            "api_key= or AGENTUITY_SDK_KEY."
        )
    if parsed.scheme == "http" and not is_loopback(parsed.host):
        raise ConfigurationError(
            f"{name} {url!r} uses plain HTTP to a remote host: the API key would travel "
            "unencrypted. Use https:// (plain http is only allowed for loopback hosts such as "
            "the bundled emulator)."
        )
    return str(parsed).rstrip("/")
