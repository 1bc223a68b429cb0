"""A rendered report (:class:`Report`: its text and the tables behind it) and the one way it
reaches the disk: :meth:`Report.write`, atomic and private."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from ..durable import ensure_dir, write_text

#: The formats a report renders to: a self-contained HTML page, or Markdown for a ticket.
FORMATS = ("html", "markdown")


@dataclass(frozen=True, eq=False)
class Report:
    """A rendered report: its ``text`` (a whole HTML page or Markdown document, per ``fmt``),
    the ``tables`` it shows (every one whole, by name), ``incidents`` (the findings, as
    sentences, strongest first), ``findings`` (the
    :class:`~sessionkit.analysis.Findings` they come from) — and, once :meth:`write` returned
    it, the ``path`` of the main file and the ``csv_dir`` the tables were written to (None when
    not written)."""

    text: str
    fmt: str
    tables: dict[str, pd.DataFrame]
    incidents: list[str] = field(default_factory=list)
    findings: Any = None
    path: Path | None = None
    csv_dir: Path | None = None

    def write(
        self, path: str | os.PathLike[str], *, csv_dir: str | os.PathLike[str] | None = None
    ) -> Report:
        """Write :attr:`text` to ``path`` and, with ``csv_dir``, every table as
        ``<csv_dir>/<name>.csv``; returns this report with ``path`` and ``csv_dir`` set.

        Each file is written whole or not at all (:mod:`sessionkit.durable`: a temp file
        beside it, then :func:`os.replace`), readable by its owner only (0600); missing
        directories are created 0700. The CSV files come first, so the main file appears last. Raises
        :class:`OSError` when a file cannot be written (no temp file is left behind).
        """
        target = Path(path)
        written_csv = Path(csv_dir) if csv_dir is not None else None
        if written_csv is not None:
            ensure_dir(written_csv)
            for name, table in self.tables.items():
                write_text(written_csv / f"{name}.csv", table.to_csv(index=False))
        write_text(target, self.text)
        return dataclasses.replace(self, path=target, csv_dir=written_csv)

    def _repr_html_(self) -> str:
        items = (
            "".join(f"<li>{escape(s)}</li>" for s in self.incidents)
            or "<li>no finding above the threshold</li>"
        )
        where = (
            f"written to <code>{escape(str(self.path))}</code>"
            if self.path is not None
            else "not written yet (<code>.write(path)</code>)"
        )
        return (
            f"<p><b>sessionkit report</b> {where} ({len(self.tables)} tables). "
            f"Findings:</p><ul>{items}</ul>"
        )
