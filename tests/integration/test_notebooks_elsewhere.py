"""Every example notebook, run against a project that is not the demo.

The notebooks are committed for the demo; a user opens them on their own project through the
``AGENTUITY_*`` variables. Here they run (top to bottom, in a real kernel, over loopback HTTP)
against an emulator with another seed, another volume and five other agent names. They must
finish without an error, pick their subjects from the data (no demo name anywhere in what they
show) and print no warning a user would have to puzzle over.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from sessionkit.emulator import Emulator
from sessionkit.emulator.catalog import AGENTS

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
OTHER_NAMES = ("intake-bot", "invoice-parser", "kb-searcher", "voice-line", "nightly-rollup")


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[dict[str, str]]:
    """The ``AGENTUITY_*`` variables of a running emulator of someone else's project."""
    with Emulator(sessions=1500, seed=23, agent_names=OTHER_NAMES) as emu:
        yield {
            "AGENTUITY_CATALYST_URL": emu.catalyst_url,
            "AGENTUITY_API_URL": emu.api_url,
            "AGENTUITY_SDK_KEY": emu.key,
        }


def _shown(nb: nbformat.NotebookNode) -> list[tuple[int, str, str]]:
    """``(cell index, output kind, text)`` of everything the notebook shows."""
    out = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                out.append((index, output.name, output.text))
            elif output.output_type in ("execute_result", "display_data"):
                for mime in ("text/plain", "text/html", "text/markdown"):
                    if mime in output.data:
                        out.append((index, mime, output.data[mime]))
            elif output.output_type == "error":
                out.append((index, "error", f"{output.ename}: {output.evalue}"))
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_another_project(
    path: Path, elsewhere: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in elsewhere.items():
        monkeypatch.setenv(name, value)  # the kernel inherits the environment
    monkeypatch.delenv("SESSIONKIT_REGION_URLS", raising=False)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()  # raises CellExecutionError naming the cell on any error
    shown = _shown(nb)
    text = "\n".join(t for _i, _k, t in shown)
    assert any(name in text for name in OTHER_NAMES), "the notebook shows none of the agents"
    for profile in AGENTS:
        leaks = [i for i, _k, t in shown if profile.name in t]
        assert not leaks, f"cells {leaks} show the demo's agent {profile.name!r}"
    assert "bundled emulator" not in text  # it used the project it was pointed at
    warnings = [(i, t) for i, kind, t in shown if kind == "stderr" and "Warning" in t]
    assert not warnings, f"warnings shown: {warnings}"
    assert os.environ["AGENTUITY_SDK_KEY"] not in text
