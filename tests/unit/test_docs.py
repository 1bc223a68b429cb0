"""The README states what the code does: the dtype table and the two commands."""

from __future__ import annotations

import re
from pathlib import Path

import sessionkit as sk
from sessionkit import schema

ROOT = Path(__file__).resolve().parents[2]


def test_readme_dtype_table_is_generated_from_the_schema() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- dtypes:start -->")[1].split("<!-- dtypes:end -->")[0]
    assert block.strip() == schema.markdown_table().strip(), "run: python -m sessionkit.schema"


def test_readme_quick_start_shows_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert re.search(r"^make demo\b", text, re.M) and re.search(r"^make test\b", text, re.M)


def test_public_surface_is_explicit_and_sorted() -> None:
    assert sk.__all__ == sorted(sk.__all__)
    for name in sk.__all__:
        assert hasattr(sk, name), name


def test_ci_runs_make_test() -> None:
    lines = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert "make test" in lines


def test_every_test_the_guarantees_name_exists() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Guarantees")[1].split("\n## ")[0]
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", section)
    assert len(named) >= 20
    missing = [
        f"{path}::{name}"
        for path, name in named
        if not re.search(rf"^(async )?def {name}\(", (ROOT / path).read_text(), re.M)
    ]
    assert missing == []
    classes = re.findall(r"the class `(\w+)` in `(tests/[\w/]+\.py)`", section)
    assert classes
    missing = [
        f"{path}::{name}"
        for name, path in classes
        if not re.search(rf"^class {name}\b", (ROOT / path).read_text(), re.M)
    ]
    assert missing == []


def test_every_test_file_the_readme_names_exists() -> None:
    text = (ROOT / "README.md").read_text()
    named = set(re.findall(r"\btests/[\w/]+\.py\b", text))
    assert len(named) >= 10
    assert sorted(path for path in named if not (ROOT / path).is_file()) == []
