"""The client checks a session id with the loaders' rule (params.session_id) before any request."""

from __future__ import annotations

import httpx
import pytest

import sessionkit as sk
from sessionkit.errors import InvalidArgumentError


@pytest.mark.parametrize("bad", ["", "a/b", "a?b", "a#b", "a%2Fb", "sess 1", "sess\n1", None, 7])
@pytest.mark.parametrize("call", ["get_session", "get_logs"])
def test_a_bad_session_id_is_refused_before_any_request(bad: object, call: str) -> None:
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500)

    client = sk.Client("sk_test_key", transport=httpx.MockTransport(record), max_retries=0)
    with pytest.raises(InvalidArgumentError, match=r"not a session id.*nothing was requested"):
        getattr(client, call)(bad)
    assert requests == []
