"""Progress bars (tqdm, notebook-aware) shared by the loaders and the store's sync."""

from __future__ import annotations

from typing import Any

__all__ = ["progress_bar"]


def progress_bar(total: int | None, desc: str, unit: str, progress: bool | None) -> Any:
    """A tqdm bar (notebook-aware): ``None`` shows it only after 1.5 s, ``False`` never."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=progress is False,
        delay=0 if progress else 1.5,
        leave=False,
    )
