"""A faithful local emulator of the Agentuity Sessions API, with demo data and fault injection.

Layers: :mod:`.synth` + :mod:`.details` (the deterministic synthetic project),
:mod:`.httpd` (HTTP servers, query engine), :mod:`.chaos` (fault injection),
:mod:`.runner` (in-process and child-process runners); the command is :mod:`sessionkit.cli.emulator`.
"""

from .chaos import Faults
from .runner import DEFAULT_KEY, Emulator, EmulatorProcess, run_emulator, spawn_emulator_process
from .synth import Dataset, generate, load_demo

__all__ = [
    "DEFAULT_KEY",
    "Dataset",
    "Emulator",
    "EmulatorProcess",
    "Faults",
    "generate",
    "load_demo",
    "run_emulator",
    "spawn_emulator_process",
]
