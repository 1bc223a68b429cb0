"""What :func:`~sessionkit.analysis.find_incidents` returns: :class:`Findings`, a ranked, typed
frame of findings (production first, development apart) with each finding's sentence, the
series behind its chart, and every candidate that was tested."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import numpy as np
import pandas as pd

from ...display import format_duration, format_money, format_rate, format_timestamp

#: The kinds of finding, in the order ``sessionkit check --fail-on`` lists them.
KINDS = ("failure", "latency", "cost", "eval", "new_error_family")
#: The columns of a findings frame, in order (see :class:`Findings`).
FINDING_COLUMNS = [
    "rank",
    "kind",
    "scope",
    "subject",
    "agents",
    "deployment_id",
    "cause",
    "metric",
    "before",
    "after",
    "ratio",
    "n_before",
    "n_after",
    "effect",
    "p_value",
    "q_value",
    "evidence",
    "score",
    "shape",
    "start",
    "start_low",
    "start_high",
    "end",
    "sessions",
    "examples",
    "sentence",
]
TIMESTAMP = pd.DatetimeTZDtype(unit="ns", tz="UTC")


def empty_findings() -> pd.DataFrame:
    """A findings frame with no row and every column typed."""
    return pd.DataFrame(
        {
            "rank": pd.Series(dtype="int64"),
            "kind": pd.Series(dtype="string"),
            "scope": pd.Series(dtype="string"),
            "subject": pd.Series(dtype="string"),
            "agents": pd.Series(dtype="object"),
            "deployment_id": pd.Series(dtype="string"),
            "cause": pd.Series(dtype="string"),
            "metric": pd.Series(dtype="string"),
            **{c: pd.Series(dtype="float64") for c in ("before", "after", "ratio")},
            "n_before": pd.Series(dtype="int64"),
            "n_after": pd.Series(dtype="int64"),
            **{
                c: pd.Series(dtype="float64")
                for c in ("effect", "p_value", "q_value", "evidence", "score")
            },
            "shape": pd.Series(dtype="string"),
            "start": pd.Series(dtype=TIMESTAMP),
            "start_low": pd.Series(dtype=TIMESTAMP),
            "start_high": pd.Series(dtype=TIMESTAMP),
            "end": pd.Series(dtype=TIMESTAMP),
            "sessions": pd.Series(dtype="int64"),
            "examples": pd.Series(dtype="object"),
            "sentence": pd.Series(dtype="string"),
        }
    )[FINDING_COLUMNS]


def typed(rows: list[dict[str, object]]) -> pd.DataFrame:
    """``rows`` (one dict per finding, keys of :data:`FINDING_COLUMNS`) as a typed frame."""
    empty = empty_findings()
    if not rows:
        return empty
    frame = pd.DataFrame(rows)[FINDING_COLUMNS]
    for name, dtype in empty.dtypes.items():
        if name in ("agents", "examples"):
            continue
        if isinstance(dtype, pd.DatetimeTZDtype):
            frame[name] = pd.to_datetime(frame[name], utc=True).astype(TIMESTAMP)
        else:
            frame[name] = frame[name].astype(dtype)
    return frame


# ------------------------------------------------------------------------------ sentences

_METRIC_WORDS = {
    "failure_rate": "failure rate",
    "call_error_rate": "failing calls",
    "p50_duration": "median duration",
    "p95_duration": "p95 duration",
    "p50_call": "median call time",
    "p95_call": "p95 call time",
    "cost_per_session": "cost per session",
    "pass_rate": "pass rate",
    "mean_score": "mean score",
    "new_error_family": "share of sessions",
}


def metric_words(metric: str) -> str:
    """How a metric is named in a sentence (``p95_duration`` → ``p95 duration``)."""
    return _METRIC_WORDS.get(metric, metric.replace("_", " "))


def value_text(metric: str, value: float) -> str:
    """A metric's value as a person reads it: rates as %, times in human units, money in $,
    scores with two decimals; ``—`` when missing."""
    if value is None or not np.isfinite(value):
        return "—"
    if metric in ("failure_rate", "call_error_rate", "pass_rate", "new_error_family"):
        return format_rate(value)
    if "duration" in metric or "call" in metric:
        return format_duration(value)
    if "cost" in metric:
        return format_money(value)
    return f"{value:.2f}"


def evidence_text(q: float) -> str:
    """The evidence as a sentence shows it: ``p < 1e-9`` below that, else ``p = 3.2e-05``
    (the value is the q-value: adjusted for the scan and for every candidate tested)."""
    if q < 1e-9:
        return "p < 1e-9"
    return f"p = {q:.1e}" if q < 0.001 else f"p = {q:.3f}"


def when_text(
    shape: str,
    start: pd.Timestamp,
    end: pd.Timestamp | None,
    earliest: pd.Timestamp | None = None,
    latest: pd.Timestamp | None = None,
) -> str:
    """``since 2026-11-18 13:40 UTC``, ``from … to … (recovered)`` or ``drifting since …``;
    with ``earliest``/``latest`` (when sparse data dates the start only that precisely),
    ``since between … and …``."""
    s = f"{start:%Y-%m-%d %H:%M} UTC"
    if earliest is not None:
        s = f"between {earliest:%Y-%m-%d %H:%M} and {(latest or start):%Y-%m-%d %H:%M} UTC"
    if shape == "transient" and end is not None and not pd.isna(end):
        return f"from {s} to {end:%Y-%m-%d %H:%M} UTC (recovered)"
    if shape == "drift":
        return f"drifting up since {s}"
    if shape == "new":
        return f"since {s}"
    return f"since {s}"


def change_text(metric: str, before: float, after: float) -> str:
    """``p95 duration 9.1 s -> 19.2 s`` (``×2.1`` added for costs)."""
    text = f"{metric_words(metric)} {value_text(metric, before)} -> {value_text(metric, after)}"
    if metric == "cost_per_session" and before > 0 and np.isfinite(after):
        text += f" (×{after / before:.1f})"
    return text


# ------------------------------------------------------------------------------ the result


@dataclass(frozen=True, eq=False)
class Findings:
    """What changed, ranked: the result of :func:`~sessionkit.analysis.find_incidents`.

    ``table``: one row per production finding, strongest first — ``rank``; ``kind``
    (failure, latency, cost, eval, new_error_family); ``scope``; ``subject`` (what changed:
    an agent, an agent's deployment, a segment such as ``trigger email`` or
    ``customer_tier=enterprise``, calls to a host / store / model / operation, an eval, an
    error family); ``agents`` (list); ``deployment_id`` (when it came with a deployment);
    ``cause`` (the one call target whose change explains it, when there is one); ``metric``
    and ``before`` → ``after`` in its unit (rates 0..1, durations in seconds, costs in USD,
    scores 0..1) with ``ratio`` and the observations each rests on (``n_before``,
    ``n_after``); ``effect`` (shrunk size: Cohen's h or |log ratio|); ``p_value`` (one-sided,
    adjusted for the windows scanned), ``q_value`` (Benjamini–Hochberg over every candidate
    tested), ``evidence`` (−log10 q); ``score`` (evidence × effect, the rank's key);
    ``shape`` (deployment, step, transient, drift, new) with ``start`` (the first affected
    observation, or the deployment's first session) within ``start_low``..``start_high`` (the
    times it can have begun, when sparse data dates it no better than 3 hours; else both
    ``start``) and, for a transient, ``end`` (UTC); ``sessions`` (distinct sessions the finding rests on); ``examples``
    (session ids showing it) and ``sentence``.

    ``development``: the same for development/devmode traffic (never a production incident).
    ``candidates``: the (segment, metric) changes with p < 0.1 (``tests``: how many were
    tested in all — the q-values are over all of them). ``series``: per
    finding (by scope and rank) the metric of its subject per time bucket, for its chart.
    ``sessions_analysed``, ``details_sessions`` (sessions whose spans or eval runs were
    given), ``start``/``end`` (the analysed period; ``end`` stops before sessions still
    running), ``min_evidence`` (the threshold: −log10 q).
    """

    table: pd.DataFrame
    development: pd.DataFrame
    candidates: pd.DataFrame
    series: dict[tuple[str, int], pd.DataFrame] = field(default_factory=dict)
    sessions_analysed: int = 0
    details_sessions: int = 0
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    min_evidence: float = 3.0
    tests: int = 0

    def __len__(self) -> int:
        return len(self.table)

    def sentences(self, *, development: bool = False) -> list[str]:
        """One sentence per finding, strongest first (development traffic's with
        ``development=True``)."""
        frame = self.development if development else self.table
        return [str(s) for s in frame["sentence"]]

    def of_kind(self, kinds: str | tuple[str, ...] | list[str]) -> pd.DataFrame:
        """The production findings of ``kinds`` (one kind or several)."""
        wanted = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        return self.table[self.table["kind"].isin(wanted)]

    def chart_data(self, rank: int, *, scope: str = "production") -> pd.DataFrame:
        """The series behind finding ``rank``'s chart: ``bucket``, ``value``, ``count``
        (empty when it has none, e.g. a new error family)."""
        return self.series.get(
            (scope, rank),
            pd.DataFrame(
                {
                    "bucket": pd.Series(dtype=TIMESTAMP),
                    "value": pd.Series(dtype="float64"),
                    "count": pd.Series(dtype="int64"),
                }
            ),
        )

    def _summary(self) -> str:
        period = (
            f"{format_timestamp(self.start)} to {format_timestamp(self.end)}"
            if self.start is not None
            else "no completed session"
        )
        details = f", {self.details_sessions:,} with details" if self.details_sessions else ""
        return (
            f"{len(self.table)} finding(s) in {self.sessions_analysed:,} sessions{details} "
            f"({period}; {self.tests:,} tests, q <= {10**-self.min_evidence:g})"
        )

    def __repr__(self) -> str:
        lines = [f"Findings: {self._summary()}"]
        lines += [
            f"{r}. {s}" for r, s in zip(self.table["rank"], self.table["sentence"], strict=True)
        ]
        if len(self.development):
            lines.append(
                f"Development traffic ({len(self.development)}, not production incidents):"
            )
            lines += [f"- {s}" for s in self.development["sentence"]]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{escape(str(s))}</li>" for s in self.table["sentence"])
        body = f"<ol>{items}</ol>" if items else "<p>No finding above the threshold.</p>"
        dev = ""
        if len(self.development):
            dev_items = "".join(f"<li>{escape(str(s))}</li>" for s in self.development["sentence"])
            dev = f"<p>Development traffic (not production incidents):</p><ul>{dev_items}</ul>"
        return f"<p><b>Findings</b>: {escape(self._summary())}</p>{body}{dev}"
