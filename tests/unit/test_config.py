"""Configuration, the key as a secret, and the exception ladder."""

from __future__ import annotations

import pathlib
import re
import warnings

import httpx
import pytest

import sessionkit as sk
from sessionkit import errors
from sessionkit.config import Secret, check_base_url, resolve_base_url, resolve_key

CANARY = "sk_canary_0123456789abcdef"


def test_missing_key_lists_every_way_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTUITY_SDK_KEY", raising=False)
    with pytest.raises(sk.ConfigurationError) as info:
        sk.Client()
    text = str(info.value)
    assert "AGENTUITY_SDK_KEY" in text and "api_key=" in text and "connect(demo=True)" in text


def test_env_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTUITY_TRANSPORT_URL", "https://transport.example")
    assert resolve_base_url(None, "usc") == "https://transport.example"
    monkeypatch.setenv("AGENTUITY_CATALYST_URL", "https://catalyst.example/")
    assert resolve_base_url(None, "usc") == "https://catalyst.example"
    monkeypatch.delenv("AGENTUITY_CATALYST_URL")
    monkeypatch.delenv("AGENTUITY_TRANSPORT_URL")
    assert resolve_base_url(None, "usc") == "https://catalyst-usc.agentuity.cloud"
    monkeypatch.setenv("AGENTUITY_SDK_KEY", CANARY)
    monkeypatch.setenv("AGENTUITY_REGION", "use")
    client = sk.Client()
    assert client.region == "use" and client.base_url == "https://catalyst-use.agentuity.cloud"
    assert client.logs_base_url == "https://api.agentuity.com"
    assert resolve_key(None).get() == CANARY


def test_unknown_region_is_refused() -> None:
    with pytest.raises(sk.ConfigurationError, match="usw, usc, use"):
        sk.Client(CANARY, region="eu")


@pytest.mark.parametrize("url", ["http://api.example.com", "http://10.0.0.1:8080"])
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(sk.ConfigurationError, match="plain HTTP"):
        sk.Client(CANARY, base_url=url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8787", "http://localhost:1", "http://[::1]:9"])
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert check_base_url(url, "base_url").startswith("http://")


def test_key_never_in_repr_or_html() -> None:
    client = sk.Client(CANARY, base_url="http://127.0.0.1:9")
    for text in (
        repr(client),
        str(client),
        client._repr_html_(),
        repr(vars(client)),
        repr(Secret(CANARY)),
    ):
        assert CANARY not in text
    assert f"{Secret(CANARY)}" == "***"


def test_key_not_in_connection_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused while sending {request.headers['authorization']}")

    client = sk.Client(
        CANARY,
        base_url="http://127.0.0.1:9",
        transport=httpx.MockTransport(refuse),
        max_retries=1,
        retry_budget=1,
    )
    with pytest.raises(sk.APIConnectionError) as info:
        client.get_logs("sess_" + "0" * 32)
    assert CANARY not in str(info.value) and "***" in str(info.value)
    assert "GET https://api.agentuity.com/cli/session/sess_" in str(info.value)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, sk.BadRequestError),
        (401, sk.AuthenticationError),
        (402, sk.PaymentRequiredError),
        (403, sk.PermissionDeniedError),
        (404, sk.NotFoundError),
        (409, sk.RateLimitError),
        (421, sk.WrongRegionError),
        (426, sk.PaymentRequiredError),
        (429, sk.RateLimitError),
        (500, sk.ServerError),
        (503, sk.ServerError),
        (418, sk.APIStatusError),
    ],
)
def test_status_ladder(status: int, cls: type[Exception]) -> None:
    assert errors.status_error_class(status) is cls
    assert issubclass(cls, sk.SessionKitError)


def test_retry_after_forms() -> None:
    from sessionkit.client import retry_after_seconds

    assert retry_after_seconds(httpx.Headers({"Retry-After": "3"})) == 3
    assert (
        retry_after_seconds(httpx.Headers({"Retry-After": "Thu, 01 Jan 1970 00:00:10 GMT"}), now=4)
        == 6
    )
    assert retry_after_seconds(httpx.Headers({"X-RateLimit-Retry-After": "1.5"})) == 1.5
    assert retry_after_seconds(httpx.Headers({"X-RateLimit-Reset": "110"}), now=100) == 10
    assert retry_after_seconds(httpx.Headers({})) is None


def test_tls_verification_cannot_be_turned_off_silently() -> None:
    with sk.Client("sk_x") as client:
        assert client.tls_verified and "tls_verification" not in repr(client)
    with pytest.warns(sk.InsecureWarning, match="TLS certificate verification is OFF"):
        client = sk.Client("sk_x", verify=False)
    assert not client.tls_verified and "tls_verification='OFF'" in repr(client)
    client.close()
    with pytest.warns(sk.InsecureWarning):  # the same through a hand-made transport
        sk.Client("sk_x", transport=httpx.HTTPTransport(verify=False)).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sk.Client("sk_x", transport=httpx.HTTPTransport()).close()


def test_nothing_is_unpickled_from_disk() -> None:
    """sessionkit stores Parquet and JSON only: no module loads pickles (or pickle-based
    formats) — a file in a store or report directory can never run code when read."""
    package = pathlib.Path(sk.__file__).parent
    loader = re.compile(
        r"\b(pickle|cPickle|dill|joblib|shelve|marshal|cloudpickle)\b|read_pickle|allow_pickle\s*=\s*True"
    )
    offenders = [
        f"{path.relative_to(package)}:{n}"
        for path in sorted(package.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if loader.search(line)
        and "cannot be pickled" not in line
        and "nothing is pickled" not in line
    ]
    assert offenders == [], offenders


def test_region_urls_from_the_environment_name_known_regions_only() -> None:
    from sessionkit.config import resolve_region_urls

    env = {"SESSIONKIT_REGION_URLS": "usw=http://127.0.0.1:8001, use=http://127.0.0.1:8002"}
    assert resolve_region_urls(None, env) == {
        "usw": "http://127.0.0.1:8001",
        "use": "http://127.0.0.1:8002",
    }
    with pytest.raises(sk.ConfigurationError, match=r"unknown region\(s\) 'us-west'.*usw, usc"):
        resolve_region_urls(None, {"SESSIONKIT_REGION_URLS": "us-west=http://127.0.0.1:8001"})
    with pytest.raises(sk.ConfigurationError, match="unknown region"):
        sk.Client("k", region_urls={"eu": "http://127.0.0.1:9"})
    with pytest.raises(sk.ConfigurationError, match="region=url pairs"):
        resolve_region_urls(None, {"SESSIONKIT_REGION_URLS": "http://127.0.0.1:8001"})


def test_the_client_repr_says_what_it_talks_to() -> None:
    """Found by a new user: a client pointed at a local emulator said backend='Agentuity'."""
    local = sk.Client(CANARY, base_url="http://127.0.0.1:8787")
    assert repr(local).startswith("Client(backend='local server (loopback)'")
    assert repr(sk.Client(CANARY)).startswith("Client(backend='Agentuity'")
    assert "backend='mine'" in repr(sk.Client(CANARY, backend="mine"))


def test_a_short_key_is_redacted_where_it_stands_alone_not_inside_words() -> None:
    from sessionkit.errors import redact

    assert redact("unknown region k; key=k.", ["k"]) == "unknown region ***; key=***."
    assert redact("sk_canary_0123456789abcdef", ["sk_canary_0123456789abcdef"]) == "***"


def test_the_public_demo_key_does_not_blank_words_out_of_messages() -> None:
    from sessionkit.config import DEMO_KEY
    from sessionkit.emulator.runner import DEFAULT_KEY

    assert DEMO_KEY == DEFAULT_KEY  # one key, named in two layers
    client = sk.Client(DEMO_KEY, base_url="http://127.0.0.1:9")
    error = sk.ConfigurationError("for an emulator, the key it printed")
    assert "for an emulator" in str(error)
    client.close()
