"""HTTP statuses the emulator never sends (402/403/426), mapped to their error classes through
httpx's MockTransport: no server."""

from __future__ import annotations

import httpx
import pytest

import sessionkit as sk
from tests.conftest import CANARY_KEY


def test_statuses_the_emulator_never_sends_map_to_their_classes() -> None:
    """402/403/426 are not emulated; this unit test drives the mapping through httpx's MockTransport."""
    for status, cls in (
        (402, sk.PaymentRequiredError),
        (403, sk.PermissionDeniedError),
        (426, sk.PaymentRequiredError),
    ):
        transport = httpx.MockTransport(
            lambda r, s=status: httpx.Response(s, json={"success": False, "message": "nope"})
        )
        client = sk.Client(CANARY_KEY, base_url="http://127.0.0.1:1", transport=transport)
        with pytest.raises(cls) as info:
            client.list_sessions_page()
        assert info.value.status_code == status and "nope" in str(info.value)
