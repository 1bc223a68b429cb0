"""What changed, since when, where: :func:`find_incidents`, the findings engine.

Detectors (one module each), run apart on production and on development traffic:

* :mod:`._timescan` — change points in time for every segment × metric: the window (a step
  that stays, a transient that recovers) or the ramp (a drift) that best separates it from the
  rest, found by scanning, not at fixed calendar windows; segments are the project, each
  agent, trigger, env and metadata value, each agent × one of those; each outbound host,
  store, model and operation called (from spans), and each eval (from eval runs), alone and
  × agent; metrics: failure rate, median and p95 duration (successful sessions), cost per
  session, calls' failing share and median/p95 time, eval pass rate and mean score;
* :mod:`._deployments` — each deployment against the previous one
  (:func:`~sessionkit.analysis.detect_changes`, and eval pass rates);
* :mod:`._families` — a failure family that appears.

Spans and eval runs come from session details, usually a sample: :func:`detail_sample` picks
one in which every (agent, day) is represented (:mod:`._sample`).

:mod:`._rank` then controls the false discovery rate over every candidate at once
(Benjamini–Hochberg), keeps changes big enough to matter, groups the candidates that are one
incident (naming its most specific explanation: a host, an error family, a deployment) and
ranks by evidence × effect (effects shrunk for small samples). The statistics (:mod:`._scan`,
:mod:`._observe`) are robust by construction: normal scores of ranks within agent × time of
day, so rhythm, agent mix and single outliers do not look like change.
"""

from ._engine import DEFAULT_EVIDENCE, find_incidents
from ._result import FINDING_COLUMNS, KINDS, Findings
from ._sample import DETAIL_BUDGET, detail_sample

__all__ = [
    "DEFAULT_EVIDENCE",
    "DETAIL_BUDGET",
    "FINDING_COLUMNS",
    "KINDS",
    "Findings",
    "detail_sample",
    "find_incidents",
]
