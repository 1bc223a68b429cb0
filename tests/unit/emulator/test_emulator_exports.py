"""The emulator's public names: exactly these, each importable from the package."""

from __future__ import annotations

import sessionkit.emulator as emulator
from sessionkit.config import DEMO_KEY
from sessionkit.emulator import synth
from sessionkit.emulator.catalog import AGENTS, REGIONS, TRIGGERS
from sessionkit.emulator.dataset import Dataset
from sessionkit.emulator.generate import check_agent_names, generate, load_demo

EXPORTS = {
    "DEFAULT_KEY",
    "Dataset",
    "Emulator",
    "EmulatorProcess",
    "Faults",
    "generate",
    "load_demo",
    "run_emulator",
    "spawn_emulator_process",
}


def test_all_is_exactly_the_public_surface() -> None:
    assert set(emulator.__all__) == EXPORTS
    assert len(emulator.__all__) == len(EXPORTS)
    for name in EXPORTS:
        assert getattr(emulator, name) is not None


def test_the_demo_key_is_the_configs() -> None:
    assert emulator.DEFAULT_KEY == DEMO_KEY


def test_the_former_synth_path_names_the_same_objects() -> None:
    """``sessionkit.emulator.synth`` still imports (the CLI and older code use it) and every
    name there is the one object its owning module defines."""
    assert synth.Dataset is Dataset is emulator.Dataset
    assert synth.generate is generate is emulator.generate
    assert synth.load_demo is load_demo and synth.check_agent_names is check_agent_names
    assert synth.AGENTS is AGENTS and synth.REGIONS is REGIONS and synth.TRIGGERS is TRIGGERS
    assert set(synth.__all__) <= set(dir(synth))
