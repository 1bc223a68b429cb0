"""A faithful local emulator of the Agentuity Sessions API, with demo data and fault injection.

Layers, each importing only the ones before it:

* :mod:`.catalog` — the fixed vocabulary: agent profiles, error families, models, triggers,
  regions, outbound hosts, stores, evals, deterministic ids, RFC 3339 time text;
* :mod:`.incidents` — planted incidents (what, where, when): the demo's, random ones from a
  seed, their per-session effects and ground truth;
* :mod:`.texts` — one session's text: error messages, timelines, eval runs, logs;
* :mod:`.draw` — the vectorised numeric columns of drawn sessions;
* :mod:`.records` — list records' wire JSON, encoded a column at a time; the metadata rule;
* :mod:`.dataset` — :class:`Dataset`: the columnar truth, wire rendering, live growth;
* :mod:`.generate` — drawing a project: :func:`generate`, :func:`load_demo`;
* :mod:`.chaos` (fault injection, standalone), :mod:`.httpd` (HTTP servers, query engine),
  :mod:`.runner` (in-process and child-process runners); the command is
  :mod:`sessionkit.cli.emulator` (it imports the emulator; nothing here imports it).

:mod:`.synth` is the former home of the generator, kept as an import path (re-exports only).
The emulator imports nothing of the client side of sessionkit (it is the independent oracle
the client is tested against); its one import from the rest of sessionkit is
``sessionkit.config.DEMO_KEY``.
"""

from .chaos import Faults
from .dataset import Dataset
from .generate import generate, load_demo
from .runner import DEFAULT_KEY, Emulator, EmulatorProcess, run_emulator, spawn_emulator_process

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
