"""Run every benchmark script in this folder, one after another, printing their tables.

    python benchmarks/run_all.py            # the scripts' defaults (1M-row sizes: ~15 min on 2 cores)
    python benchmarks/run_all.py --quick    # small sizes, a few minutes

This is the `make bench` entry point. Writing the combined table into the README is not automated
yet: the README's performance section is updated by hand from this output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = {
    "bench_emulator.py": ["--sessions", "20000"],
    "bench_frames.py": ["--sessions", "100000", "--repeat", "1"],
    "bench_walk.py": ["--sessions", "5000", "--memory-sessions", "100000"],
    "bench_plots.py": ["--sessions", "100000", "--repeat", "1"],
    "bench_panel.py": ["--sessions", "20000", "--repeat", "3"],
    "bench_store.py": ["--sessions", "20000", "--sql-rows", "1000000"],
}


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        args = QUICK.get(script.name, []) if quick else []
        print(f"\n## {script.name} {' '.join(args)}".rstrip(), flush=True)
        failed += subprocess.run([sys.executable, str(script), *args], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
