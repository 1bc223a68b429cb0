"""Analysis helpers: pure pandas in, pandas out (no I/O, no plotting).

What did this cost (:mod:`.cost`), where does the time go (:mod:`.latency`,
:mod:`.timelines`), why did these sessions fail (:mod:`.reliability`, :mod:`.failures`), what
changed and when (:mod:`.changes`; :mod:`.findings`, the engine behind the report's Findings
and ``sessionkit check``), how good were the answers (:mod:`.evals`).

Conventions: costs in USD (``float64``), durations as ``timedelta64[ns]`` (seconds as floats
where several metrics share a column), rates in 0..1. Group keys may be one column or a list;
missing or empty keys are labelled ``"(none)"`` and only observed combinations are listed.
Empty input gives an empty frame with the same columns, never an exception. Everything is a
vectorised ``groupby``; :func:`error_template` runs once per *distinct* message.

The sessions frame is the loader's: the columns of :mod:`sessionkit.schema` plus ``agent``
(the session's agent name) and ``metadata.<key>`` columns.
"""

from __future__ import annotations

from ._common import NONE, bucket_start
from .changes import detect_changes
from .cost import cost_by, movers, summary_by_agent, top_sessions
from .evals import eval_summary, succeeded_but_failed_eval
from .failures import error_template, failure_families
from .findings import (
    DEFAULT_EVIDENCE,
    DETAIL_BUDGET,
    KINDS,
    Findings,
    detail_sample,
    find_incidents,
)
from .latency import latency_percentiles
from .reliability import reliability, wilson_interval
from .timelines import failed_vs_successful, operation_hotspots

__all__ = [
    "DEFAULT_EVIDENCE",
    "DETAIL_BUDGET",
    "KINDS",
    "NONE",
    "Findings",
    "bucket_start",
    "cost_by",
    "detail_sample",
    "detect_changes",
    "error_template",
    "eval_summary",
    "failed_vs_successful",
    "failure_families",
    "find_incidents",
    "latency_percentiles",
    "movers",
    "operation_hotspots",
    "reliability",
    "succeeded_but_failed_eval",
    "summary_by_agent",
    "top_sessions",
    "wilson_interval",
]
