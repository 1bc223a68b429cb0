"""Frame building: API pages → typed sessions frame, sessionkit vs what users write by hand.

Builds N session records as the list endpoint sends them (pages of 100, the emulator's
generator), then times, on the same bytes:

* **hand-written**: ``json.loads`` per page + ``pd.json_normalize`` + ``pd.to_datetime``
  (``format="ISO8601", utc=True``) + ``pd.to_timedelta`` for the ns fields;
* **sessionkit**: ``frames.sessions_table_from_pages`` in batches of 50 pages (as a walk does)
  + ``concat_tables`` + ``to_pandas`` (typed: categoricals, nullable ints/booleans, metadata
  expanded), plus the client's per-page envelope check (``client.envelope._fast_page_ids``: simdjson
  validates the page and reads its ids), which a walk pays;
* **floor**: ``pyarrow.json.read_json`` of the same pages, no typing at all.

    python benchmarks/bench_frames.py [--sessions 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import orjson
import pandas as pd
import pyarrow.json as pj

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, table, timed

from sessionkit import frames, schema
from sessionkit.client.envelope import _fast_page_ids
from sessionkit.emulator import generate

TIMESTAMPS = ("created_at", "updated_at", "start_time", "end_time", "deleted_at")


def make_pages(n: int) -> list[bytes]:
    ds = generate(n, seed=1)
    return [
        orjson.dumps(
            {"success": True, "data": ds.render_sessions(range(i, min(i + 100, n)), ds.now_ns)}
        )
        for i in range(0, n, 100)
    ]


def hand_written(pages: list[bytes]) -> pd.DataFrame:
    records: list[dict[str, object]] = []
    for page in pages:
        records.extend(json.loads(page)["data"])
    df = pd.json_normalize(records)
    for col in TIMESTAMPS:
        df[col] = pd.to_datetime(df[col], format="ISO8601", utc=True)
    for col in ("duration", "cpu_time"):
        df[col] = pd.to_timedelta(df[col], unit="ns")
    return df


def sessionkit_path(pages: list[bytes]) -> pd.DataFrame:
    with frames.gc_paused():  # as load_sessions does during a walk
        return _sessionkit_path(pages)


def _sessionkit_path(pages: list[bytes]) -> pd.DataFrame:
    tables = []
    for i in range(0, len(pages), 50):
        batch = pages[i : i + 50]
        for page in batch:  # the client's envelope check, paid per page during a walk
            _fast_page_ids(page)
        tables.append(frames.sessions_table_from_pages(batch))
    return frames.to_pandas(
        frames.concat_tables(tables, schema.SESSION_COLUMNS), schema.SESSION_COLUMNS
    )


def arrow_floor(pages: list[bytes]) -> object:
    return pj.read_json(
        io.BytesIO(b"\n".join(pages)), read_options=pj.ReadOptions(block_size=1 << 22)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pages = make_pages(args.sessions)
    size = sum(map(len, pages))
    # each result is measured then dropped, so no path pays for another's live objects in GC
    t_hand, hand = timed(lambda: hand_written(pages), repeat=args.repeat)
    mem_hand, n_hand = hand.memory_usage(deep=True).sum(), len(hand)
    del hand
    t_sk, typed = timed(lambda: sessionkit_path(pages), repeat=args.repeat)
    mem_typed, n_typed = typed.memory_usage(deep=True).sum(), len(typed)
    del typed
    t_floor, _ = timed(lambda: arrow_floor(pages), repeat=args.repeat)
    assert n_typed == n_hand == args.sessions
    print(
        f"Frame building, {args.sessions:,} sessions in {len(pages):,} pages ({size / 2**20:,.0f} MiB of JSON), "
        f"median of {args.repeat} — {machine()}"
    )
    print(
        table(
            [
                (
                    "json.loads + json_normalize + to_datetime/to_timedelta",
                    f"{t_hand:.2f} s",
                    "1.0×",
                    f"{mem_hand / 2**20:,.0f} MiB",
                ),
                (
                    "sessionkit (typed, with envelope checks)",
                    f"{t_sk:.2f} s",
                    f"{t_hand / t_sk:.1f}× faster",
                    f"{mem_typed / 2**20:,.0f} MiB",
                ),
                (
                    "pyarrow.json.read_json alone (untyped floor)",
                    f"{t_floor:.2f} s",
                    f"{t_hand / t_floor:.1f}× faster",
                    "—",
                ),
            ],
            ("path", "time", "vs hand-written", "frame memory"),
        )
    )
    print(
        f"sessionkit / floor = {t_sk / t_floor:.2f}×; bytes per session: typed {mem_typed / n_typed:,.0f}, "
        f"hand-written {mem_hand / n_hand:,.0f}"
    )


if __name__ == "__main__":
    main()
