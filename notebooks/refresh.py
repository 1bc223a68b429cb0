"""Re-execute the example notebooks and keep only the outputs nbval checks.

    .venv/bin/python notebooks/refresh.py [notebook.ipynb ...]

Every notebook is run top to bottom against the bundled emulator (AGENTUITY_SDK_KEY unset);
the outputs (and execution counts) of cells marked ``# NBVAL_CHECK_OUTPUT`` are stored (nbval
compares them under ``--nbval-lax``); every other cell is saved without output or count.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def refresh(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    env_key = os.environ.pop("AGENTUITY_SDK_KEY", None)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    finally:
        if env_key is not None:
            os.environ["AGENTUITY_SDK_KEY"] = env_key
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "NBVAL_CHECK_OUTPUT" not in cell.source:  # nbval needs the count only where it compares
            cell.execution_count = None
            cell.outputs = []
    nbformat.write(nb, path)
    print(f"refreshed {path.name}")


if __name__ == "__main__":
    targets = [Path(p) for p in sys.argv[1:]] or sorted(HERE.glob("*.ipynb"))
    for target in targets:
        refresh(target)
