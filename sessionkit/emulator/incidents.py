"""Planted incidents: what changes, where and when — the demo's, drawn at random, or none.

An incident (:class:`Plan`) changes one thing for the sessions of one segment during one time
shape, and :func:`effects` turns a list of them into per-session effects that
:func:`~.draw.draw_columns` applies while it draws (so live sessions obey them too):

* **what** (``kind``): ``failure`` (the failure probability rises by ``size``, the new failures
  being of ``family``), ``new_error_family`` (the same with a family no profile fails with
  otherwise), ``latency`` (a session-wide segment: durations × ``size``; a span segment — host,
  operation/store, model —: the matching calls ``size`` × slower, the session longer by that
  much), ``cost`` (prompt tokens × ``size``, completion tokens × 1 + (size − 1)/4) and ``eval``
  (the scores of eval ``eval_name`` shift by ``size``, a negative number, so its pass rate
  drops while the sessions still succeed);
* **where**: ``agent``, ``deployment``, ``trigger``, ``env``, ``metadata`` (``key=value`` of
  the session's visible metadata), ``model``, ``operation`` (an operation, or a key-value
  store: ``agentuity.keyvalue.get customers``) and ``host`` (an outbound host), optionally
  confined to one agent;
* **when**: ``deployment`` (a step from the deployment's start, for its sessions and those of
  the agent's later deployments — or, with ``end``, until the next deployment fixed it), ``step``
  (from ``start``, at any time of day), ``transient`` (from ``start`` to ``end``: an outage
  that recovers) and ``drift`` (rising linearly from ``start`` to full strength at ``end``).

:func:`demo_plans` are the demo's five, :func:`random_plans` draws any number of every shape
from a seed (large enough to be seen: at least :data:`MIN_AFFECTED` sessions each), and
:func:`ground_truth` measures each on the drawn columns: the header of the demo file and
``Dataset.incidents``.

Imports: :mod:`.catalog` only (of the emulator) and numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .catalog import (
    AGENTS,
    DAY_NS,
    ENVS,
    EVALS,
    FAMILIES,
    HOSTS,
    MODELS,
    NEW_FAMILIES,
    NS,
    OPERATIONS,
    PROFILES,
    STORES,
    TRIGGERS,
    iso_ns,
)

KINDS = ("failure", "latency", "cost", "eval", "new_error_family")
PLACES = ("agent", "deployment", "trigger", "env", "metadata", "model", "operation", "host")
SHAPES = ("deployment", "step", "transient", "drift")
#: A random incident touches at least this many sessions (in expectation) at full strength.
MIN_AFFECTED = 60
#: The visible metadata values an incident may be located at: (key, code column, codes → text).
METADATA_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "customer_tier": ("m_tier", ("free", "pro", "enterprise")),
    "experiment": ("m_exp", ("prompt-v2", "control")),
}
#: Span targets (what a span-located incident slows or breaks), by code: hosts, key-value
#: stores (as ``agentuity.keyvalue.get <store>``), other operations, models.
TARGETS: tuple[tuple[str, str], ...] = (
    *(("host", h) for h in HOSTS),
    *(("operation", f"agentuity.keyvalue.get {s}") for s in STORES),
    *(("operation", op) for op in OPERATIONS),
    *(("model", m) for m in MODELS),
)
#: The share of a session's time a slowed call takes before the incident (what ``size`` ×
#: slower adds to the session is ``(size - 1) ×`` this share of its duration).
CALL_SHARE = 0.3


@dataclass(frozen=True)
class Plan:
    """One planted incident (see the module docstring). Times are ns since epoch; ``agent`` is
    the profile index it is confined to (-1: every agent), ``deployment`` an index into the
    project's deployments (-1: none), ``target`` an index into :data:`TARGETS` (-1: the whole
    session), ``family`` an index into :data:`~.catalog.FAMILIES` (-1: none)."""

    kind: str
    where: str
    value: str
    when: str
    start_ns: int
    end_ns: int = 0
    size: float = 1.0
    agent: int = -1
    deployment: int = -1
    target: int = -1
    family: int = -1
    eval_name: str = ""
    code: int = -1  # trigger / env / metadata value / model code of a session-level segment
    key: str = ""  # metadata key
    later: tuple[int, ...] = ()  # a deployment step: the agent's deployments it persists into


@dataclass
class Effects:
    """Per-session effects of a list of plans, each an array over the drawn sessions:
    ``fail_add`` (added failure probability, 0..1) and ``fail_family`` (the family of those
    added failures, -1 none), ``slow`` (duration multiplier of the whole session), ``call``
    (extra duration as a multiple of the session's time, given to ``target``'s spans),
    ``target`` (a :data:`TARGETS` code, -1 none), ``tokens`` (prompt token multiplier),
    ``eval_code`` (an :data:`~.catalog.EVAL_NAMES`-like index into :data:`EVAL_ORDER`, -1 none)
    and ``eval_shift`` (score shift of that eval)."""

    fail_add: np.ndarray
    fail_family: np.ndarray
    slow: np.ndarray
    call: np.ndarray
    target: np.ndarray
    tokens: np.ndarray
    eval_code: np.ndarray
    eval_shift: np.ndarray


#: Eval names by code (the ``eval_code`` of :class:`Effects`).
EVAL_ORDER = tuple(dict.fromkeys(name for names in EVALS.values() for name in names))


def no_effects(n: int) -> Effects:
    """The effects of no incident on ``n`` sessions."""
    return Effects(
        fail_add=np.zeros(n),
        fail_family=np.full(n, -1, dtype=np.int8),
        slow=np.ones(n),
        call=np.zeros(n),
        target=np.full(n, -1, dtype=np.int16),
        tokens=np.ones(n),
        eval_code=np.full(n, -1, dtype=np.int8),
        eval_shift=np.zeros(n),
    )


def strength(plan: Plan, starts: np.ndarray, deployment: np.ndarray) -> np.ndarray:
    """How strongly ``plan`` acts on sessions starting at ``starts`` (int64 ns) under
    ``deployment`` (indexes): 0..1 by its time shape (the segment is applied apart)."""
    if plan.when == "deployment":  # from the deployment on (into later ones), until end_ns
        covered = np.isin(deployment, (plan.deployment, *plan.later))
        if plan.end_ns:
            covered &= starts < plan.end_ns
        return covered.astype("float64")
    if plan.when == "step":
        return (starts >= plan.start_ns).astype("float64")
    if plan.when == "transient":
        return ((starts >= plan.start_ns) & (starts < plan.end_ns)).astype("float64")
    ramp = (starts - plan.start_ns) / max(plan.end_ns - plan.start_ns, 1)
    return np.clip(ramp, 0.0, 1.0)


def segment(plan: Plan, columns: dict[str, np.ndarray]) -> np.ndarray:
    """Which drawn sessions are in ``plan``'s segment (a boolean array). ``columns`` holds the
    drawn codes: ``agent``, ``trigger``, ``env``, ``devmode``, ``deployment``, ``model``,
    ``store``, ``calls`` (calls its profile's host), ``meta_kind`` and the metadata codes."""
    agent = columns["agent"]
    n = len(agent)
    # production traffic only: development/devmode sessions are never part of an incident
    mask = ~columns["devmode"] & (columns["env"] != ENVS.index("development"))
    if plan.agent >= 0:
        mask &= agent == plan.agent
    if plan.where == "deployment":  # the deployment and those it persists into
        mask &= np.isin(columns["deployment"], (plan.deployment, *plan.later))
    elif plan.where == "trigger":
        mask &= columns["trigger"] == plan.code
    elif plan.where == "env":
        mask &= columns["env"] == plan.code
    elif plan.where == "metadata":
        column, _values = METADATA_KEYS[plan.key]
        visible = columns["meta_kind"] >= (3 if plan.key == "experiment" else 2)
        mask &= visible & (columns[column] == plan.code)
    elif plan.where in ("model", "operation", "host"):
        mask &= has_target(plan.target, columns)
    elif plan.where != "agent":  # pragma: no cover - a place without a mask
        raise ValueError(f"unknown place {plan.where!r}")
    return mask if len(mask) == n else np.zeros(n, dtype=bool)


def has_target(target: int, columns: dict[str, np.ndarray]) -> np.ndarray:
    """Which sessions' timelines hold a span of :data:`TARGETS` ``target``."""
    kind, value = TARGETS[target]
    agent = columns["agent"]
    if kind == "host":
        hosts = np.array([p.host for p in PROFILES], dtype=object)[agent]
        return np.asarray(columns["calls"], dtype=bool) & (hosts == value)
    if kind == "model":
        return columns["model"] == MODELS.index(value)
    if value.startswith("agentuity.keyvalue.get "):
        return columns["store"] == STORES.index(value.split(" ", 1)[1])
    users = {
        "agentuity.vector.search": ("research-assistant", "daily-digest"),
        "agentuity.stream.get": ("doc-extractor",),
        "agentuity.keyvalue.set": tuple(p.name for p in PROFILES),
    }[value]
    return np.isin(agent, [k for k, p in enumerate(PROFILES) if p.name in users])


def effects(plans: list[Plan], columns: dict[str, np.ndarray], starts: np.ndarray) -> Effects:
    """The per-session :class:`Effects` of ``plans`` on the sessions drawn as ``columns``
    starting at ``starts``; a later plan wins where two locate a call or an eval."""
    out = no_effects(len(starts))
    for plan in plans:
        w = strength(plan, starts, columns["deployment"]) * segment(plan, columns)
        hit = w > 0
        if plan.kind in ("failure", "new_error_family"):
            out.fail_add = 1 - (1 - out.fail_add) * (1 - w * plan.size)
            out.fail_family[hit] = plan.family
            if plan.target >= 0:
                out.target[hit] = plan.target
        elif plan.kind == "latency":
            if plan.target >= 0:
                out.call += w * (plan.size - 1) * CALL_SHARE
                out.target[hit] = plan.target
            else:
                out.slow *= 1 + w * (plan.size - 1)
        elif plan.kind == "cost":
            out.tokens *= 1 + w * (plan.size - 1)
        elif plan.kind == "eval":
            out.eval_code[hit] = EVAL_ORDER.index(plan.eval_name)
            out.eval_shift = np.where(hit, w * plan.size, out.eval_shift)
    return out


# ---------------------------------------------------------------------------- the demo's


def demo_plans(meta: dict[str, Any]) -> list[Plan]:
    """The demo's five planted incidents (``data/README.md``) in a project laid out by
    :func:`~.generate.generate` (``meta``: its deployments, start and length)."""
    start, days = int(meta["start_ns"]), int(meta["days"])

    def deployment(profile: str, k: int) -> int:
        index = [a.name for a in AGENTS].index(profile)
        return next(
            i for i, d in enumerate(meta["deployments"]) if d["agent"] == index and d["index"] == k
        )

    def later(code: int) -> tuple[int, ...]:
        return later_deployments(meta, code)

    def at(fraction: float, hour: float) -> int:
        day = round(fraction * days)
        return start - start % DAY_NS + day * DAY_NS + int(hour * 3600) * NS

    names = [a.name for a in AGENTS]
    triage, extractor = deployment("support-triage", 2), deployment("doc-extractor", 1)
    research = deployment("research-assistant", 2)
    concierge = names.index("sms-concierge")
    ocr = TARGETS.index(("host", "ocr.partner-1.example.com"))
    return [
        Plan(
            "failure",
            "deployment",
            "",
            "deployment",
            int(meta["deployments"][triage]["start_ns"]),
            # fixed by the agent's next deployment
            int(meta["deployments"][triage + 1]["start_ns"]),
            size=0.229,  # about 4% -> 26%
            agent=names.index("support-triage"),
            deployment=triage,
            family=FAMILIES.index("tool_timeout"),
        ),
        Plan(
            "cost",
            "deployment",
            "",
            "deployment",
            int(meta["deployments"][extractor]["start_ns"]),
            size=3.4,
            agent=names.index("doc-extractor"),
            deployment=extractor,
            later=later(extractor),
        ),
        Plan(
            "latency",
            "host",
            "orders.example-shop.com",
            "step",
            at(0.7, 13 + 40 / 60),
            size=10.0,
            agent=concierge,
            target=TARGETS.index(("host", "orders.example-shop.com")),
        ),
        Plan(
            "eval",
            "deployment",
            "",
            "deployment",
            int(meta["deployments"][research]["start_ns"]),
            size=-0.22,
            agent=names.index("research-assistant"),
            deployment=research,
            eval_name="citation-check",
            later=later(research),
        ),
        Plan(
            "new_error_family",
            "host",
            "ocr.partner-1.example.com",
            "step",
            at(0.8, 5),
            size=0.3,
            target=ocr,
            family=FAMILIES.index("auth_expired"),
        ),
    ]


def later_deployments(meta: dict[str, Any], code: int) -> tuple[int, ...]:
    """The codes of the deployments of ``code``'s agent that came after it."""
    deployments = meta["deployments"]
    agent, index = deployments[code]["agent"], deployments[code]["index"]
    return tuple(i for i, d in enumerate(deployments) if d["agent"] == agent and d["index"] > index)


def _next_start(meta: dict[str, Any], code: int) -> int:
    """When the deployment after ``code`` (of the same agent) started; 0 when none did."""
    later = later_deployments(meta, code)
    return int(meta["deployments"][later[0]]["start_ns"]) if later else 0


# ---------------------------------------------------------------------------- random ones


def random_plans(
    rng: np.random.Generator,
    meta: dict[str, Any],
    columns: dict[str, np.ndarray],
    starts: np.ndarray,
    count: int,
) -> list[Plan]:
    """``count`` incidents drawn from ``rng``: a kind, a place valid for it, a time shape and a
    size, each touching at least :data:`MIN_AFFECTED` sessions of ``columns`` (the drawn
    sessions) at full strength; draws again (up to 200 times per incident) until it does."""
    plans: list[Plan] = []
    tries = 0
    while len(plans) < count and tries < 200 * max(count, 1):
        tries += 1
        plan = _draw_plan(rng, meta, columns)
        if plan is None:
            continue
        full = strength(
            replace(plan, when="step") if plan.when == "drift" else plan,
            starts,
            columns["deployment"],
        )
        if plan.when == "drift":
            full = (starts >= plan.end_ns).astype("float64")
        if int(((full >= 1) & segment(plan, columns)).sum()) < MIN_AFFECTED:
            continue
        if any(_overlaps(plan, other) for other in plans):
            continue
        plans.append(plan)
    return plans


def _overlaps(a: Plan, b: Plan) -> bool:
    """Two plans of one agent (or both project-wide) overlapping in time: kept apart, so each
    planted incident can be told from the others."""
    if a.agent >= 0 and b.agent >= 0 and a.agent != b.agent:
        return False
    a_end = a.end_ns or 2**62
    b_end = b.end_ns or 2**62
    return a.start_ns < b_end + DAY_NS and b.start_ns < a_end + DAY_NS


def _draw_plan(
    rng: np.random.Generator, meta: dict[str, Any], columns: dict[str, np.ndarray]
) -> Plan | None:
    """One random incident (or None when the draw has no valid place)."""
    start, days = int(meta["start_ns"]), int(meta["days"])
    end = start + days * DAY_NS
    later: tuple[int, ...] = ()
    kind = KINDS[int(rng.integers(len(KINDS)))]
    places = {
        "failure": PLACES,
        "new_error_family": PLACES,
        "latency": PLACES,
        "cost": ("agent", "deployment", "trigger", "env", "metadata", "model"),
        "eval": ("agent", "deployment", "trigger", "metadata"),
    }[kind]
    where = places[int(rng.integers(len(places)))]
    when = "deployment" if where == "deployment" else SHAPES[int(rng.integers(len(SHAPES)))]
    agent = -1
    deployment = -1
    confined = where in ("agent", "deployment", "eval") or kind == "eval" or rng.random() < 0.5
    if confined or when == "deployment":
        agent = int(rng.integers(len(AGENTS)))
    if when == "deployment":
        options = [
            i
            for i, d in enumerate(meta["deployments"])
            if d["agent"] == agent
            and d["index"] > 0
            and start + 3 * DAY_NS < d["start_ns"] < end - 2 * DAY_NS
        ]
        if not options:
            return None
        deployment = options[int(rng.integers(len(options)))]
        t0 = int(meta["deployments"][deployment]["start_ns"])
        t1 = _next_start(meta, deployment) if rng.random() < 0.5 else 0  # fixed, or it stays
        later = later_deployments(meta, deployment)
    else:
        t0 = start + int(rng.uniform(0.2, 0.85) * days * DAY_NS)
        t1 = 0
        if when == "transient":
            t1 = t0 + int(rng.uniform(3, 48) * 3600) * NS
        elif when == "drift":
            t1 = min(t0 + int(rng.uniform(3, 10) * DAY_NS), end - DAY_NS)
            if t1 <= t0 + DAY_NS:
                return None
    code, key, value, target = -1, "", "", -1
    if where == "agent" or where == "deployment":
        value = ""
    elif where == "trigger":
        used = np.unique(
            columns["trigger"][columns["agent"] == agent] if agent >= 0 else columns["trigger"]
        )
        code = int(used[int(rng.integers(len(used)))])
        value = TRIGGERS[code]
    elif where == "env":
        code = int(rng.integers(2))  # production or preview (development is never an incident)
        value = ENVS[code]
    elif where == "metadata":
        key = list(METADATA_KEYS)[int(rng.integers(len(METADATA_KEYS)))]
        values = METADATA_KEYS[key][1]
        code = int(rng.integers(len(values)))
        value = f"{key}={values[code]}"
    else:
        options = [i for i, (k, _v) in enumerate(TARGETS) if k == where]
        if agent >= 0:
            options = [i for i in options if has_target(i, _one(columns, agent)).any()]
        if not options:
            return None
        target = options[int(rng.integers(len(options)))]
        value = TARGETS[target][1]
        if where == "model":
            code = MODELS.index(value)
    if kind == "eval":
        names = EVALS[AGENTS[agent].name]
        eval_name = names[int(rng.integers(len(names)))]
        size = -float(rng.uniform(0.2, 0.3))
        return Plan(
            kind,
            where,
            value,
            when,
            t0,
            t1,
            size,
            agent,
            deployment,
            target,
            -1,
            eval_name,
            code,
            key,
            later,
        )
    family = -1
    if kind == "failure":
        size = float(rng.uniform(0.1, 0.3))
        family = FAMILIES.index(("tool_timeout", "upstream", "rate_limit")[int(rng.integers(3))])
        if where == "host":
            family = FAMILIES.index("upstream")
        elif where == "model":
            family = FAMILIES.index("rate_limit")
        elif where == "operation":
            family = FAMILIES.index("kv_miss")
    elif kind == "new_error_family":
        size = float(rng.uniform(0.06, 0.15))
        family = FAMILIES.index(NEW_FAMILIES[int(rng.integers(len(NEW_FAMILIES)))])
    elif kind == "latency":
        size = float(rng.uniform(5, 12)) if target >= 0 else float(rng.uniform(1.8, 3.0))
    else:
        size = float(rng.uniform(1.8, 3.0))
    return Plan(
        kind,
        where,
        value,
        when,
        t0,
        t1,
        size,
        agent,
        deployment,
        target,
        family,
        "",
        code,
        key,
        later,
    )


def _one(columns: dict[str, np.ndarray], agent: int) -> dict[str, np.ndarray]:
    """``columns`` of one agent's sessions only."""
    mask = columns["agent"] == agent
    return {name: values[mask] for name, values in columns.items()}


# ---------------------------------------------------------------------------- ground truth


def ground_truth(
    plans: list[Plan], meta: dict[str, Any], arrays: dict[str, np.ndarray], now_ns: int
) -> list[dict[str, Any]]:
    """Each plan as the JSON-ready record of the demo file's header and ``Dataset.incidents``:
    what, where, when, how big, and the metric measured on the drawn sessions of its segment
    (completed ones, before ``start`` against at full strength)."""
    names = [a["name"] for a in meta["agents"]]
    deployments = meta["deployments"]
    out = []
    for plan in plans:
        record: dict[str, Any] = {
            "kind": plan.kind,
            "where": plan.where,
            "subject": _subject(plan, names, deployments),
            "when": plan.when,
            "start": iso_ns(plan.start_ns),
            "end": iso_ns(plan.end_ns) if plan.end_ns else None,
            "size": round(plan.size, 4),
            "agent": names[plan.agent] if plan.agent >= 0 else None,
            "agent_identifier": meta["agents"][plan.agent]["identifier"]
            if plan.agent >= 0
            else None,
            "deployment_id": deployments[plan.deployment]["id"] if plan.deployment >= 0 else None,
            "family": FAMILIES[plan.family] if plan.family >= 0 else None,
            "target": TARGETS[plan.target][1] if plan.target >= 0 else None,
            "eval": plan.eval_name or None,
        }
        record.update(_measure(plan, arrays, now_ns))
        out.append(record)
    return out


def _subject(plan: Plan, names: list[str], deployments: list[dict[str, Any]]) -> str:
    """The segment a person names the incident by."""
    if plan.where == "deployment":
        return f"{names[plan.agent]} {deployments[plan.deployment]['id']}"
    if plan.where == "agent":
        return names[plan.agent]
    return plan.value


_METRICS = {
    "failure": "failure_rate",
    "new_error_family": "failure_rate",
    "latency": "p95_duration",
    "cost": "cost_per_session",
    "eval": "pass_rate",
}


def _measure(plan: Plan, arrays: dict[str, np.ndarray], now_ns: int) -> dict[str, Any]:
    """``metric``, ``before``/``after`` (and their session counts) of ``plan`` on the drawn
    sessions of its segment: the failure rate (0..1), p95 duration of successful sessions (s),
    mean total cost (USD); for an eval, the intended score shift (its pass rate is drawn with
    the text); for a failure, ``first_seen``: the first planted failure's start."""
    metric = _METRICS[plan.kind]
    result: dict[str, Any] = {"metric": metric, "before": None, "after": None}
    if plan.kind == "eval":
        return result
    starts = arrays["start_ns"]
    done = arrays["end_ns"] <= now_ns
    inside = segment(plan, arrays) & done
    after = inside & (strength(plan, starts, arrays["deployment"]) >= 1)
    if plan.where == "deployment":  # before: the agent's sessions under earlier deployments
        inside = segment(replace(plan, where="agent"), arrays) & done
    before = inside & (starts < plan.start_ns)
    if plan.kind in ("failure", "new_error_family"):
        values = (~arrays["success"]).astype("float64")
        hit = (
            inside
            & (strength(plan, starts, arrays["deployment"]) > 0)
            & (arrays["family"] == plan.family)
        )
        hit &= ~arrays["success"]
        result["first_seen"] = iso_ns(int(starts[hit].min())) if hit.any() else None
    elif plan.kind == "latency":
        values = arrays["duration_ns"] / 1e9
        before &= arrays["success"]
        after &= arrays["success"]
    else:
        values = arrays["total_cost"]
    result["n_before"], result["n_after"] = int(before.sum()), int(after.sum())
    for name, mask in (("before", before), ("after", after)):
        if mask.any():
            chosen = values[mask]
            value = (
                float(np.quantile(chosen, 0.95))
                if metric == "p95_duration"
                else float(chosen.mean())
            )
            result[name] = round(value, 6)
    return result
