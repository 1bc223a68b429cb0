"""The report in one call: :func:`build_report` (frames → written files) and
:func:`report_from_client` (load → render → write), over :func:`render_report` and
:meth:`Report.write`; :func:`findings_from_client` (load → sample details → find), what
``sessionkit check`` runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Unpack

import pandas as pd

from .. import status
from ..analysis import DEFAULT_EVIDENCE, DETAIL_BUDGET, Findings, detail_sample, find_incidents
from ..loaders import load_details, load_sessions
from ..params import FilterArgs
from ..store import Store
from ._document import Report
from ._render import render_report, worth_opening_ids


def build_report(
    sessions: pd.DataFrame,
    *,
    spans: pd.DataFrame | None = None,
    eval_runs: pd.DataFrame | None = None,
    title: str = "Agent sessions: cost & reliability",
    out: str | os.PathLike[str] = "report.html",
    fmt: str = "html",
    csv_dir: str | os.PathLike[str] | None = None,
) -> Report:
    """Render the report (:func:`render_report`) and write it to ``out`` (with ``csv_dir``:
    every table as CSV too) by :meth:`Report.write`; returns the written :class:`Report`."""
    report = render_report(sessions, spans=spans, eval_runs=eval_runs, title=title, fmt=fmt)
    return report.write(out, csv_dir=csv_dir)


@dataclass(frozen=True)
class Loaded:
    """What :func:`load_for_findings` read: the ``sessions``, the ``spans`` and ``eval_runs``
    of the ``sampled`` session ids (:func:`~sessionkit.analysis.detail_sample`), how many of
    those came from a store (``from_store``)."""

    sessions: pd.DataFrame
    spans: pd.DataFrame | None
    eval_runs: pd.DataFrame | None
    sampled: pd.Index
    from_store: int = 0


def _stack(frames: list[pd.DataFrame]) -> pd.DataFrame | None:
    """The non-empty ``frames`` one under the other (categories of different loads become
    text); None when there is none."""
    kept = [f for f in frames if f is not None and len(f)]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else pd.concat(kept, ignore_index=True)


def _details(
    ids: list[str], client: Any, store: Store | None, progress: bool | None
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, int]:
    """Spans and eval runs of ``ids``: those a ``store`` holds from it, the rest from the API
    (unless only a store was given: then only what it holds). Returns them and how many
    sessions' details came from the store."""
    spans: list[pd.DataFrame] = []
    evals: list[pd.DataFrame] = []
    rest = list(ids)
    stored: list[str] = []
    if store is not None:
        have = set(store.manifest()["details"])
        stored = [i for i in ids if i in have]
        if stored:
            spans.append(store.load_spans(stored))
            evals.append(store.load_eval_runs(stored))
        rest = [i for i in ids if i not in have]
    if rest and (store is None or client is not None):
        loaded = load_details(rest, client, progress=progress)
        spans.append(loaded.spans)
        evals.append(loaded.eval_runs)
    return _stack(spans), _stack(evals), len(stored)


def load_for_findings(
    client: Any = None,
    *,
    details: int = DETAIL_BUDGET,
    store: Store | str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    **filters: Unpack[FilterArgs],
) -> Loaded:
    """Load sessions (``filters`` as for :func:`sessionkit.load_sessions`; from ``store`` when
    given) and the details of a stratified sample of ``details`` of them
    (:func:`~sessionkit.analysis.detail_sample`: every agent and day represented; 0 = none),
    reusing what ``store`` holds and fetching the rest from the API (from ``client``; with only
    a store, nothing is fetched)."""
    local = Store(store) if store is not None and not isinstance(store, Store) else store
    if local is not None:
        sessions = load_sessions(store=local, progress=progress, **filters)
    else:
        sessions = load_sessions(client, progress=progress, **filters)
    sampled = detail_sample(sessions, budget=details) if details else pd.Index([], dtype="string")
    spans, evals, from_store = _details(list(sampled), client, local, progress)
    return Loaded(sessions, spans, evals, sampled, from_store)


def findings_from_client(
    client: Any = None,
    *,
    details: int = DETAIL_BUDGET,
    store: Store | str | os.PathLike[str] | None = None,
    min_evidence: float = DEFAULT_EVIDENCE,
    progress: bool | None = None,
    **filters: Unpack[FilterArgs],
) -> Findings:
    """:func:`load_for_findings`, then :func:`~sessionkit.analysis.find_incidents`; returns the
    :class:`~sessionkit.analysis.Findings` (what ``sessionkit check`` prints)."""
    loaded = load_for_findings(client, details=details, store=store, progress=progress, **filters)
    return find_incidents(
        loaded.sessions, loaded.spans, loaded.eval_runs, min_evidence=min_evidence
    )


def render_from_client(
    client: Any = None,
    *,
    fmt: str = "html",
    details: int = DETAIL_BUDGET,
    store: Store | str | os.PathLike[str] | None = None,
    min_evidence: float = DEFAULT_EVIDENCE,
    progress: bool | None = None,
    **filters: Unpack[FilterArgs],
) -> Report:
    """Load sessions (``filters`` as for :func:`sessionkit.load_sessions`) and the details of a
    stratified sample of ``details`` of them (:func:`load_for_findings`), find what changed,
    load the timelines of the sessions the report singles out (each finding's examples, the
    failed sessions worth opening) and render the report; returns it unwritten."""
    loaded = load_for_findings(client, details=details, store=store, progress=progress, **filters)
    sessions = loaded.sessions
    findings = find_incidents(sessions, loaded.spans, loaded.eval_runs, min_evidence=min_evidence)
    # the sessions the report opens always have their timeline loaded
    done = sessions[status.done(sessions)]
    wanted = set(worth_opening_ids(sessions))
    for examples in findings.table["examples"]:
        wanted.update(str(i) for i in examples[:1])
    missing = sorted(
        i for i in wanted if i not in set(loaded.sampled) and i in set(done["id"].astype(str))
    )
    local = Store(store) if store is not None and not isinstance(store, Store) else store
    extra, _evals, _stored = (
        _details(missing, client, local, progress) if missing else (None, None, 0)
    )
    return render_report(
        sessions,
        spans=_stack([loaded.spans, extra])
        if loaded.spans is not None or extra is not None
        else None,
        eval_runs=loaded.eval_runs,
        findings=findings,
        fmt=fmt,
    )


def report_from_client(
    client: Any = None,
    *,
    out: str | os.PathLike[str] = "report.html",
    fmt: str = "html",
    csv_dir: str | os.PathLike[str] | None = None,
    details: int = DETAIL_BUDGET,
    store: Store | str | os.PathLike[str] | None = None,
    min_evidence: float = DEFAULT_EVIDENCE,
    progress: bool | None = None,
    **filters: Unpack[FilterArgs],
) -> Report:
    """:func:`render_from_client`, then :meth:`Report.write` to ``out`` (and ``csv_dir``);
    returns the written :class:`Report`."""
    report = render_from_client(
        client,
        fmt=fmt,
        details=details,
        store=store,
        min_evidence=min_evidence,
        progress=progress,
        **filters,
    )
    return report.write(out, csv_dir=csv_dir)
