"""Plot helpers (matplotlib): data first, options keyword-only, ``ax=None``, return the Axes.

They never call ``plt.show()`` and never change global style on import; :func:`theme` is an
opt-in context manager that restores what it changed. Each helper aggregates before drawing,
and draws an empty, labelled Axes ("No data") for empty input.
"""

from ._style import PALETTE, theme
from .breakdowns import eval_scores, failure_families_chart, operation_hotspots_chart
from .cost import cost_breakdown, cost_over_time, tokens_vs_cost
from .latency import duration_distribution, latency_over_time
from .logs import log_severity_over_time
from .reliability import success_rate_over_time
from .timeline import timeline

__all__ = [
    "PALETTE",
    "cost_breakdown",
    "cost_over_time",
    "duration_distribution",
    "eval_scores",
    "failure_families_chart",
    "latency_over_time",
    "log_severity_over_time",
    "operation_hotspots_chart",
    "success_rate_over_time",
    "theme",
    "timeline",
    "tokens_vs_cost",
]
