"""The one home of human formatting (sessionkit.display): what people read in cards, tables,
panels and the report."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sessionkit.display import format_duration


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 ms"),
        (0.0125, "12.5 ms"),
        (3.85, "3.85 s"),
        (125, "2 min 05 s"),
        (3780, "1 h 03 min"),
        (pd.Timedelta(milliseconds=850), "850 ms"),
        (-2.5, "-2.5 s"),
        (math.inf, "∞"),
        (-math.inf, "-∞"),
        (None, "—"),
        (pd.NaT, "—"),
    ],
)
def test_durations_read_in_human_units(value: object, text: str) -> None:
    assert format_duration(value) == text
