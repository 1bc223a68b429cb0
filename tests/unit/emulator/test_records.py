"""Column-wise wire JSON of list records: exactly what ``orjson.dumps`` of the dicts gives."""

from __future__ import annotations

import numpy as np
import orjson

from sessionkit.emulator.catalog import AGENTS, TRIGGERS
from sessionkit.emulator.records import (
    FIELDS,
    RECORD_TEMPLATE,
    json_items,
    metadata_json,
    render,
    table,
)


def test_json_items_are_each_values_own_encoding() -> None:
    values = [1, -2, 0.1, 1e-05, 123456789.125, True, False, None, "sess_ab", ""]
    assert json_items(values) == [orjson.dumps(v) for v in values]
    assert json_items([]) == []


def test_json_items_fall_back_when_a_value_holds_a_comma() -> None:
    values = ["a,b", 'quote " and \\ and \n', 3]
    assert json_items(values) == [orjson.dumps(v) for v in values]


def test_a_rendered_record_is_the_dicts_bytes() -> None:
    record = {name: f"v{k}" if k % 3 else k * 1.5 for k, name in enumerate(FIELDS)}
    record["error"] = 'ValidationError: 1 validation error\nfield "x"'
    columns = [[orjson.dumps(v)] for v in record.values()] + [[b',"region":"usw"']]
    (rendered,) = render(columns)
    assert rendered == orjson.dumps({**record, "region": "usw"})
    assert RECORD_TEMPLATE.count(b"%s") == len(FIELDS) + 1
    assert list(table(["a", None])) == [b'"a"', b"null"]


def _codes(**values: int) -> dict[str, np.ndarray]:
    base = dict(
        meta_kind=2, agent=0, trigger=TRIGGERS.index("api"), m_tier=1, m_channel=2,
        m_user=12, m_lang=3, m_pages=7, m_src=1, m_exp=0,
    )  # fmt: skip
    base.update(values)
    return {k: np.array([v], dtype=np.int16) for k, v in base.items()}


def test_metadata_by_profile_and_kind() -> None:
    (triage,) = metadata_json(_codes())
    assert triage is not None
    assert orjson.loads(triage) == {
        "customer_tier": "pro",
        "channel": "slack",
        "user_id": "u_00012",
        "language": "es",
    }
    doc = next(k for k, a in enumerate(AGENTS) if a.name == "doc-extractor")
    (extract,) = metadata_json(_codes(agent=doc, meta_kind=3, trigger=TRIGGERS.index("email")))
    assert extract == orjson.dumps(
        {
            "customer_tier": "pro",
            "channel": "email",  # the trigger's own channel wins over the drawn one
            "document_pages": 7,
            "source": {"kind": "docx", "bucket": "uploads"},
            "experiment": "prompt-v2",
        }
    )
    assert metadata_json(_codes(meta_kind=0)) == [None]
    assert metadata_json(_codes(meta_kind=1)) == [None]
