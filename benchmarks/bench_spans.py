"""Timelines: flattening span trees into the spans frame, the new build against the old one.

``sk.spans_frame`` (the vectorised build) and the former one-dict-per-span build (kept as the
tests' oracle, ``tests/unit/spans_reference.py``) flatten the same trees in the same run, and
each frame is checked equal to the other's. Per-span figures (wall time, and this process's
CPU time, steadier on a shared machine) and the speed-up of the new build, on four shapes of
N spans:

* **realistic**: the demo emulator's timelines (``sessionkit.emulator.generate``: sessions of
  5–31 spans, an agent run with key-value, vector, stream, HTTP and LLM calls and their
  runtime attributes), copied until N spans;
* **agentic, 10–200 spans a session**: sessions of 10 to 200 spans (uniform), nested agent
  runs and calls carrying the same attributes;
* **chain**: one session N levels deep; **wide**: one root with N - 1 children.

Every tree is handed over the way a loaded detail arrives: parsed from JSON text by orjson
(fresh objects in document order, each held by its parent's ``children`` only; a chain past
orjson's 254 levels is built in memory the same way). Medians of ``--repeat`` runs for the new
build; the old build runs once at N >= 100,000 (it takes about 15 µs a span). Then the icicle chart of one 10k-span session (``plot.timeline`` + a full
canvas draw).

    python benchmarks/bench_spans.py [--spans 1000000] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import orjson
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.unit.spans_reference
from _common import machine, table, timed

import sessionkit as sk
from sessionkit import plot
from sessionkit.emulator import generate
from tests.unit.spans_reference import reference_spans_frame

Timelines = list[tuple[str, Any]]


def _parsed(timelines: Timelines) -> Timelines:
    """The same trees as a parsed API answer holds them: fresh objects from JSON text."""
    roots = orjson.loads(orjson.dumps([root for _, root in timelines]))
    return [(sid, root) for (sid, _), root in zip(timelines, roots, strict=True)]


def _count(root: Any) -> int:
    stack, n = [root], 0
    while stack:
        node = stack.pop()
        n += 1
        stack.extend(node.get("children", ()))
    return n


def realistic(n: int) -> Timelines:
    """The demo emulator's timelines, copied (fresh ids) until ``n`` spans."""
    sessions = max(200, min(20_000, n // 8))
    dataset = generate(sessions)
    ids = dataset.columns["id"]
    base = [(str(ids[i]), dataset.timeline(i)) for i in range(len(ids))]
    text = orjson.dumps([root for _, root in base])
    out: Timelines = []
    total, copy = 0, 0
    while total < n:
        for (sid, _), root in zip(base, orjson.loads(text), strict=True):
            out.append((f"{sid}-{copy}", root))
            total += _count(root)
            if total >= n:
                break
        copy += 1
    return out


OPERATIONS: list[tuple[str, dict[str, Any]]] = [
    ("agentuity.keyvalue.get", {"name": "sessions", "key": "cust:41:profile"}),
    ("agentuity.vector.search", {"name": "knowledge", "key": "query-1f2e3d"}),
    ("agentuity.stream.get", {"name": "uploads", "key": "doc_77a1.pdf"}),
    (
        "HTTP GET",
        {
            "http.url": "https://search.example.org/q?id=9",
            "http.path": "/q",
            "http.method": "GET",
            "host": "search.example.org",
        },
    ),
    (
        "gen_ai.chat",
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1200,
            "gen_ai.usage.output_tokens": 310,
        },
    ),
]


def agentic(n: int, seed: int = 5) -> Timelines:
    """Sessions of 10–200 spans: a request, agent runs (nested up to 3 deep) and their calls."""
    rng = np.random.default_rng(seed)
    out: Timelines = []
    total = 0
    while total < n:
        size = int(rng.integers(10, 201))
        k = len(out)
        root: dict[str, Any] = {
            "id": f"{k:08x}00000000",
            "operation": "HTTP POST",
            "duration": float(rng.uniform(500, 60_000)),
            "attributes": {
                "http.method": "POST",
                "http.host": "agents.example.com",
                "http.path": "/api/agent",
            },
            "children": [],
        }
        runs = [root]
        for j in range(1, size):
            if j == 1 or rng.random() < 0.05:
                parent = runs[int(rng.integers(max(0, len(runs) - 3), len(runs)))]
                node: dict[str, Any] = {
                    "id": f"{k:08x}{j:08x}",
                    "operation": "agent.run",
                    "duration": float(rng.uniform(100, 30_000)),
                    "attributes": {
                        "@agentuity/agentId": f"agent_{k % 7:040x}",
                        "@agentuity/agentName": f"agent-{k % 7}",
                    },
                    "children": [],
                }
                runs.append(node)
            else:
                parent = runs[int(rng.integers(1, len(runs)))]
                operation, attributes = OPERATIONS[int(rng.integers(len(OPERATIONS)))]
                node = {
                    "id": f"{k:08x}{j:08x}",
                    "operation": operation,
                    "duration": round(float(rng.uniform(1, 2_000)), 3),
                    "attributes": dict(attributes),
                }
                if rng.random() < 0.02:
                    node["error"] = "UpstreamError: 503"
            parent["children"].append(node)
        out.append((f"sess_{k:032x}", root))
        total += size
    return _parsed(out)


def chain(depth: int) -> Timelines:
    root: dict[str, Any] = {"id": "n0", "operation": "root", "duration": float(depth)}
    node = root
    for i in range(1, depth):
        child: dict[str, Any] = {"id": f"n{i}", "operation": "op", "duration": float(depth - i)}
        node["children"] = [child]
        node = child
    return [("s", orjson.loads(orjson.dumps(root)) if depth < 250 else root)]


def wide(n: int) -> Timelines:
    kids = [{"id": f"c{i}", "operation": "op", "duration": 1.0} for i in range(n - 1)]
    return _parsed(
        [("s", {"id": "r", "operation": "root", "duration": float(n), "children": kids})]
    )


def random_tree(n: int, seed: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    nodes: list[dict[str, Any]] = [{"id": "0", "operation": "HTTP POST", "duration": 6e4}]
    for i in range(1, n):
        parent = nodes[int(rng.integers(max(0, i - 40), i))]
        node = {"id": str(i), "operation": "gen_ai.chat", "duration": float(rng.uniform(1, 500))}
        parent.setdefault("children", []).append(node)
        nodes.append(node)
    return nodes[0]


def draw(spans: pd.DataFrame) -> None:
    ax = plot.timeline(spans)
    ax.figure.canvas.draw()
    plt.close(ax.figure)


def _run(build: Callable[[], pd.DataFrame], repeat: int) -> tuple[float, float, pd.DataFrame]:
    """Median wall and CPU seconds (this process) of ``repeat`` runs, and the last frame. On
    a shared machine the CPU time is the steadier figure: waiting for a core is not in it."""
    walls, cpus = [], []
    frame = pd.DataFrame()
    for _ in range(repeat):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        frame = build()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=1_000_000, help="spans of each shape")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the new build")
    parser.add_argument("--quick", action="store_true", help="20,000 spans, one run each")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.spans
    repeat = 1 if args.quick else args.repeat
    shapes: list[tuple[str, Callable[[int], Timelines]]] = [
        ("realistic: the demo emulator's sessions (5–31 spans)", realistic),
        ("agentic: sessions of 10–200 spans", agentic),
        ("chain: one session N levels deep", chain),
        ("wide: one root, N - 1 children", wide),
    ]
    rows: list[tuple[str, ...]] = []
    for label, make in shapes:
        timelines = make(n)
        new_s, new_cpu, new = _run(lambda t=timelines: sk.spans_frame(t), repeat)
        ref_repeat = 1 if n >= 100_000 else repeat
        old_s, old_cpu, old = _run(lambda t=timelines: reference_spans_frame(t), ref_repeat)
        pd.testing.assert_frame_equal(new, old, check_exact=True)
        per = 1e6 / len(new)
        rows.append(
            (
                label,
                f"{len(new):,}",
                f"{old_s * per:.2f} µs ({old_cpu * per:.2f})",
                f"**{new_s * per:.2f} µs** ({new_cpu * per:.2f})",
                f"{old_s / new_s:.1f}× ({old_cpu / new_cpu:.1f}×)",
            )
        )
        del timelines, new, old
    spans_frame = sk.spans_frame([("big", random_tree(10_000))])
    seconds, _ = timed(lambda: draw(spans_frame), repeat=repeat)
    print(f"Timelines → spans frame, new build median of {repeat} — {machine()}")
    header = ("trees", "spans", "old build, per span", "new build, per span", "speed-up")
    print(table(rows, header))
    print(f"Timeline chart of one 10,000-span session, drawn: {seconds:.3f} s.")
    print(
        "Wall time per span, CPU time of this process in brackets (the steadier figure on a "
        "shared machine). Target: <= 2 µs per span at 1M spans. Each new frame equals the "
        "old build's (checked, dtypes included); the old build ran once at >= 100,000 spans."
    )


if __name__ == "__main__":
    main()
