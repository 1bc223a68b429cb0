"""cost_by's token sums past int64 (#15 item 21): exact, or float64 and said — never wrapped."""

from __future__ import annotations

import pandas as pd
import pytest

import sessionkit as sk
from sessionkit.analysis import cost_by
from tests.servers import session


def _sessions(prompt: list[int], env: list[str]) -> pd.DataFrame:
    return sk.sessions_frame(
        [
            session(i, llm_prompt_token_count=p, llm_completion_token_count=1, env=e)
            for i, (p, e) in enumerate(zip(prompt, env, strict=True))
        ]
    )


@pytest.mark.parametrize("by", [None, "env"])
def test_token_sums_past_int64_are_float64_and_said_not_wrapped(by: str | None) -> None:
    """Before: 2**62 + 2**62 summed in int64 wrapped to -2**63, silently."""
    frame = _sessions([2**62, 2**62, 5], ["production", "production", "preview"])
    with pytest.warns(sk.SessionKitWarning, match=r"cost_by: 1 group total\(s\) of prompt_tokens"):
        table = cost_by(frame, by)
    big = table.loc[table["sessions"] >= 2, "prompt_tokens"]
    assert big.tolist() == [float(2**63 + (5 if by is None else 0))]
    assert str(table["prompt_tokens"].dtype) == "float64"
    assert (table["cost_per_1k_tokens"] > 0).all()


def test_large_token_sums_that_fit_stay_exact_int64() -> None:
    frame = _sessions([2**62, 2**62 - 7, -5], ["a", "a", "a"])  # past 2**62: checked exactly
    table = cost_by(frame)
    assert table["prompt_tokens"].tolist() == [2**63 - 12]
    assert str(table["prompt_tokens"].dtype) == "int64"
    assert table["completion_tokens"].tolist() == [3]
