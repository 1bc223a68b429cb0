"""Drawing the numbers of sessions: the vectorised columns a dataset is made of.

One function, :func:`draw_columns`, turns start times and agent choices into every numeric
column of those sessions (trigger, environment, deployment, outcome, error family, durations,
tokens, costs, threads, deletion, print digits, metadata codes, and what the planted incidents
do to them) with numpy. Generation draws the
whole project with it, and a live dataset draws the sessions that arrive after its "now" with it.

Imports: :mod:`.catalog` and :mod:`.incidents` (of the emulator) and numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .catalog import (
    FAMILIES,
    MODEL_PRICES,
    MODELS,
    NS,
    PROFILES,
    STORES,
    TRIGGERS,
    field_digits,
)
from .incidents import effects


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
    boost: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Every numeric column of the sessions starting at ``starts`` (int64 ns) run by agent
    profiles ``agent`` (indexes into :data:`~.catalog.PROFILES`), drawn from ``rng`` (one array
    per column, in the order given).

    ``key_offset`` numbers the rows' keys (the seeds of their text); rows ``recent_from`` to
    ``recent_to`` are the last minutes' sessions, some still running at ``now_ns``. The planted
    incidents of ``meta["plans"]`` (:mod:`.incidents`) act on the sessions they locate;
    ``boost`` (a float per row, 1 = none) multiplies a row's tokens and stretches its duration
    (the demo's whale session). Stored instants are truncated to the digits they are printed
    with, so text round-trips exactly.
    """
    n = len(starts)
    key = np.arange(key_offset, key_offset + n, dtype=np.int64)
    profiles = PROFILES
    # who and where: the codes a segment (and so an incident) is defined by
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
    for d, dep in enumerate(deployments):
        mask = (agent == dep["agent"]) & (starts >= dep["start_ns"])
        deployment[mask] = d
    deployment[devmode & (rng.random(n) < 0.6)] = len(deployments)
    model = np.array([MODELS.index(p.model) for p in profiles])[agent]
    store = rng.integers(0, len(STORES), n).astype(np.int8)
    calls = rng.random(n) < np.array([p.host_share for p in profiles])[agent]
    codes = {
        "meta_kind": rng.choice(4, size=n, p=[0.08, 0.07, 0.7, 0.15]).astype(np.int8),
        "m_tier": rng.choice(3, size=n, p=[0.55, 0.35, 0.10]).astype(np.int8),
        "m_channel": rng.integers(0, 3, n).astype(np.int8),
        "m_user": rng.integers(1, 4000, n).astype(np.int16),
        "m_lang": rng.integers(0, 6, n).astype(np.int8),
        "m_pages": rng.integers(1, 80, n).astype(np.int8),
        "m_src": rng.integers(0, 3, n).astype(np.int8),
        "m_exp": rng.integers(0, 2, n).astype(np.int8),
    }
    where = {
        "agent": agent,
        "trigger": trigger,
        "env": env,
        "devmode": devmode,
        "deployment": deployment,
        "model": model,
        "store": store,
        "calls": calls,
        **codes,
    }
    effect = effects(list(meta.get("plans", ())), where, starts)
    # outcome: a planted failure adds to the profile's rate; its failures are of its family
    base_rate = np.array([p.fail_rate for p in profiles])[agent]
    fail_rate = 1 - (1 - base_rate) * (1 - effect.fail_add)
    draw = rng.random(n)
    success = draw >= fail_rate
    planted = ~success & (draw >= base_rate) & (effect.fail_family >= 0)
    family = np.zeros(n, dtype=np.int8)
    for a, profile in enumerate(profiles):
        mask = agent == a
        names = list(profile.families)
        p = np.array([profile.families[f] for f in names])
        family[mask] = np.array([FAMILIES.index(f) for f in names])[
            rng.choice(len(names), size=int(mask.sum()), p=p / p.sum())
        ]
    family = np.where(planted, effect.fail_family, family).astype(np.int8)
    target = np.where(effect.call > 0, effect.target, -1).astype(np.int16)  # the slowed span
    fail_at = np.where(planted, effect.target, -1).astype(
        np.int16
    )  # the span a planted failure hits
    # durations (heavy tails, a daily rhythm: a little slower at the afternoon peak); failures
    # end earlier or hang until a timeout
    median = np.array([p.duration_s for p in profiles])[agent]
    sigma = np.array([p.sigma for p in profiles])[agent]
    hour = (starts // (3600 * NS)) % 24
    rhythm = 1 + 0.12 * np.exp(-0.5 * ((hour - 15) / 3.0) ** 2)
    seconds = median * rhythm * np.exp(rng.normal(0, sigma, n)) * effect.slow
    if boost is not None:  # one whale: the first successful production session boosted
        eligible = (boost > 1) & success & (env == 0) & ~devmode
        boost = np.where(np.arange(n) == int(np.argmax(eligible)), boost, 1.0)
        boost = np.where(eligible.any(), boost, 1.0)
        seconds = seconds * np.sqrt(boost)
    extra = seconds * effect.call  # a slowed call's added time (its span takes it)
    timeout = family == FAMILIES.index("tool_timeout")
    seconds = np.where(
        ~success & timeout, 30 + rng.exponential(5, n), np.where(~success, seconds * 0.4, seconds)
    )
    extra = np.where(success, extra, 0.0)
    duration = np.maximum(((seconds + extra) * 1e9).astype(np.int64), 5_000_000)
    slow_ns = np.minimum((extra * 1e9).astype(np.int64), duration)
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
        stretched = rng.random(len(idx)) < 0.6
        duration[idx] = np.where(stretched, ends - starts[idx], duration[idx])
        slow_ns[idx] = np.where(stretched, 0, slow_ns[idx])
    cpu = (duration * rng.uniform(0.04, 0.55, n)).astype(np.int64)
    # tokens and costs: a planted cost incident puts more in the prompt (and a little more out)
    prompt = np.array([p.prompt_tokens for p in profiles])[agent] * np.exp(rng.normal(0, 0.6, n))
    prompt = prompt * effect.tokens
    completion = np.array([p.completion_tokens for p in profiles])[agent] * np.exp(
        rng.normal(0, 0.5, n)
    )
    completion = completion * (1 + (effect.tokens - 1) / 4)
    if boost is not None:
        prompt, completion = prompt * boost, completion * boost
    prompt = np.maximum(prompt.astype(np.int64), 20)
    completion = np.maximum(completion.astype(np.int64), 1)
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
        "user_data": rng.choice(3, size=n, p=[0.6, 0.2, 0.2]).astype(
            np.int8
        ),  # absent, null, JSON string
        # metadata values, drawn here so rendering needs no per-row RNG
        **codes,
        # what the timeline and eval runs are drawn from
        "store": store,
        "calls": calls,
        "target": target,
        "fail_at": fail_at,
        "slow_ns": slow_ns,
        "eval_code": effect.eval_code,
        "eval_shift": effect.eval_shift.astype(np.float32),
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
