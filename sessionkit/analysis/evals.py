"""How good are the answers: eval pass rates and scores, and sessions that succeeded yet failed
an eval."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..status import succeeded
from ._common import (
    KEY_DTYPE,
    NONE,
    group_key,
)

EVAL_COLUMNS = ["runs", "completed", "pass_rate", "mean_score", "q25", "q50", "q75", "errored"]
ODD_COLUMNS = ["id", "agent", "failed_evals", "lowest_score"]


def _ran(eval_runs: pd.DataFrame) -> pd.Series:
    """Runs where the eval itself could run (not pending, no eval error) and gave a verdict."""
    could_run = eval_runs["success"].fillna(True).astype(bool)
    if "result_success" in eval_runs.columns:
        could_run &= eval_runs["result_success"].fillna(True).astype(bool)
    return (
        ~eval_runs["pending"].fillna(False).astype(bool) & could_run & eval_runs["passed"].notna()
    )


def _errored(eval_runs: pd.DataFrame) -> pd.Series:
    """Completed runs where the eval could not run (the eval's error, not the agent's)."""
    broken = ~eval_runs["success"].fillna(True).astype(bool)
    if "result_success" in eval_runs.columns:
        broken |= ~eval_runs["result_success"].fillna(True).astype(bool)
    return ~eval_runs["pending"].fillna(False).astype(bool) & broken


def _labels(
    eval_runs: pd.DataFrame, by: str, sessions: pd.DataFrame | None
) -> tuple[pd.Series, str]:
    """Each run's group label and the label's name."""
    if by == "eval_id" and "eval_name" in eval_runs.columns:
        return group_key(eval_runs["eval_name"], "eval_name"), "eval_name"
    if by in eval_runs.columns:
        return group_key(eval_runs[by], by), by
    if sessions is None or by not in sessions.columns:
        raise ValueError(
            f"by={by!r} is not a column of the eval runs; pass sessions= (the sessions frame) "
            "to group by a session column such as 'agent'"
        )
    lookup = pd.Series(
        sessions[by].astype("string").to_numpy(), index=pd.Index(sessions["id"].astype("string"))
    )
    lookup = lookup[~lookup.index.duplicated(keep="last")]
    return group_key(eval_runs["session_id"].astype("string").map(lookup), by), by


def eval_summary(
    eval_runs: pd.DataFrame, *, by: str = "eval_id", sessions: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Eval results per eval (labelled by ``eval_name`` when the runs carry one) or per ``by``:
    a run column, or a session column such as ``"agent"`` joined through ``sessions``
    (``session_id`` → ``id``; runs of unknown sessions are ``"(none)"``).

    Returns one row per group (the index): ``runs``, ``completed`` (runs that gave a verdict:
    not pending and the eval itself ran), ``pass_rate`` (0..1 of completed runs), ``mean_score``
    and the score quartiles ``q25``/``q50``/``q75`` (0..1, over completed runs with a score) and
    ``errored`` (runs where the eval could not run — not counted as failures of the agent).
    Sorted by pass rate, worst first.
    """
    if not len(eval_runs):
        name = "eval_name" if by == "eval_id" and "eval_name" in eval_runs.columns else by
        return pd.DataFrame(
            {
                **{c: pd.Series(dtype="int64") for c in ("runs", "completed")},
                **{
                    c: pd.Series(dtype="float64")
                    for c in ("pass_rate", "mean_score", "q25", "q50", "q75")
                },
                "errored": pd.Series(dtype="int64"),
            },
            index=pd.Index([], dtype=KEY_DTYPE, name=name),
        )[EVAL_COLUMNS]
    key, name = _labels(eval_runs, by, sessions)
    ran = _ran(eval_runs)
    frame = pd.DataFrame(
        {
            "ran": ran.to_numpy(dtype="int64"),
            "passed": np.where(ran, eval_runs["passed"].fillna(False).astype(bool), False).astype(
                "int64"
            ),
            "score": eval_runs["score"].astype("float64").where(ran).to_numpy(),
            "errored": _errored(eval_runs).to_numpy(dtype="int64"),
        },
        index=eval_runs.index,
    )
    grouped = frame.groupby(key, observed=True)
    table = pd.DataFrame(
        {
            "runs": grouped.size().astype("int64"),
            "completed": grouped["ran"].sum().astype("int64"),
            "passed": grouped["passed"].sum(),
            "mean_score": grouped["score"].mean(),
            "errored": grouped["errored"].sum().astype("int64"),
        }
    )
    quartiles = grouped["score"].quantile([0.25, 0.5, 0.75]).unstack(-1)
    table["q25"], table["q50"], table["q75"] = (quartiles[q] for q in (0.25, 0.5, 0.75))
    table["pass_rate"] = table["passed"] / table["completed"].where(table["completed"] > 0)
    table.index = pd.Index(table.index.astype(str), dtype=KEY_DTYPE, name=name)
    return table[EVAL_COLUMNS].sort_values("pass_rate", na_position="last", kind="stable")


def succeeded_but_failed_eval(sessions: pd.DataFrame, eval_runs: pd.DataFrame) -> pd.DataFrame:
    """Sessions that reported success yet failed at least one eval that ran (quiet quality
    failures). Returns ``id``, ``agent`` (``"(none)"`` when unknown), ``failed_evals`` (a sorted
    list of the failed evals' names, or ids) and ``lowest_score`` (0..1, the lowest score among
    its failed runs; NaN when they carry none), lowest score first."""
    label = "eval_name" if "eval_name" in eval_runs.columns else "eval_id"
    ok = sessions[succeeded(sessions)]
    ran = _ran(eval_runs) if len(eval_runs) else pd.Series(dtype=bool)
    failed_runs = (
        eval_runs[ran & ~eval_runs["passed"].fillna(True).astype(bool)]
        if len(eval_runs)
        else eval_runs
    )
    session_ids = failed_runs["session_id"].astype("string")
    failed_runs = failed_runs[session_ids.isin(ok["id"].astype("string")).to_numpy()]
    if not len(failed_runs):
        return pd.DataFrame(
            {
                "id": pd.Series(dtype=KEY_DTYPE),
                "agent": pd.Series(dtype=KEY_DTYPE),
                "failed_evals": pd.Series(dtype="object"),
                "lowest_score": pd.Series(dtype="float64"),
            }
        )
    frame = pd.DataFrame(
        {
            "id": failed_runs["session_id"].astype("string").to_numpy(dtype=object),
            "eval": failed_runs[label].astype("string").fillna(NONE).to_numpy(dtype=object),
            "score": failed_runs["score"].astype("float64").to_numpy(),
        }
    )
    evals = frame[["id", "eval"]].drop_duplicates().sort_values(["id", "eval"])
    grouped = frame.groupby("id", sort=True)
    table = pd.DataFrame(
        {
            "failed_evals": evals.groupby("id", sort=True)["eval"].agg(list),
            "lowest_score": grouped["score"].min(),
        }
    )
    table.index.name = "id"
    table = table.reset_index()
    if "agent" in sessions.columns:
        agents = pd.Series(
            ok["agent"].astype("string").to_numpy(), index=pd.Index(ok["id"].astype("string"))
        )
        agents = agents[~agents.index.duplicated(keep="last")]
        table.insert(1, "agent", table["id"].map(agents).astype(KEY_DTYPE).fillna(NONE))
    else:
        table.insert(1, "agent", pd.Series(NONE, index=table.index, dtype=KEY_DTYPE))
    table["id"] = table["id"].astype(KEY_DTYPE)
    return table[ODD_COLUMNS].sort_values(
        "lowest_score", na_position="last", kind="stable", ignore_index=True
    )
