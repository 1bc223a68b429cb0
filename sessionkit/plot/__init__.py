"""Plot helpers (matplotlib) for sessionkit frames.

Every helper takes the frame first and options keyword-only, with ``ax=None`` last before
``**kwargs`` (passed to the main matplotlib call). It aggregates with
:mod:`sessionkit.analysis` before drawing (so it stays fast on a million rows), draws on ``ax``
or on a new figure, and returns the Axes (a Figure when it draws several panels:
``eval_scores`` without ``ax``). Empty input draws a labelled Axes saying "No data".

Nothing here calls ``plt.show()`` or changes global style on import; :func:`theme` is an
opt-in context manager that restores what it changed. Money is shown in USD ($1.2k), durations
in human units (250 ms, 3.2 s, 4 min), time axes in UTC; groups (agents) take colours of the
colour-blind-safe Okabe–Ito :data:`PALETTE` in a fixed order (sorted names or category order),
so an agent keeps its colour from chart to chart.

========================== ============ ===========================================
helper                     data         draws
========================== ============ ===========================================
cost_over_time             sessions     stacked cost per time bucket by group
cost_breakdown             sessions     cost (total, per session, ...) per group
tokens_vs_cost             sessions     tokens vs cost scatter (sampled ≤ 20k)
duration_distribution      sessions     log histogram with p50/p90/p99
latency_over_time          sessions     p50/p90/p99 per time bucket
success_rate_over_time     sessions     success rate + Wilson band, volume on a twin
failure_families_chart     sessions     top error templates
eval_scores                eval_runs    pass rate and score distribution
finding_chart              Findings     one finding's metric over time, the change marked
log_severity_over_time     logs         lines per severity per time bucket
timeline                   spans        one session's icicle chart
operation_hotspots_chart   spans        total vs self time per operation
========================== ============ ===========================================

A helper returns only what it drew; the numbers behind a chart come from the pure function it
calls, which takes the same frame: :func:`timeline_layout` (each span's x, width, depth,
operation, error), :func:`sessionkit.analysis.failure_families` (the families table, full
templates) and the other :mod:`sessionkit.analysis` aggregates.
"""

from ._style import PALETTE, theme
from .cost import cost_breakdown, cost_over_time, tokens_vs_cost
from .evals import eval_scores
from .findings import finding_chart
from .latency import duration_distribution, latency_over_time
from .logs import log_severity_over_time
from .reliability import failure_families_chart, success_rate_over_time
from .timeline import operation_hotspots_chart, timeline, timeline_layout

__all__ = [
    "PALETTE",
    "cost_breakdown",
    "cost_over_time",
    "duration_distribution",
    "eval_scores",
    "failure_families_chart",
    "finding_chart",
    "latency_over_time",
    "log_severity_over_time",
    "operation_hotspots_chart",
    "success_rate_over_time",
    "theme",
    "timeline",
    "timeline_layout",
    "tokens_vs_cost",
]
