"""Plot helpers on what real data holds: frames from the emulator's dataset, then spoiled the way
real frames are (every session pending, inf costs, missing severities, zero durations, a
timestamp of 1970). Every helper must give a chart, a "No data" chart that says why, or a clear
error — never a crash inside matplotlib/pandas, a warning or a hang (pytest turns warnings into
errors)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import sessionkit as sk
from sessionkit import plot
from sessionkit.emulator import Dataset, generate
from sessionkit.emulator.catalog import PROFILES
from sessionkit.plot._style import MAX_BUCKETS, bucket_grid, require


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(240, seed=5)


@pytest.fixture(scope="module")
def sessions(dataset: Dataset) -> pd.DataFrame:
    """A month of emulated sessions with the ``agent`` column the loaders add."""
    n = len(dataset)
    frame = sk.sessions_frame(dataset.render_sessions(range(n), dataset.now_ns))
    names = [PROFILES[int(a)].name for a in dataset._a["agent"][:n]]
    frame.insert(1, "agent", pd.Categorical(names))
    return frame


def _done(dataset: Dataset) -> list[int]:
    end = dataset.columns["end_ns"]
    return [i for i in range(len(dataset)) if int(end[i]) <= dataset.now_ns][:12]


@pytest.fixture(scope="module")
def spans(dataset: Dataset) -> pd.DataFrame:
    """ONE completed session's spans."""
    i = _done(dataset)[0]
    return sk.spans_frame([(str(dataset.columns["id"][i]), dataset.timeline(i))])


@pytest.fixture(scope="module")
def logs(dataset: Dataset) -> pd.DataFrame:
    ids = dataset.columns["id"]
    return sk.logs_frame(
        (str(ids[i]), line) for i in _done(dataset) for line in dataset.logs(i, dataset.now_ns)
    )


def _texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def _drawn(ax: Axes) -> Axes:
    ax.figure.canvas.draw()  # warnings of limits and scales come at draw time
    return ax


def _nat(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(pd.NaT, index=frame.index, dtype="timedelta64[ns]")


# --------------------------------------------------------------------------- 1. all-NaT durations


@pytest.mark.parametrize("helper", [plot.duration_distribution, plot.latency_over_time])
def test_every_session_pending_is_no_data_saying_why(
    sessions: pd.DataFrame, helper: Callable[..., Axes]
) -> None:
    pending = sessions.assign(duration=pd.NaT, pending=True)  # a datetime column of NaT
    ax = _drawn(helper(pending))
    assert "No data" in _texts(ax)
    assert any("no completed sessions" in t for t in _texts(ax))


def test_duration_distribution_all_nat_durations(sessions: pd.DataFrame) -> None:
    ax = _drawn(plot.duration_distribution(sessions.assign(duration=pd.NaT)))
    assert "No data" in _texts(ax) and ax.get_title()


def test_timeline_of_spans_without_durations(spans: pd.DataFrame) -> None:
    for spoiled in (spans.assign(duration=pd.NaT), spans.assign(duration=_nat(spans))):
        ax = _drawn(plot.timeline(spoiled))
        assert "No data" in _texts(ax)
        assert any("has a duration" in t for t in _texts(ax))


def test_operation_hotspots_of_spans_without_durations(spans: pd.DataFrame) -> None:
    ax = _drawn(plot.operation_hotspots_chart(spans.assign(duration=pd.NaT, self_duration=pd.NaT)))
    assert "No data" in _texts(ax) and any("has a duration" in t for t in _texts(ax))


def test_durations_that_are_not_durations_are_a_clear_error(sessions: pd.DataFrame) -> None:
    odd = sessions.assign(duration=sessions["start_time"])
    with pytest.raises(sk.InvalidArgumentError, match=r"'duration'.*not durations.*to_timedelta"):
        plot.duration_distribution(odd)


# --------------------------------------------------------------------------- 2. missing severity


def test_logs_without_severity_are_a_none_layer(logs: pd.DataFrame) -> None:
    for missing in (
        logs.assign(severity=pd.Series(pd.NA, logs.index, "string")),
        logs.assign(severity=pd.Categorical([None] * len(logs), dtype=logs["severity"].dtype)),
    ):
        ax = _drawn(plot.log_severity_over_time(missing))
        legend = ax.get_legend()
        assert legend is not None
        assert [t.get_text() for t in legend.get_texts()] == ["(none)"]
        heights = sum(p.get_height() for p in ax.patches)
        assert heights == len(logs)


def test_logs_without_timestamps_are_skipped_with_a_note(logs: pd.DataFrame) -> None:
    some = logs.assign(timestamp=logs["timestamp"].where(np.arange(len(logs)) % 3 != 0))
    ax = _drawn(plot.log_severity_over_time(some))
    skipped = int(some["timestamp"].isna().sum())
    assert f"{skipped:,} log lines without a timestamp not shown" in _texts(ax)
    ax = _drawn(plot.log_severity_over_time(logs.assign(timestamp=pd.NaT)))
    assert "No data" in _texts(ax) and any("has a timestamp" in t for t in _texts(ax))


def test_log_severity_with_a_calendar_freq_is_a_clear_error(logs: pd.DataFrame) -> None:
    with pytest.raises(sk.InvalidArgumentError, match=r"freq='MS'.*fixed length"):
        plot.log_severity_over_time(logs, freq="MS")


# --------------------------------------------------------------------------- 3. inf in costs


def _with_inf(sessions: pd.DataFrame, column: str = "total_cost") -> pd.DataFrame:
    values = sessions[column].astype("float64").to_numpy(copy=True)
    values[::7] = np.inf
    values[3] = -np.inf
    return sessions.assign(**{column: values})


COST_HELPERS: list[tuple[str, Callable[..., Axes], str]] = [
    ("cost_over_time", plot.cost_over_time, "total_cost"),
    ("cost_breakdown", plot.cost_breakdown, "total_cost"),
    ("cost_per_success", lambda f: plot.cost_breakdown(f, metric="cost_per_success"), "total_cost"),
    ("llm_cost", lambda f: plot.cost_breakdown(f, metric="cost_per_1k_tokens"), "llm_cost"),
    ("tokens_vs_cost", plot.tokens_vs_cost, "total_cost"),
]


@pytest.mark.parametrize(
    ("_name", "helper", "column"), COST_HELPERS, ids=[c[0] for c in COST_HELPERS]
)
def test_infinite_costs_are_left_out_with_a_note(
    sessions: pd.DataFrame, _name: str, helper: Callable[..., Axes], column: str
) -> None:
    spoiled = _with_inf(sessions, column)
    bad = int(np.isinf(spoiled[column].to_numpy(dtype="float64")).sum())
    ax = _drawn(helper(spoiled))
    assert "No data" not in _texts(ax)
    assert any(f"{bad:,} sessions with a non-finite cost (inf) left out" in t for t in _texts(ax))
    assert all(np.isfinite(p.get_height()) and np.isfinite(p.get_width()) for p in ax.patches)


@pytest.mark.parametrize(
    ("_name", "helper", "column"), COST_HELPERS, ids=[c[0] for c in COST_HELPERS]
)
def test_all_infinite_costs_are_no_data_with_a_note(
    sessions: pd.DataFrame, _name: str, helper: Callable[..., Axes], column: str
) -> None:
    ax = _drawn(helper(sessions.assign(total_cost=np.inf, llm_cost=np.inf)))
    assert "No data" in _texts(ax)
    assert any("non-finite cost (inf) left out" in t for t in _texts(ax))


# --------------------------------------------------------------------------- 4. zero durations


@pytest.mark.parametrize("helper", [plot.duration_distribution, plot.latency_over_time])
def test_all_zero_durations_never_make_a_log_axis(
    sessions: pd.DataFrame, helper: Callable[..., Axes]
) -> None:
    zero = sessions.assign(duration=pd.Series(pd.Timedelta(0), sessions.index))
    ax = _drawn(helper(zero))
    assert "No data" in _texts(ax)
    assert any("zero duration" in t for t in _texts(ax))
    assert ax.get_yscale() == ax.get_xscale() == "linear"


def test_latency_over_time_some_zero_durations(sessions: pd.DataFrame) -> None:
    # the first week's sessions all took no time: their p50 cannot sit on the log axis
    first_week = sessions["start_time"] < sessions["start_time"].min() + pd.Timedelta(days=7)
    spoiled = sessions.assign(duration=sessions["duration"].where(~first_week, pd.Timedelta(0)))
    ax = _drawn(plot.latency_over_time(spoiled))
    assert any("with a zero p50 not shown" in t for t in _texts(ax))
    assert all((line.get_ydata() > 0).sum() for line in ax.lines)


# --------------------------------------------------------------------------- 5. identical xlims


def test_operation_hotspots_with_zero_self_times(spans: pd.DataFrame) -> None:
    zero = pd.Series(pd.Timedelta(0), index=spans.index)
    for frame in (spans.assign(duration=zero, self_duration=zero), spans.iloc[:1]):
        ax = _drawn(plot.operation_hotspots_chart(frame))
        low, high = ax.get_xlim()
        assert high > low and ax.get_yticklabels()


# --------------------------------------------------------------------------- 6. bucket bound


@pytest.mark.parametrize(
    "call",
    [
        lambda s: plot.latency_over_time(s, freq="1s"),
        lambda s: plot.success_rate_over_time(s, freq="1min"),
        lambda s: plot.cost_over_time(s, freq="1min"),
    ],
    ids=["latency_1s", "success_1min", "cost_1min"],
)
def test_a_month_in_tiny_buckets_is_a_clear_error(
    sessions: pd.DataFrame, call: Callable[[pd.DataFrame], Axes]
) -> None:
    with pytest.raises(sk.InvalidArgumentError, match=r"time buckets.*coarser freq="):
        call(sessions)


def test_a_timestamp_of_1970_is_a_clear_error_not_a_hang(
    sessions: pd.DataFrame, logs: pd.DataFrame
) -> None:
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    old = sessions.assign(start_time=sessions["start_time"].where(sessions.index != 0, epoch))
    for helper in (plot.latency_over_time, plot.success_rate_over_time, plot.cost_over_time):
        with pytest.raises(sk.InvalidArgumentError, match=r"freq='D' makes 20,\d{3} time buckets"):
            helper(old)
    ax = plot.success_rate_over_time(old, freq="YS")  # coarse enough: a chart
    assert ax.get_title() and "No data" not in _texts(ax)
    ax = plot.log_severity_over_time(pd.concat([logs.iloc[:1].assign(timestamp=epoch), logs]))
    assert "per 30 days" in ax.get_title()  # freq=None picks buckets that fit the span
    with pytest.raises(sk.InvalidArgumentError, match="time buckets"):
        plot.log_severity_over_time(logs, freq="1ms")


def test_bucket_grid_bound() -> None:
    first = pd.Timestamp("2026-01-01")
    starts, _ = bucket_grid(first, first + pd.Timedelta(minutes=MAX_BUCKETS - 1), "min")
    assert len(starts) == MAX_BUCKETS
    with pytest.raises(sk.InvalidArgumentError, match=rf"{MAX_BUCKETS + 1:,} time buckets"):
        bucket_grid(first, first + pd.Timedelta(minutes=MAX_BUCKETS), "min")
    epoch, now = pd.Timestamp("1970-01-01", tz="UTC"), pd.Timestamp("2026-01-01", tz="UTC")
    with pytest.raises(sk.InvalidArgumentError, match="20,455 time buckets"):
        bucket_grid(epoch, now, "D")
    assert len(bucket_grid(epoch, now, "M")[0]) == 56 * 12 + 1  # calendar months: fine


# --------------------------------------------------------------------------- 7. require


def test_require_raises_invalid_argument_error_also_a_value_error(
    sessions: pd.DataFrame,
) -> None:
    with pytest.raises(sk.InvalidArgumentError, match=r"no column 'team'; pass by="):
        require(sessions, ["team"], "sessions", "pass by=")
    with pytest.raises(ValueError, match="no column 'team'"):
        plot.cost_breakdown(sessions, by="team")
    with pytest.raises(sk.InvalidArgumentError, match="no column 'severity'"):
        plot.log_severity_over_time(pd.DataFrame({"timestamp": [pd.Timestamp("2026-01-01")]}))


# --------------------------------------------------------------------------- every helper


def _all_axes(result: Axes | Figure) -> list[Axes]:
    return list(result.axes) if isinstance(result, Figure) else [result]


SESSION_HELPERS: dict[str, Callable[..., Any]] = {
    "cost_over_time": plot.cost_over_time,
    "cost_breakdown": plot.cost_breakdown,
    "tokens_vs_cost": plot.tokens_vs_cost,
    "duration_distribution": plot.duration_distribution,
    "duration_distribution_by": lambda f: plot.duration_distribution(f, by="agent"),
    "latency_over_time": plot.latency_over_time,
    "success_rate_over_time": plot.success_rate_over_time,
    "success_rate_by": lambda f: plot.success_rate_over_time(f, by="agent"),
    "failure_families_chart": plot.failure_families_chart,
}


VARIANTS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "empty": lambda s: s.iloc[:0],
    "one_row": lambda s: s.iloc[:1],
    "all_failed": lambda s: s.assign(success=False, pending=False),
    "nan_cost": lambda s: s.assign(total_cost=s["total_cost"].where(s.index % 3 != 0)),
    "agent_all_na": lambda s: s.assign(agent=pd.Series(pd.NA, s.index, "string")),
    "error_all_na": lambda s: s.assign(error=pd.Series(pd.NA, s.index, "string")),
    "same_start": lambda s: s.assign(start_time=s["start_time"].iloc[0]),
    "half_without_start": lambda s: s.assign(start_time=s["start_time"].where(s.index % 2 == 0)),
    "zero_cpu": lambda s: s.assign(cpu_time=pd.Series(pd.Timedelta(0), s.index)),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", list(SESSION_HELPERS))
def test_session_helpers_survive_odd_frames(
    sessions: pd.DataFrame, name: str, variant: str
) -> None:
    frame = VARIANTS[variant](sessions)
    ax = _drawn(SESSION_HELPERS[name](frame))
    assert ax.get_title()


def test_odd_spans_and_logs_and_evals(spans: pd.DataFrame, logs: pd.DataFrame) -> None:
    for frame in (
        spans.iloc[:1],
        spans.assign(operation=pd.Series(pd.NA, spans.index, "string")),
        spans.assign(error="boom"),
        spans.assign(depth=pd.Series(pd.NA, spans.index, "Int64")),
    ):
        for helper in (plot.timeline, plot.operation_hotspots_chart):
            assert _drawn(helper(frame)).get_title()
    t0 = logs["timestamp"].iloc[0]
    for frame in (logs.iloc[:1], logs.assign(timestamp=t0), logs.iloc[:0]):
        assert _drawn(plot.log_severity_over_time(frame)).get_title()
    runs = sk.empty_frame("eval_runs")
    for ax in _all_axes(plot.eval_scores(runs)):
        assert "No data" in _texts(ax)
