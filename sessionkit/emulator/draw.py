"""Drawing the numbers of sessions: the vectorised columns a dataset is made of.

One function, :func:`draw_columns`, turns start times and agent choices into every numeric
column of those sessions (trigger, environment, deployment, outcome, error family, durations,
tokens, costs, threads, deletion, print digits, metadata codes) with numpy. Generation draws the
whole project with it, and a live dataset draws the sessions that arrive after its "now" with it.

Imports: :mod:`.catalog` only (of the emulator) and numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .catalog import (
    AGENTS,
    COST_INCIDENT,
    FAILURE_INCIDENT,
    FAILURE_INCIDENT_RATE,
    FAMILIES,
    MODEL_PRICES,
    MODELS,
    NS,
    TRIGGERS,
    field_digits,
)


def draw_columns(
    rng: np.random.Generator,
    starts: np.ndarray,
    agent: np.ndarray,
    now_ns: int,
    meta: dict[str, Any],
    *,
    key_offset: int = 0,
    recent_from: int = 0,
    recent_to: int = 0,
) -> dict[str, np.ndarray]:
    """Every numeric column of the sessions starting at ``starts`` (int64 ns) run by agent
    profiles ``agent``, drawn from ``rng`` (one array per column, in the order given).

    ``key_offset`` numbers the rows' keys (the seeds of their text); rows ``recent_from`` to
    ``recent_to`` are the last minutes' sessions, some still running at ``now_ns``. Stored
    instants are truncated to the digits they are printed with, so text round-trips exactly.
    """
    n = len(starts)
    key = np.arange(key_offset, key_offset + n, dtype=np.int64)
    profiles = [AGENTS[a] for a in range(len(AGENTS))]
    trigger = np.zeros(n, dtype=np.int8)
    for a, profile in enumerate(profiles):
        mask = agent == a
        names = list(profile.triggers)
        p = np.array([profile.triggers[t] for t in names])
        trigger[mask] = np.array([TRIGGERS.index(t) for t in names])[
            rng.choice(len(names), size=int(mask.sum()), p=p / p.sum())
        ]
    env = rng.choice(3, size=n, p=[0.82, 0.11, 0.07]).astype(np.int8)
    env[trigger == TRIGGERS.index("cron")] = 0
    devmode = (env == 2) & (rng.random(n) < 0.75)
    # deployment: the latest deployment of the agent started before the session
    deployments = meta["deployments"]
    deployment = np.full(n, len(deployments), dtype=np.int32)  # len → "" (devmode without deploy)
    dep_index = np.zeros(n, dtype=np.int32)
    for d, dep in enumerate(deployments):
        mask = (agent == dep["agent"]) & (starts >= dep["start_ns"])
        deployment[mask] = d
        dep_index[mask] = dep["index"]
    deployment[devmode & (rng.random(n) < 0.6)] = len(deployments)
    # outcome
    fail_rate = np.array([p.fail_rate for p in profiles])[agent]
    f_agent, f_dep, _ = FAILURE_INCIDENT
    f_mask = (
        (agent == [p.name for p in profiles].index(f_agent))
        & (dep_index == f_dep)
        & (deployment < len(deployments))
    )
    fail_rate = np.where(f_mask, FAILURE_INCIDENT_RATE, fail_rate)
    success = rng.random(n) >= fail_rate
    family = np.zeros(n, dtype=np.int8)
    for a, profile in enumerate(profiles):
        mask = agent == a
        names = list(profile.families)
        p = np.array([profile.families[f] for f in names])
        family[mask] = np.array([FAMILIES.index(f) for f in names])[
            rng.choice(len(names), size=int(mask.sum()), p=p / p.sum())
        ]
    incident_family = np.where(rng.random(n) < 0.8, FAMILIES.index("tool_timeout"), family)
    family = np.where(f_mask, incident_family, family).astype(np.int8)
    # durations (heavy tails); failures end earlier or hang until a timeout
    median = np.array([p.duration_s for p in profiles])[agent]
    sigma = np.array([p.sigma for p in profiles])[agent]
    seconds = median * np.exp(rng.normal(0, sigma, n))
    timeout = family == FAMILIES.index("tool_timeout")
    seconds = np.where(
        ~success & timeout, 30 + rng.exponential(5, n), np.where(~success, seconds * 0.4, seconds)
    )
    duration = np.maximum((seconds * 1e9).astype(np.int64), 5_000_000)
    if (
        recent_to > recent_from
    ):  # the last-minutes sessions: some end seconds after now, some minutes
        idx = np.arange(recent_from, recent_to)
        remaining = np.where(
            rng.random(len(idx)) < 0.5,
            rng.integers(2, 20, len(idx)),
            rng.integers(60, 900, len(idx)),
        )
        ends = now_ns + remaining * NS
        duration[idx] = np.where(rng.random(len(idx)) < 0.6, ends - starts[idx], duration[idx])
    cpu = (duration * rng.uniform(0.04, 0.55, n)).astype(np.int64)
    # tokens and costs
    cost_agent = [p.name for p in profiles].index(COST_INCIDENT[0])
    c_mask = (
        (agent == cost_agent) & (dep_index >= COST_INCIDENT[1]) & (deployment < len(deployments))
    )
    prompt = np.array([p.prompt_tokens for p in profiles])[agent] * np.exp(rng.normal(0, 0.6, n))
    prompt = np.where(c_mask, prompt * 3.4, prompt)  # the incident: whole documents in the prompt
    completion = np.array([p.completion_tokens for p in profiles])[agent] * np.exp(
        rng.normal(0, 0.5, n)
    )
    completion = np.where(c_mask, completion * 1.6, completion)
    prompt = np.maximum(prompt.astype(np.int64), 20)
    completion = np.maximum(completion.astype(np.int64), 1)
    model = np.array([MODELS.index(p.model) for p in profiles])[agent]
    price_in = np.array([MODEL_PRICES[m][0] for m in MODELS])[model]
    price_out = np.array([MODEL_PRICES[m][1] for m in MODELS])[model]
    llm_cost = (prompt * price_in + completion * price_out) / 1e6
    infra = (
        duration / 1e9 * 0.000018
        + 0.0001
        + np.where(rng.random(n) < 0.2, rng.uniform(0, 0.002, n), 0)
    )
    total_cost = llm_cost + infra
    has_llm = ~((~success) & (family == FAMILIES.index("kv_miss")) & (rng.random(n) < 0.7))
    # threads: consecutive sessions of the same agent sharing a conversation, 2–6 per thread
    thread_share = np.array([p.threads for p in profiles])[agent]
    in_thread = rng.random(n) < thread_share
    thread = np.full(n, -1, dtype=np.int64)
    for a in range(len(profiles)):
        members = np.flatnonzero(in_thread & (agent == a))
        members = members[np.argsort(starts[members], kind="stable")]
        sizes = rng.integers(2, 7, size=len(members) // 2 + 1)
        labels = np.repeat(np.arange(len(sizes)), sizes)[: len(members)]
        thread[members] = key_offset * 7 + a * 1_000_000 + labels
    # nested agent calls (research-assistant → doc-extractor)
    research = [p.name for p in profiles].index("research-assistant")
    nested = np.where(
        (agent == research) & (rng.random(n) < 0.4),
        [p.name for p in profiles].index("doc-extractor"),
        -1,
    )
    deleted = rng.random(n) < 0.004
    deleted_ns = np.where(deleted, starts + duration + rng.integers(3600, 5 * 86400, n) * NS, 0)
    deleted_ns = np.where(deleted_ns > now_ns, 0, deleted_ns)
    deleted &= deleted_ns > 0
    digits = rng.integers(0, 10, n).astype(np.int8)
    tz_form = rng.choice(4, size=n, p=[0.8, 0.08, 0.08, 0.04]).astype(np.int8)
    arrays = {
        "key": key,
        "agent": agent.astype(np.int8),
        "trigger": trigger,
        "env": env,
        "devmode": devmode,
        "deployment": deployment,
        "success": success,
        "family": family,
        "has_llm": has_llm,
        "prompt": prompt,
        "completion": completion,
        "model": model.astype(np.int8),
        "llm_cost": llm_cost,
        "total_cost": total_cost,
        "thread": thread.astype(np.int64),
        "nested": nested.astype(np.int8),
        "deleted": deleted,
        "deleted_ns": deleted_ns.astype(np.int64),
        "digits": digits,
        "tz_form": tz_form,
        "project": (rng.random(n) < 0.05).astype(np.int8),
        "region": rng.choice(3, size=n, p=[0.8, 0.12, 0.08]).astype(np.int8),
        "meta_kind": rng.choice(4, size=n, p=[0.08, 0.07, 0.7, 0.15]).astype(
            np.int8
        ),  # absent, null, obj, obj+exp
        "user_data": rng.choice(3, size=n, p=[0.6, 0.2, 0.2]).astype(
            np.int8
        ),  # absent, null, JSON string
        # metadata values, drawn here so rendering needs no per-row RNG
        "m_tier": rng.choice(3, size=n, p=[0.55, 0.35, 0.10]).astype(np.int8),
        "m_channel": rng.integers(0, 3, n).astype(np.int8),
        "m_user": rng.integers(1, 4000, n).astype(np.int16),
        "m_lang": rng.integers(0, 6, n).astype(np.int8),
        "m_pages": rng.integers(1, 80, n).astype(np.int8),
        "m_src": rng.integers(0, 3, n).astype(np.int8),
        "m_exp": rng.integers(0, 2, n).astype(np.int8),
    }
    # times: truncate every stored instant to the digits it will be printed with (exact round trip)
    starts = truncate_to_digits(starts, field_digits(digits, "start_time"))
    created = truncate_to_digits(starts - rng.integers(0, 40_000_000, n), digits)
    ends = truncate_to_digits(starts + duration, field_digits(digits, "end_time"))
    arrays["deleted_ns"] = truncate_to_digits(
        arrays["deleted_ns"], field_digits(digits, "deleted_at")
    )
    arrays["created_ns"] = created
    arrays["start_ns"] = starts
    arrays["end_ns"] = ends
    arrays["cpu_ns"] = np.minimum(cpu, ends - starts)
    # updated_at uses the end or start time, printed with the updated_at digits: keep them exact too
    upd_digits = field_digits(digits, "updated_at")
    common = np.minimum(
        np.minimum(upd_digits, field_digits(digits, "start_time")), field_digits(digits, "end_time")
    )
    arrays["start_ns"] = truncate_to_digits(arrays["start_ns"], common)
    arrays["end_ns"] = truncate_to_digits(
        arrays["start_ns"] + duration, common
    )  # >= start: start is a multiple
    # the reported duration is the exact one; printed times are truncated to their digits, so
    # end_time - start_time may differ from it by less than the printed precision (as with Go)
    arrays["duration_ns"] = duration
    arrays["cpu_ns"] = np.minimum(cpu, duration)
    arrays["created_ns"] = np.minimum(arrays["created_ns"], arrays["start_ns"])
    return arrays


def truncate_to_digits(ns: np.ndarray, digits: np.ndarray | int) -> np.ndarray:
    """``ns`` (int64 ns) cut down to a multiple of the unit ``digits`` fractional digits show."""
    unit = (10 ** (9 - np.asarray(digits, dtype=np.int64))).astype(np.int64)
    return (np.asarray(ns, dtype=np.int64) // unit) * unit
