"""A one-file cost & reliability report: self-contained HTML (or Markdown), plus CSV tables.

Two steps: :func:`render_report` (frames in, a :class:`Report` out — its text and tables, no
file touched) and :meth:`Report.write` (atomic, owner-only files). :func:`build_report` does
both; :func:`report_from_client` loads the data first (the sessions, and the details of a
sample stratified by agent and day); :func:`findings_from_client` loads the same and returns
the Findings alone (``sessionkit check``). The report opens with the Findings. Figures are embedded as base64 PNG,
styles are inline, and nothing is fetched when the file is opened. ``sessionkit report`` is
the command-line form (:mod:`sessionkit.cli.report`).

Module map: :mod:`._document` (:class:`Report`, the atomic write), :mod:`._page` (HTML and
Markdown templates), :mod:`._render` (tables, sentences, figures → :class:`Report`),
:mod:`._build` (the one-call forms, loading through :mod:`sessionkit.loaders`).
"""

from ._build import build_report, findings_from_client, render_from_client, report_from_client
from ._document import FORMATS, Report
from ._render import render_report

__all__ = [
    "FORMATS",
    "Report",
    "build_report",
    "findings_from_client",
    "render_from_client",
    "render_report",
    "report_from_client",
]
