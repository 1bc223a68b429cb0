"""The partial-window warning says so when the data covers noticeably less than the window
asked, not when the first session came 39 s after its start (the demo's "last 30 days", and
the README's own example, warned before)."""

from __future__ import annotations

import warnings

import pytest

import sessionkit as sk


@pytest.mark.parametrize(("since", "warns"), [("30d", False), ("7d", False), ("40d", True)])
def test_the_warning_needs_a_real_gap(since: str, warns: bool) -> None:
    client = sk.connect(demo=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = sk.load_sessions(client, since=since, progress=False)
    said = [str(w.message) for w in caught if "partly covered" in str(w.message)]
    assert bool(said) is warns and len(frame) > 0
