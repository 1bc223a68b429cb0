"""Shared fixtures: emulators on loopback and clients pointed at them (real HTTP, no mocks)."""

from __future__ import annotations

import importlib
import os
import shlex
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

import sessionkit as sk
from sessionkit.emulator import Emulator, Faults

matplotlib.use("Agg")

CANARY_KEY = "sk_canary_9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def make_client(emu: Emulator, **options: object) -> sk.Client:
    """A client of ``emu`` with fast retries (tests must not sleep for long)."""
    defaults: dict[str, object] = {"timeout": 5.0, "max_retries": 12, "retry_budget": 60.0}
    defaults.update(options)
    return sk.Client(
        emu.key,
        base_url=emu.catalyst_url,
        logs_base_url=emu.api_url,
        region_urls=emu.region_urls,
        **defaults,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def demo_emu() -> Iterator[Emulator]:
    """The emulator serving the default demo dataset, no faults, frozen clock."""
    with Emulator(key=CANARY_KEY) as emu:
        yield emu


@pytest.fixture(scope="session")
def small_emu() -> Iterator[Emulator]:
    """A 700-session emulator whose faults tests may switch on (and must switch off)."""
    with Emulator(sessions=700, seed=11, key=CANARY_KEY) as emu:
        yield emu


@pytest.fixture
def faulty(small_emu: Emulator) -> Iterator[Emulator]:
    """``small_emu`` with its faults reset after the test."""
    yield small_emu
    small_emu.faults = Faults()


@pytest.fixture
def demo_client(demo_emu: Emulator) -> Iterator[sk.Client]:
    with make_client(demo_emu) as client:
        yield client


@pytest.fixture
def small_client(small_emu: Emulator) -> Iterator[sk.Client]:
    with make_client(small_emu) as client:
        yield client


def truth_frame(emu: Emulator) -> pd.DataFrame:
    """Every visible session as of the emulator's now, built by the pure records road."""
    ds = emu.dataset
    now = emu.now()
    visible = [i for i in range(len(ds)) if int(ds.columns["created_ns"][i]) <= now]
    frame = sk.sessions_frame(ds.render_sessions(visible, now))
    # the loaders' agent_id: each session's first stable (agent_...) id
    stable = [next((a for a in ids if a.startswith("agent_")), None) for ids in frame["agent_ids"]]
    frame.insert(
        frame.columns.get_loc("agent_ids") + 1,
        "agent_id",
        pd.Series(stable, dtype=sk.schema.STRING).astype("category"),
    )
    return frame


def empty_sessions_with_agent() -> pd.DataFrame:
    """An empty sessions frame with the ``agent`` column the loaders add (analysis and plot
    helpers must accept it)."""
    frame = sk.empty_frame("sessions")
    frame.insert(1, "agent", pd.Categorical([]))
    return frame


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` sorted by id with a fresh index (to compare frames whose order is not the point)."""
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


def compact(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as a load of just these rows gives it: only the categories its rows use, and
    no free-form (``metadata.*``) column without a value."""
    fixed = {c.name for c in sk.schema.SESSION_COLUMNS} | {"agent", "agent_id"}
    empty = [c for c in frame.columns if c not in fixed and frame[c].isna().all()]
    out = frame.drop(columns=empty)
    for name, dtype in out.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype) and name != "severity":
            out[name] = out[name].cat.remove_unused_categories()
    return out


def files_under(root: Path) -> Iterator[Path]:
    """Every file below ``root``, at any depth."""
    for dirpath, _, names in os.walk(root):
        for name in names:
            yield Path(dirpath) / name


@cache
def _demo_frame() -> pd.DataFrame:
    from sessionkit.emulator import load_demo

    ds = load_demo()
    frame = sk.sessions_frame(ds.render_sessions(range(len(ds)), ds.now_ns))
    agents = ds.meta.get("agents") or [
        a for i in range(len(ds)) for a in ds.detail(i, ds.now_ns)["agents"]
    ]
    names = {a["identifier"]: a["name"] for a in agents}
    frame.insert(
        17,
        "agent",
        pd.Categorical(
            [next((names[x] for x in ids if x in names), None) for ids in frame["agent_ids"]]
        ),
    )
    return frame


def demo_sessions() -> pd.DataFrame:
    """The demo dataset's sessions frame with ``agent`` (a fresh copy; built in process, no
    server), for the analysis and report tests."""
    return _demo_frame().copy()


@pytest.fixture(autouse=True)
def _keep_the_default_client() -> Iterator[None]:
    """A test that calls ``sk.connect`` (the live API with a fake key, say) must not leave its
    client as the loaders' default for the tests after it: the default is put back, and the
    test's own default closed."""
    connect = importlib.import_module("sessionkit.connect")  # the package's connect is a function
    before = connect._default
    yield
    with connect._lock:
        after, connect._default = connect._default, before
    if after is not None and after is not before:
        after.close()


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@contextmanager
def emulator_cli(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: object = None
) -> Iterator[list[str]]:
    """Run an emulator command line (``argv``, which should include ``--port 0``); yields its
    human output up to the "Ctrl-C" line, and stops it afterwards."""
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        text=True,
        cwd=cwd,  # type: ignore[arg-type]
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("Ctrl-C"):
            line = proc.stdout.readline()
            assert line, f"the emulator exited early: {lines}"
            lines.append(line)
        yield lines
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def parse_exports(lines: Sequence[str]) -> dict[str, str]:
    """The variables of every ``export A=x B=y`` line, parsed like a shell would."""
    out: dict[str, str] = {}
    for line in lines:
        words = shlex.split(line) if line.strip().startswith("export ") else []
        for word in words[1:]:
            name, _, value = word.partition("=")
            out[name] = value
    return out
