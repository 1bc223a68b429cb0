"""Eval charts: pass rate per eval and the distribution of scores."""

from __future__ import annotations

from typing import Any, Literal, overload

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from .. import analysis
from ._style import axes, no_data, shorten

PASS = "#009E73"
SCORE = "#0072B2"
Kind = Literal["both", "pass_rate", "scores"]
MAX_POINTS_PER_ROW = 400


def _keys(eval_runs: pd.DataFrame, by: str, sessions: pd.DataFrame | None) -> pd.Series:
    """The group label of every run, as :func:`analysis.eval_summary` labels its rows."""
    runs = eval_runs
    if by == "agent":
        if sessions is None:
            raise ValueError(
                "by='agent' needs sessions= (the sessions frame, for each run's agent)"
            )
        agents = dict(
            zip(sessions["id"].astype(str), sessions["agent"].astype("string"), strict=True)
        )
        return runs["session_id"].astype(str).map(agents).astype("string").fillna("(none)")
    label = "eval_name" if by == "eval_id" and "eval_name" in runs else by
    return runs[label].astype("string").fillna("(none)")


def _pass_rate(ax: Axes, table: pd.DataFrame, ylabels: list[str], **kwargs: Any) -> None:
    positions = np.arange(len(table))
    done = table["completed"].astype("float64").to_numpy()
    passed = np.round(np.nan_to_num(table["pass_rate"].astype("float64").to_numpy()) * done)
    # the bar, its whiskers and its label all come from the same count (passed of done), so
    # the interval holds the bar; whisker lengths are clipped at 0 (matplotlib refuses < 0)
    low, high = analysis.wilson_interval(passed, done)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(done > 0, passed / np.where(done > 0, done, 1.0), np.nan)
    err = np.clip(np.nan_to_num(np.vstack([rate - low, high - rate])), 0.0, None)
    options: dict[str, Any] = {"color": PASS, "height": 0.65}
    options.update(kwargs)
    ax.barh(positions, np.nan_to_num(rate), **options)
    ax.errorbar(
        np.nan_to_num(rate),
        positions,
        xerr=err,
        fmt="none",
        ecolor="#333333",
        elinewidth=0.9,
        capsize=2.5,
    )
    for p, r, d, h in zip(positions, rate, done, np.nan_to_num(high), strict=True):
        ax.annotate(
            "no completed runs" if not d else f"{r:.0%} of {int(d):,}",
            xy=(max(h, 0.0), p),
            xytext=(5, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(positions, ylabels, fontsize=8.5)
    ax.set_xlim(0, 1.32)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_xlabel("Pass rate of completed runs (whiskers: 95% interval)")


def _scores(
    ax: Axes,
    runs: pd.DataFrame,
    keys: pd.Series,
    order: list[str],
    ylabels: list[str],
    seed: int,
) -> None:
    scores = runs["score"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    key_values = keys.to_numpy(dtype=object)
    data = [scores[(key_values == name) & ~np.isnan(scores)] for name in order]
    positions = np.arange(len(order))
    rng = np.random.default_rng(seed)
    has = [i for i, d in enumerate(data) if len(d)]
    if has:
        ax.boxplot(
            [data[i] for i in has],
            positions=positions[has],
            orientation="horizontal",
            widths=0.6,
            showfliers=False,
            patch_artist=True,
            boxprops={"facecolor": "#DCEAF5", "edgecolor": SCORE},
            medianprops={"color": "#08306B", "linewidth": 1.6},
            whiskerprops={"color": SCORE},
            capprops={"color": SCORE},
        )
        for i in has:
            values = data[i]
            if len(values) > MAX_POINTS_PER_ROW:
                values = rng.choice(values, MAX_POINTS_PER_ROW, replace=False)
            jitter = rng.uniform(-0.22, 0.22, len(values))
            ax.scatter(values, i + jitter, s=5, color=SCORE, alpha=0.35, linewidths=0, zorder=3)
    for i, d in enumerate(data):
        if not len(d):
            ax.text(0.5, i, "no scores", ha="center", va="center", fontsize=8, color="#777777")
    ax.set_yticks(positions, ylabels, fontsize=8.5)
    ax.set_ylim(-0.6, len(order) - 0.4)
    ax.set_xlim(-0.02, 1.02)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_xlabel(f"Score (0–1; box: quartiles, dots: up to {MAX_POINTS_PER_ROW} runs)")


@overload
def eval_scores(
    eval_runs: pd.DataFrame,
    *,
    by: str = ...,
    sessions: pd.DataFrame | None = ...,
    kind: Literal["pass_rate", "scores"],
    seed: int = ...,
    ax: Axes | None = ...,
    **kwargs: Any,
) -> Axes: ...
@overload
def eval_scores(
    eval_runs: pd.DataFrame,
    *,
    by: str = ...,
    sessions: pd.DataFrame | None = ...,
    kind: None = ...,
    seed: int = ...,
    ax: Axes,
    **kwargs: Any,
) -> Axes: ...
@overload
def eval_scores(
    eval_runs: pd.DataFrame,
    *,
    by: str = ...,
    sessions: pd.DataFrame | None = ...,
    kind: Literal["both"] | None = ...,
    seed: int = ...,
    ax: None = ...,
    **kwargs: Any,
) -> Figure: ...
def eval_scores(
    eval_runs: pd.DataFrame,
    *,
    by: str = "eval_id",
    sessions: pd.DataFrame | None = None,
    kind: Kind | None = None,
    seed: int = 0,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes | Figure:
    """Eval results per eval (or ``by="agent"`` with ``sessions=``), worst pass rate on top.

    ``kind="both"`` (the default without ``ax``) returns a Figure of two panels sharing the
    rows: the pass rate (bars, with its 95% Wilson interval and the number of completed runs)
    and the score distribution (box of quartiles with up to 400 jittered runs per row, seeded
    by ``seed``). With ``ax=`` (or ``kind="pass_rate"``/``"scores"``) one panel is drawn and
    its Axes returned (``kind`` then defaults to ``"pass_rate"``). ``kwargs`` go to the pass-rate
    :meth:`~matplotlib.axes.Axes.barh`.
    """
    if kind not in (None, "both", "pass_rate", "scores"):
        raise ValueError(f"kind={kind!r} is not one of 'both', 'pass_rate', 'scores'")
    if kind == "both" and ax is not None:
        raise ValueError(
            "kind='both' draws two panels on a new Figure: leave ax=None, or pass "
            "kind='pass_rate' or kind='scores' to draw one panel on ax"
        )
    kind = kind or ("pass_rate" if ax is not None else "both")
    table = analysis.eval_summary(eval_runs, by=by, sessions=sessions) if len(eval_runs) else None
    n = 0 if table is None else len(table)
    height = 1.2 + 0.42 * max(n, 2)
    what = "eval" if by == "eval_id" else by
    titles = {
        "pass_rate": f"Eval pass rate by {what}",
        "scores": f"Eval scores by {what}",
    }
    figure: Figure | None = None  # the two-panel Figure, returned instead of an Axes
    if kind == "both":
        figure, (left, right) = plt.subplots(
            1, 2, figsize=(12, height), sharey=True, layout="constrained"
        )
        panels: list[tuple[Axes, str]] = [(left, "pass_rate"), (right, "scores")]
    else:
        one = axes(ax, (8, height))
        panels = [(one, kind)]
    if table is None or not n:
        for panel, name in panels:
            no_data(panel, titles[name], "Pass rate" if name == "pass_rate" else "Score")
        return figure if figure is not None else panels[0][0]
    table = table.iloc[::-1]  # sorted by pass rate ascending; barh draws bottom-up: worst on top
    order = [str(i) for i in table.index]
    ylabels = [shorten(name, 36) for name in order]
    keys = _keys(eval_runs, by, sessions)
    for panel, name in panels:
        if name == "pass_rate":
            _pass_rate(panel, table, ylabels, **kwargs)
        else:
            _scores(panel, eval_runs, keys, order, ylabels, seed)
        panel.set_title(titles[name])
    if figure is not None:
        right.tick_params(axis="y", labelleft=False)
        return figure
    return panels[0][0]
