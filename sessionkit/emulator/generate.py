"""Drawing a project: :func:`generate` (a seeded, deterministic project of N sessions),
:func:`load_demo` (the demo project), :func:`check_agent_names`, and the measured ground truth
of the planted incidents.

The project (see ``data/README.md``): five agents with distinct profiles over 30 days, a daily
and weekly rhythm, cron runs at fixed hours, threads, several deployments per agent, failures
from a handful of realistic families, decoys (a tiny agent whose few sessions mostly fail, one
whale session) and planted incidents (:mod:`.incidents`): the demo's five — a
``support-triage`` deployment whose failure rate jumps (tool timeouts), a ``doc-extractor``
deployment whose cost per session triples, an outbound host of ``sms-concierge`` ten times
slower from mid-afternoon (no deployment), a ``research-assistant`` deployment after which one
eval's pass rate drops ~40 points, and a new error family (expired credentials at
``search.example.org``) —, none, or any number drawn at random from the seed.
``Dataset.incidents`` records them as ground truth.

Timing (2-core machine): ``generate(3000)`` ≈ 0.1 s, ``generate(1_000_000)`` ≈ 6 s (twice that
with random incidents, which draw the project twice).

Imports: :mod:`.catalog`, :mod:`.draw`, :mod:`.incidents`, :mod:`.dataset` (of the emulator)
and numpy.
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
    NS,
    PROFILES,
    parse_iso,
    stable_hex,
    tiny_agent_name,
)
from .dataset import Dataset
from .draw import draw_columns
from .incidents import Plan, demo_plans, ground_truth, random_plans

#: What ``generate(incidents=...)`` takes: ``"demo"``, ``"none"``, ``"random"`` (1 to 4 drawn
#: from the seed), a number of random ones, or the plans themselves.
Incidents = str | int | Sequence[Plan]
#: Where the whale session sits (a fraction of the period) and how much bigger it is.
WHALE_AT, WHALE_BOOST = 0.2, 150.0
#: Days (fractions of the period) of the tiny decoy agent's sessions.
TINY_AT = (0.1, 0.3, 0.5, 0.7, 0.9)


def generate(
    n_sessions: int = DEFAULT_SESSIONS,
    *,
    seed: int = 7,
    end: str = DEMO_END,
    days: int = 30,
    live_rate: float | None = None,
    agent_names: Sequence[str] | None = None,
    incidents: Incidents = "demo",
    decoys: bool = True,
) -> Dataset:
    """A deterministic project of ``n_sessions`` sessions over ``days`` days ending at ``end``.

    ``live_rate`` (sessions per second) makes :meth:`Dataset.grow` append new sessions after
    ``end`` as a live server's clock advances. ``agent_names`` renames the five agents (in the
    order of :data:`AGENTS`: each name takes that profile's behaviour) so the project looks like
    someone else's: every name the wire carries and every id derived from a name change with it.
    The default (``None``) is the demo's names.

    ``incidents``: ``"demo"`` (the demo's five planted incidents, its deployment schedule),
    ``"none"`` (no incident; deployments at random times that change nothing), ``"random"``
    (1 to 4 incidents of any kind, place and time shape, drawn from ``seed``), a number of
    random ones, or a list of :class:`~.incidents.Plan`. ``decoys``: the tiny failing agent and
    the whale session (not incidents). ``Dataset.incidents`` is the ground truth.
    """
    if n_sessions < 0 or days < 1:
        raise ValueError("n_sessions must be >= 0 and days >= 1")
    names = check_agent_names(agent_names)
    now_ns = parse_iso(end)
    rng = np.random.default_rng(seed)
    demo = isinstance(incidents, str) and incidents == "demo"
    meta = _project(seed, now_ns, days, names, demo=demo)
    meta["live_rate"] = live_rate
    if demo:
        meta["plans"] = demo_plans(meta)
    elif isinstance(incidents, str) and incidents == "none":
        meta["plans"] = []
    elif isinstance(incidents, str | int) and not isinstance(incidents, bool):
        if incidents != "random" and not isinstance(incidents, int):
            raise ValueError(
                "incidents must be 'demo', 'none', 'random', a number or a list of plans, "
                f"not {incidents!r}"
            )
        picker = np.random.default_rng([seed, 31337])
        count = int(picker.integers(1, 5)) if incidents == "random" else int(incidents)
        meta["plans"] = []
        state = rng.bit_generator.state
        first = _draw(rng, n_sessions, now_ns, days, meta, decoys)  # the segments, no incident
        rng.bit_generator.state = state  # drawn again below with the same codes
        meta["plans"] = random_plans(picker, meta, first, first["start_ns"], count)
    elif isinstance(incidents, bool):
        raise ValueError("incidents must be 'demo', 'none', 'random', a number or a list of plans")
    else:
        meta["plans"] = list(incidents)
    arrays = _draw(rng, n_sessions, now_ns, days, meta, decoys)
    meta["incidents"] = ground_truth(meta["plans"], meta, arrays, now_ns)
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


def load_demo() -> Dataset:
    """The default demo dataset (``generate()`` with its defaults; see ``data/README.md``)."""
    return generate()


def _project(
    seed: int, now_ns: int, days: int, names: tuple[str, ...], *, demo: bool
) -> dict[str, Any]:
    """Org, projects, agents (named ``names``, then the tiny agent) and deployments (with their
    start times: the demo's schedule, else drawn from the seed at any hour)."""
    start_ns = now_ns - days * DAY_NS
    all_names = (*names, tiny_agent_name(names))
    agents = [
        {"name": n, "identifier": f"agent_{stable_hex(seed, 'agent:' + n, 40)}"} for n in all_names
    ]
    deployments: list[dict[str, Any]] = []
    incident_days = {FAILURE_INCIDENT[:2]: FAILURE_INCIDENT[2], COST_INCIDENT[:2]: COST_INCIDENT[2]}
    schedule = np.random.default_rng([seed, 4242])
    for index, agent in enumerate(PROFILES):
        count = agent.deployments
        name = all_names[index]
        for k in range(count):
            if demo:
                day = 0 if k == 0 else incident_days.get((agent.name, k), round(k * days / count))
                offset = (9 * 3600 + 17 * 60) * NS * (k > 0)
            else:
                day = 0 if k == 0 else int(schedule.uniform(k - 0.4, k + 0.4) * days / count)
                offset = int(schedule.integers(0, 86_400)) * NS * (k > 0)
            deployments.append(
                {
                    "id": f"deploy_{stable_hex(seed, f'dep:{name}:{k}', 24)}",
                    "key": f"{name}:{k}",
                    "agent": index,
                    "index": k,
                    "start_ns": start_ns + day * DAY_NS + offset,
                }
            )
    return {
        "org_id": "org_" + stable_hex(seed, "org", 27),
        "projects": [
            "proj_" + stable_hex(seed, "proj:main", 32),
            "proj_" + stable_hex(seed, "proj:labs", 32),
        ],
        "agents": agents,
        "deployments": deployments,
        "incidents": [],
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
    rng: np.random.Generator,
    n: int,
    now_ns: int,
    days: int,
    meta: dict[str, Any],
    decoys: bool,
) -> dict[str, np.ndarray]:
    """Every numeric column of ``n`` sessions, vectorised, ordered by created time (the tiny
    agent's sessions and the whale among them with ``decoys``)."""
    start_ns = meta["start_ns"]
    # cron runs of the digest at fixed hours every day, the rest drawn with the rhythm
    cron_times = np.array(
        [start_ns + d * DAY_NS + h * 3600 * NS for d in range(days) for h in CRON_HOURS],
        dtype=np.int64,
    )
    cron_times = cron_times[cron_times < now_ns - 600 * NS][: max(0, n // 20)]
    tiny = (
        np.array([start_ns + int(f * days) * DAY_NS + 10 * 3600 * NS for f in TINY_AT])
        if decoys and n >= 200
        else np.zeros(0, dtype=np.int64)
    )
    n_other = n - len(cron_times) - len(tiny)
    recent = min(
        max(n // 60, 0), n_other
    )  # sessions in the last minutes: some still pending at now
    starts = np.concatenate(
        [
            _start_times(rng, n_other - recent, start_ns, days),
            now_ns - rng.integers(5 * NS, 600 * NS, size=recent),
            cron_times + rng.integers(0, 2 * NS, size=len(cron_times)),
            tiny + rng.integers(0, 3600 * NS, size=len(tiny)),
        ]
    )
    starts = np.minimum(starts, now_ns - NS)
    shares = np.array([a.share for a in AGENTS[:-1]])
    agent = np.concatenate(
        [
            rng.choice(len(AGENTS) - 1, size=n_other, p=shares / shares.sum()),
            np.full(len(cron_times), len(AGENTS) - 1),
            np.full(len(tiny), len(AGENTS)),  # the tiny agent (PROFILES[-1])
        ]
    )
    boost = None
    if decoys:  # the whale: one doc-extractor session, well before any demo incident
        extractor = [a.name for a in AGENTS].index("doc-extractor")
        boost = np.where(
            (agent == extractor) & (starts >= start_ns + int(WHALE_AT * days * DAY_NS)),
            WHALE_BOOST,
            1.0,
        )
        order = np.argsort(starts, kind="stable")
        first = order[boost[order] > 1][:50]  # the first 50 candidates; one becomes the whale
        boost = np.where(np.isin(np.arange(len(starts)), first), WHALE_BOOST, 1.0)
    arrays = draw_columns(
        rng,
        starts.astype(np.int64),
        agent,
        now_ns,
        meta,
        recent_from=n_other - recent,
        recent_to=n_other,
        boost=boost,
    )
    order = np.lexsort((arrays["key"], arrays["created_ns"]))
    return {k: v[order] for k, v in arrays.items()}
