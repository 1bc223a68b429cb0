"""Drawing a project: :func:`generate` (a seeded, deterministic project of N sessions),
:func:`load_demo` (the demo project), :func:`check_agent_names`, and the measured ground truth
of the planted incidents.

The project (see ``data/README.md``): five agents with distinct profiles over 30 days, a daily
and weekly rhythm, cron runs at fixed hours, threads, several deployments per agent, failures
from a handful of realistic families, and two planted incidents — a ``support-triage``
deployment whose failure rate jumps (tool timeouts) and a ``doc-extractor`` deployment whose
cost per session triples (a bigger model and longer prompts). ``Dataset.incidents`` records
them as ground truth.

Timing (2-core machine): ``generate(3000)`` ≈ 0.1 s, ``generate(1_000_000)`` ≈ 6 s.

Imports: :mod:`.catalog`, :mod:`.draw`, :mod:`.dataset` (of the emulator) and numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .catalog import (
    AGENTS,
    COST_INCIDENT,
    CRON_HOURS,
    DAY_NS,
    DEFAULT_SESSIONS,
    DEMO_END,
    FAILURE_INCIDENT,
    FAILURE_INCIDENT_RATE,
    NS,
    iso_ns,
    parse_iso,
    stable_hex,
)
from .dataset import Dataset
from .draw import draw_columns


def generate(
    n_sessions: int = DEFAULT_SESSIONS,
    *,
    seed: int = 7,
    end: str = DEMO_END,
    days: int = 30,
    live_rate: float | None = None,
    agent_names: Sequence[str] | None = None,
) -> Dataset:
    """A deterministic project of ``n_sessions`` sessions over ``days`` days ending at ``end``.

    ``live_rate`` (sessions per second) makes :meth:`Dataset.grow` append new sessions after
    ``end`` as a live server's clock advances. ``agent_names`` renames the five agents (in the
    order of :data:`AGENTS`: each name takes that profile's behaviour) so the project looks like
    someone else's: every name the wire carries and every id derived from a name change with it.
    The default (``None``) is the demo's names, byte for byte the same project as before.
    """
    if n_sessions < 0 or days < 1:
        raise ValueError("n_sessions must be >= 0 and days >= 1")
    names = check_agent_names(agent_names)
    now_ns = parse_iso(end)
    rng = np.random.default_rng(seed)
    meta = _project(seed, now_ns, days, names)
    meta["live_rate"] = live_rate
    arrays = _draw(rng, n_sessions, now_ns, days, meta, seed)
    _measure_cost_incident(arrays, meta)
    return Dataset(arrays, seed=seed, now_ns=now_ns, meta=meta)


def check_agent_names(agent_names: Sequence[str] | None) -> tuple[str, ...]:
    """``agent_names`` checked: one distinct, non-blank name per profile of :data:`AGENTS`
    (the demo's names when ``None``). Raises ``ValueError`` naming what is wrong."""
    if agent_names is None:
        return tuple(a.name for a in AGENTS)
    if isinstance(agent_names, str):
        raise ValueError("agent_names must be a sequence of names, not one string")
    names = tuple(agent_names)
    if len(names) != len(AGENTS):
        raise ValueError(
            f"agent_names needs exactly {len(AGENTS)} names (one per agent profile: "
            f"{', '.join(a.name for a in AGENTS)}), got {len(names)}"
        )
    for name in names:
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ValueError(f"agent name {name!r} must be a non-blank string without edge spaces")
        if name.startswith(("agent_", "agentid_")):
            raise ValueError(f"agent name {name!r} looks like an agent id (agent_/agentid_ prefix)")
    if len(set(names)) != len(names):
        raise ValueError(f"agent_names must be distinct, got {names}")
    return names


def _measure_cost_incident(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Fill the cost incident's ``before``/``after`` with the mean total cost (USD) per session."""
    incident = next(i for i in meta["incidents"] if i["kind"] == "cost_per_session")
    deployments = meta["deployments"]
    agent_index = [a["name"] for a in meta["agents"]].index(incident["agent"])
    dep_index = next(k for k, d in enumerate(deployments) if d["id"] == incident["deployment_id"])
    previous = dep_index - 1
    mine = arrays["agent"] == agent_index
    for field_name, dep in (("before", previous), ("after", dep_index)):
        mask = mine & (arrays["deployment"] == dep)
        incident[field_name] = (
            round(float(arrays["total_cost"][mask].mean()), 6) if mask.any() else None
        )


def load_demo() -> Dataset:
    """The default demo dataset (``generate()`` with its defaults; see ``data/README.md``)."""
    return generate()


def _project(seed: int, now_ns: int, days: int, names: tuple[str, ...]) -> dict[str, Any]:
    """Org, projects, agents (named ``names``) and deployments (with their start times)."""
    start_ns = now_ns - days * DAY_NS
    agents = [
        {"name": n, "identifier": f"agent_{stable_hex(seed, 'agent:' + n, 40)}"} for n in names
    ]
    deployments: list[dict[str, Any]] = []
    incident_days = {FAILURE_INCIDENT[:2]: FAILURE_INCIDENT[2], COST_INCIDENT[:2]: COST_INCIDENT[2]}
    for index, agent in enumerate(AGENTS):
        count = agent.deployments
        name = names[index]
        for k in range(count):
            day = incident_days.get((agent.name, k), round(k * days / count))
            if k == 0:
                day = 0
            deployments.append(
                {
                    "id": f"deploy_{stable_hex(seed, f'dep:{name}:{k}', 24)}",
                    "key": f"{name}:{k}",
                    "agent": index,
                    "index": k,
                    "start_ns": start_ns + day * DAY_NS + (9 * 3600 + 17 * 60) * NS * (k > 0),
                }
            )
    incidents = []
    for kind, (name, k, _day) in (
        ("failure_rate", FAILURE_INCIDENT),
        ("cost_per_session", COST_INCIDENT),
    ):
        profile = [a.name for a in AGENTS].index(name)
        dep = next(d for d in deployments if d["key"] == f"{names[profile]}:{k}")
        agent = AGENTS[dep["agent"]]
        incident: dict[str, Any] = {
            "kind": kind,
            "agent": names[profile],
            "agent_identifier": agents[dep["agent"]]["identifier"],
            "deployment_id": dep["id"],
            "start": iso_ns(dep["start_ns"]),
        }
        if kind == "failure_rate":
            incident.update(
                metric="failure_rate",
                family="tool_timeout",
                before=agent.fail_rate,
                after=FAILURE_INCIDENT_RATE,
            )
        else:
            incident.update(
                metric="cost_per_session",
                family=None,
                before=None,
                after=None,
                cause="prompts carry whole documents (3.4x prompt tokens)",
            )
        incidents.append(incident)
    return {
        "org_id": "org_" + stable_hex(seed, "org", 27),
        "projects": [
            "proj_" + stable_hex(seed, "proj:main", 32),
            "proj_" + stable_hex(seed, "proj:labs", 32),
        ],
        "agents": agents,
        "deployments": deployments,
        "incidents": incidents,
        "start_ns": start_ns,
        "days": days,
    }


def _start_times(rng: np.random.Generator, n: int, start_ns: int, days: int) -> np.ndarray:
    """Start times with a daily and weekly rhythm (quiet nights and weekends)."""
    hours = np.arange(days * 24)
    stamp = start_ns // NS + hours * 3600
    hour_of_day = (stamp // 3600) % 24
    weekday = ((stamp // 86400) + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Sat, Sun
    diurnal = 0.25 + np.exp(-0.5 * ((hour_of_day - 15) / 4.0) ** 2)
    weekly = np.where(weekday >= 5, 0.45, 1.0)
    weights = diurnal * weekly
    chosen = rng.choice(hours, size=n, p=weights / weights.sum())
    return start_ns + chosen * 3600 * NS + rng.integers(0, 3600 * NS, size=n)


def _draw(
    rng: np.random.Generator, n: int, now_ns: int, days: int, meta: dict[str, Any], seed: int
) -> dict[str, np.ndarray]:
    """Every numeric column of ``n`` sessions, vectorised, ordered by created time."""
    start_ns = meta["start_ns"]
    # cron runs of the digest at fixed hours every day, the rest drawn with the rhythm
    cron_times = np.array(
        [start_ns + d * DAY_NS + h * 3600 * NS for d in range(days) for h in CRON_HOURS],
        dtype=np.int64,
    )
    cron_times = cron_times[cron_times < now_ns - 600 * NS][: max(0, n // 20)]
    n_other = n - len(cron_times)
    recent = min(
        max(n // 60, 0), n_other
    )  # sessions in the last minutes: some still pending at now
    starts = np.concatenate(
        [
            _start_times(rng, n_other - recent, start_ns, days),
            now_ns - rng.integers(5 * NS, 600 * NS, size=recent),
            cron_times + rng.integers(0, 2 * NS, size=len(cron_times)),
        ]
    )
    starts = np.minimum(starts, now_ns - NS)
    shares = np.array([a.share for a in AGENTS[:-1]])
    agent = np.concatenate(
        [
            rng.choice(len(AGENTS) - 1, size=n_other, p=shares / shares.sum()),
            np.full(len(cron_times), len(AGENTS) - 1),
        ]
    )
    arrays = draw_columns(
        rng,
        starts.astype(np.int64),
        agent,
        now_ns,
        meta,
        recent_from=n_other - recent,
        recent_to=n_other,
    )
    order = np.lexsort((arrays["key"], arrays["created_ns"]))
    return {k: v[order] for k, v in arrays.items()}
