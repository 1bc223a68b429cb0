"""Timelines: flattening hostile trees and drawing a large one.

Flattening (``sk.spans_frame``) a chain N levels deep and a root with N children, for growing
N: the time per node should stay flat (linear time, no recursion). Then the icicle chart of
one 10k-span session (``plot.timeline`` + a full canvas draw). Medians of ``--repeat`` runs.

    python benchmarks/bench_spans.py [--sizes 10000,100000,1000000] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, table, timed

import sessionkit as sk
from sessionkit import plot


def chain(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {"id": "n0", "operation": "root", "duration": float(depth)}
    node = root
    for i in range(1, depth):
        child: dict[str, Any] = {"id": f"n{i}", "operation": "op", "duration": float(depth - i)}
        node["children"] = [child]
        node = child
    return root


def wide(n: int) -> dict[str, Any]:
    kids = [{"id": f"c{i}", "operation": "op", "duration": 1.0} for i in range(n)]
    return {"id": "r", "operation": "root", "duration": float(n), "children": kids}


def random_tree(n: int, seed: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    nodes: list[dict[str, Any]] = [{"id": "0", "operation": "HTTP POST", "duration": 6e4}]
    for i in range(1, n):
        parent = nodes[int(rng.integers(max(0, i - 40), i))]
        node = {"id": str(i), "operation": "gen_ai.chat", "duration": float(rng.uniform(1, 500))}
        parent.setdefault("children", []).append(node)
        nodes.append(node)
    return nodes[0]


def draw(spans: object) -> None:
    ax = plot.timeline(spans)  # type: ignore[arg-type]
    ax.figure.canvas.draw()
    plt.close(ax.figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="sizes 1000,10000, one run")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeat = 1 if args.quick else args.repeat
    rows: list[tuple[str, ...]] = []
    for shape, build in (("chain (N levels deep)", chain), ("one root, N children", wide)):
        for n in sizes:
            tree = build(n)
            seconds, frame = timed(lambda tree=tree: sk.spans_frame([("s", tree)]), repeat=repeat)
            assert len(frame) == n + (shape.startswith("one root"))
            rows.append(
                (f"flatten a {shape}, N = {n:,}", f"{seconds:.3f} s", f"{seconds / n * 1e6:.2f} µs")
            )
    spans = sk.spans_frame([("big", random_tree(10_000))])
    seconds, _ = timed(lambda: draw(spans), repeat=repeat)
    rows.append(("timeline chart of one 10,000-span session, drawn", f"{seconds:.3f} s", "—"))
    print(f"Timelines, median of {repeat} — {machine()}")
    print(table(rows, ("what", "time", "per node")))
    print("Linear time: the per-node figure stays flat as N grows tenfold.")


if __name__ == "__main__":
    main()
