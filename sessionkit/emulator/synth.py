"""The former home of the synthetic project, kept as an import path: it only re-exports.

New code imports from the modules that own each name: :mod:`.catalog` (profiles, families,
triggers, regions, ids, time text), :mod:`.dataset` (:class:`~.dataset.Dataset`) and
:mod:`.generate` (:func:`~.generate.generate`, :func:`~.generate.load_demo`,
:func:`~.generate.check_agent_names`).

Imports: :mod:`.catalog`, :mod:`.dataset`, :mod:`.generate`.
"""

from __future__ import annotations

from .catalog import (
    AGENTS,
    COST_INCIDENT,
    CRON_HOURS,
    DAY_NS,
    DEFAULT_SESSIONS,
    DEMO_END,
    ENVS,
    FAILURE_INCIDENT,
    FAILURE_INCIDENT_RATE,
    FAMILIES,
    MODEL_PRICES,
    MODELS,
    NS,
    REGIONS,
    TRIGGERS,
    AgentProfile,
    format_rfc3339,
    parse_iso,
)
from .dataset import RENDER_CACHE_ROWS, Dataset
from .generate import check_agent_names, generate, load_demo

__all__ = [
    "AGENTS",
    "COST_INCIDENT",
    "CRON_HOURS",
    "DAY_NS",
    "DEFAULT_SESSIONS",
    "DEMO_END",
    "ENVS",
    "FAILURE_INCIDENT",
    "FAILURE_INCIDENT_RATE",
    "FAMILIES",
    "MODELS",
    "MODEL_PRICES",
    "NS",
    "REGIONS",
    "RENDER_CACHE_ROWS",
    "TRIGGERS",
    "AgentProfile",
    "Dataset",
    "check_agent_names",
    "format_rfc3339",
    "generate",
    "load_demo",
    "parse_iso",
]
