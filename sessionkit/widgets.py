"""ipywidgets panels: :class:`FilterPanel` over a sessions frame and :class:`SessionInspector`.

The panels are thin wiring around pure functions: filtering is
:func:`sessionkit.filtering.filter_frame` (tested on its own); the panel observes its controls'
``value``, recomputes ``panel.filtered`` and redraws its summary, plot and table. Redraws are
debounced (``debounce`` seconds, default 0.15) so dragging a slider over 100k sessions stays
smooth; ``debounce=0`` updates synchronously (what the tests use).

ipywidgets is imported only when a panel is built, so ``import sessionkit`` works without it;
building a panel then raises an ImportError that says how to install it.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .display import MISSING, SEVERITY_COLOURS, UNKNOWN_SEVERITY, format_duration, readable
from .filtering import FilterIndex, filter_frame, summarise
from .loaders import SessionDetail, load_session
from .status import STATUSES, session_status

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

__all__ = ["FilterPanel", "SessionInspector"]

_DURATION_STOPS = [
    0.0,
    0.01,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2,
    5,
    10,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
    float("inf"),
]


def _widgets() -> Any:
    try:
        import ipywidgets
    except ImportError as exc:  # pragma: no cover - exercised in a venv without ipywidgets
        raise ImportError(
            "sessionkit's panels need ipywidgets: pip install 'ipywidgets>=8' "
            "(and, in JupyterLab < 4, the jupyterlab-widgets extension)."
        ) from exc
    return ipywidgets


PLOT_CHOICES: tuple[str, ...] = (
    "Cost over time",
    "Cost by agent",
    "Duration distribution",
    "Latency over time",
    "Success rate over time",
    "Failure families",
    "Tokens vs cost",
)


def _plot_module() -> Any:
    """``sessionkit.plot``, imported when a chart is first drawn (it pulls in matplotlib)."""
    return importlib.import_module("sessionkit.plot")


def _plots() -> dict[str, Callable[..., Any]]:
    """Plot helpers offered in the panel's dropdown (label → function of the sessions frame)."""
    plot = _plot_module()
    return {
        "Cost over time": plot.cost_over_time,
        "Cost by agent": plot.cost_breakdown,
        "Duration distribution": plot.duration_distribution,
        "Latency over time": plot.latency_over_time,
        "Success rate over time": plot.success_rate_over_time,
        "Failure families": plot.failure_families_chart,
        "Tokens vs cost": plot.tokens_vs_cost,
    }


def _options(series: pd.Series) -> list[str]:
    values = series.dropna()
    if isinstance(series.dtype, pd.CategoricalDtype):
        values = values.astype(str)
    return sorted({str(v) for v in values.unique()})


class FilterPanel:
    """An interactive filter over a sessions frame.

    ``panel.controls`` maps a name to its widget: ``days`` (a range of UTC days), ``agents``,
    ``triggers``, ``envs``, ``deployments``, ``statuses`` (multi-selects; nothing selected means
    all), ``devmode``, ``cost`` (USD range), ``duration`` (range), ``error_text``,
    ``metadata_key``/``metadata_value``, ``plot`` and ``sort_by``. ``panel.filtered`` is the
    current frame; ``panel.summary`` its headline numbers. Display the panel by leaving it last
    in a cell (or ``display(panel.widget)``).
    """

    def __init__(
        self,
        sessions: pd.DataFrame,
        *,
        debounce: float = 0.15,
        top: int = 15,
        plot: str = "Cost over time",
        client: Client | None = None,
    ) -> None:
        w = _widgets()
        self.sessions = sessions
        self.debounce = debounce
        self.top = top
        self._index = FilterIndex(sessions)
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self.filtered = sessions
        self.summary = summarise(sessions)
        self.controls: dict[str, Any] = self._build_controls(w, plot)
        self.summary_html = w.HTML()
        self.plot_output = w.Output()
        self.table_html = w.HTML()
        self.inspect_id = w.Dropdown(
            description="Session", options=[], layout=w.Layout(width="420px")
        )
        self.inspect_button = w.Button(description="Inspect", icon="search")
        self.inspector_output = w.Output()
        self.inspect_button.on_click(lambda _b: self.inspect(self.inspect_id.value))
        self._client = client
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.widget = self._layout(w)
        self.refresh()

    # ------------------------------------------------------------------ building

    def _build_controls(self, w: Any, plot: str) -> dict[str, Any]:
        s = self.sessions
        start = s["start_time"].dropna()
        days = (
            list(
                pd.date_range(
                    start.min().floor("D"), start.max().floor("D") + pd.Timedelta(days=1), freq="D"
                )
            )
            if len(start)
            else [pd.Timestamp("1970-01-01", tz="UTC"), pd.Timestamp("1970-01-02", tz="UTC")]
        )
        day_options = [(d.strftime("%Y-%m-%d"), d) for d in days]
        max_cost = float(s["total_cost"].max()) if s["total_cost"].notna().any() else 1.0
        stops = [(format_duration(x), x) for x in _DURATION_STOPS]
        layout = w.Layout(width="220px")
        return {
            "days": w.SelectionRangeSlider(
                options=day_options,
                index=(0, len(day_options) - 1),
                description="Days (UTC)",
                layout=w.Layout(width="520px"),
                continuous_update=False,
            ),
            "agents": w.SelectMultiple(
                options=_options(s["agent"]) if "agent" in s else [],
                description="Agent",
                rows=5,
                layout=layout,
            ),
            "triggers": w.SelectMultiple(
                options=_options(s["trigger"]), description="Trigger", rows=5, layout=layout
            ),
            "envs": w.SelectMultiple(
                options=_options(s["env"]), description="Env", rows=5, layout=layout
            ),
            "deployments": w.SelectMultiple(
                options=_options(s["deployment_id"]), description="Deploy", rows=5, layout=layout
            ),
            "statuses": w.SelectMultiple(
                options=list(STATUSES), description="Status", rows=3, layout=layout
            ),
            "devmode": w.Dropdown(
                options=[("any", None), ("devmode only", True), ("exclude devmode", False)],
                description="Devmode",
                layout=layout,
            ),
            "cost": w.FloatRangeSlider(
                min=0.0,
                max=max_cost,
                value=(0.0, max_cost),
                step=max_cost / 1000 or 0.001,
                description="Cost $",
                readout_format=".4f",
                continuous_update=False,
                layout=w.Layout(width="520px"),
            ),
            "duration": w.SelectionRangeSlider(
                options=stops,
                index=(0, len(stops) - 1),
                description="Duration",
                continuous_update=False,
                layout=w.Layout(width="520px"),
            ),
            "error_text": w.Text(
                description="Error has", placeholder="e.g. timeout", continuous_update=False
            ),
            "metadata_key": w.Dropdown(
                options=[("—", None)]
                + [
                    (c.removeprefix("metadata."), c) for c in s.columns if c.startswith("metadata.")
                ],
                description="Metadata",
            ),
            "metadata_value": w.Text(description="equals", continuous_update=False),
            "plot": w.Dropdown(options=["(none)", *PLOT_CHOICES], value=plot, description="Plot"),
            "sort_by": w.Dropdown(
                options=[
                    ("cost", "total_cost"),
                    ("duration", "duration"),
                    ("newest", "start_time"),
                ],
                description="Top by",
            ),
        }

    def _layout(self, w: Any) -> Any:
        c = self.controls
        filters = w.VBox(
            [
                c["days"],
                w.HBox([c["agents"], c["triggers"], c["envs"]]),
                w.HBox([c["deployments"], c["statuses"], w.VBox([c["devmode"], c["error_text"]])]),
                c["cost"],
                c["duration"],
                w.HBox([c["metadata_key"], c["metadata_value"]]),
            ]
        )
        results = w.VBox(
            [
                self.summary_html,
                c["plot"],
                self.plot_output,
                c["sort_by"],
                self.table_html,
                w.HBox([self.inspect_id, self.inspect_button]),
                self.inspector_output,
            ]
        )
        return w.VBox([filters, results])

    # ------------------------------------------------------------------ behaviour

    def criteria(self) -> dict[str, Any]:
        """The current control values as :func:`~sessionkit.filtering.filter_frame` arguments."""
        c = self.controls
        start, end = c["days"].value
        low_cost, high_cost = c["cost"].value
        low_s, high_s = c["duration"].value
        metadata = (
            {c["metadata_key"].value: c["metadata_value"].value}
            if c["metadata_key"].value and c["metadata_value"].value
            else None
        )
        full_cost = (c["cost"].min, c["cost"].max)
        options = c["days"].options
        # the whole range selected is no time filter: sessions without a start_time stay
        full_days = (start, end) == (options[0][1], options[-1][1])
        return {
            "start": None if full_days else start,
            "end": None if full_days else end + pd.Timedelta(days=1),
            "agents": c["agents"].value or None,
            "triggers": c["triggers"].value or None,
            "envs": c["envs"].value or None,
            "deployments": c["deployments"].value or None,
            "statuses": c["statuses"].value or None,
            "devmode": c["devmode"].value,
            "min_cost": None if (low_cost, high_cost) == full_cost else low_cost,
            "max_cost": None if (low_cost, high_cost) == full_cost else high_cost,
            "min_duration": None if low_s <= 0 else pd.Timedelta(seconds=low_s),
            "max_duration": None if high_s == float("inf") else pd.Timedelta(seconds=high_s),
            "error_text": c["error_text"].value or None,
            "metadata": metadata,
        }

    def _changed(self, _change: object) -> None:
        if self.debounce <= 0:
            self.refresh()
            return
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce, self.refresh)
            self._timer.daemon = True
            self._timer.start()

    def refresh(self) -> None:
        """Recompute ``filtered`` and ``summary`` and redraw the summary, plot and table."""
        self.filtered = filter_frame(self.sessions, index=self._index, **self.criteria())
        self.summary = summarise(self.filtered)
        self._draw_summary()
        self._draw_plot()
        self._draw_table()

    def _draw_summary(self) -> None:
        s = self.summary
        rate = "—" if np.isnan(s["failure_rate"]) else f"{s['failure_rate']:.1%}"
        self.summary_html.value = (
            f"<b>{s['sessions']:,}</b> of {len(self.sessions):,} sessions · "
            f"cost <b>${s['total_cost']:,.2f}</b> · failure rate <b>{rate}</b> "
            f"({s['failed']:,} of {s['completed']:,} completed)"
        )

    def _draw_plot(self) -> None:
        import matplotlib.pyplot as plt

        choice = self.controls["plot"].value
        if choice == "(none)":
            self.plot_output.clear_output()  # now: no new output will come to replace it
            return
        self.plot_output.clear_output(wait=True)
        with self.plot_output:
            fig, ax = plt.subplots(figsize=(9, 3.6))
            _plots()[choice](self.filtered, ax=ax)
            _show_png(fig)

    def top_sessions(self) -> pd.DataFrame:
        """The ``top`` sessions of the filtered frame by the chosen ``sort_by`` column."""
        key = self.controls["sort_by"].value
        frame = self.filtered.assign(status=session_status(self.filtered))
        columns = [
            c
            for c in ("id", "agent", "start_time", "status", "duration", "total_cost", "error")
            if c in frame
        ]
        return frame.sort_values(key, ascending=False, na_position="last")[columns].head(self.top)

    def _draw_table(self) -> None:
        top = self.top_sessions()
        shown = top.assign(error=top["error"].str.slice(0, 90)) if "error" in top else top
        self.table_html.value = readable(shown).to_html(index=False, na_rep=MISSING)
        self.inspect_id.options = list(top["id"])

    def inspect(
        self, session_id: str | None, client: Client | None = None
    ) -> SessionInspector | None:
        """Open the :class:`SessionInspector` of ``session_id`` below the table."""
        if not session_id:
            return None
        inspector = SessionInspector(session_id, client=client or self._client)
        self.inspector_output.clear_output(wait=True)
        with self.inspector_output:
            from IPython.display import display

            display(inspector.widget)
        return inspector

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


class SessionInspector:
    """One session: summary, timeline chart, logs (severity-coloured, filterable), evals, agents.

    Give it a :class:`~sessionkit.SessionDetail` or a session id (loaded with ``client``).
    ``inspector.controls["min_severity"]`` filters the logs; ``inspector.logs_shown`` is the
    current log frame.
    """

    def __init__(self, session: SessionDetail | str, *, client: Client | None = None) -> None:
        w = _widgets()
        self.detail: SessionDetail = (
            session if isinstance(session, SessionDetail) else load_session(session, client)
        )
        severities = (
            list(self.detail.logs["severity"].cat.categories)
            if len(self.detail.logs)
            else ["TRACE"]
        )
        self.controls = {
            "min_severity": w.Dropdown(
                options=severities, value=severities[0], description="Min level"
            ),
            "log_text": w.Text(description="Log has", continuous_update=False),
        }
        self.summary_html = w.HTML(self.detail._repr_html_())
        self.timeline_output = w.Output()
        self.logs_html = w.HTML()
        self.evals_html = w.HTML(
            self._table(self.detail.eval_runs, ["eval_id", "passed", "score", "reason", "error"])
        )
        self.agents_html = w.HTML(self._table(self.detail.agents, ["name", "identifier"]))
        for control in self.controls.values():
            control.observe(lambda _c: self._draw_logs(), names="value")
        self.logs_shown = self.detail.logs
        self._draw_timeline()
        self._draw_logs()
        tabs = w.Tab(
            children=[
                self.timeline_output,
                w.VBox([w.HBox(list(self.controls.values())), self.logs_html]),
                self.evals_html,
                self.agents_html,
            ]
        )
        for i, title in enumerate(("Timeline", "Logs", "Eval runs", "Agents")):
            tabs.set_title(i, title)
        self.widget = w.VBox([self.summary_html, tabs])

    @staticmethod
    def _table(frame: pd.DataFrame, columns: list[str]) -> str:
        if not len(frame):
            return "<i>none</i>"
        return readable(frame[[c for c in columns if c in frame]]).to_html(
            index=False, na_rep=MISSING
        )

    def _draw_timeline(self) -> None:
        import matplotlib.pyplot as plt

        plot = _plot_module()
        with self.timeline_output:
            fig, ax = plt.subplots(figsize=(10, 3.5))
            plot.timeline(self.detail.spans, ax=ax)
            _show_png(fig)

    def _draw_logs(self) -> None:
        logs = self.detail.logs
        if len(logs):
            logs = logs[logs["severity"] >= self.controls["min_severity"].value]
            text = self.controls["log_text"].value
            if text:
                logs = logs[logs["body"].str.contains(text, case=False, regex=False).fillna(False)]
        self.logs_shown = logs
        rows = "".join(
            f"<tr><td>{ts:%H:%M:%S.%f}</td><td style='color:{SEVERITY_COLOURS.get(str(sev), UNKNOWN_SEVERITY)};"
            f"font-weight:bold'>{escape(str(sev))}</td><td>{escape(str(body))}</td></tr>"
            for ts, sev, body in logs[["timestamp", "severity", "body"]].itertuples(index=False)
        )
        self.logs_html.value = (
            f"<table><tr><th>time (UTC)</th><th>level</th><th>message</th></tr>{rows}</table>"
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _show_png(fig: Any) -> None:
    """Display ``fig`` as a PNG image in the current output and close it.

    A PNG, not ``display(fig)``: the figure's own repr depends on the matplotlib backend (with
    Agg, e.g. under Voilà or nbval, it is the text ``<Figure size ...>``).
    """
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="png"))
