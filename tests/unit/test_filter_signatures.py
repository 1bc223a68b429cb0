"""Every entry point that takes session filters declares them with the one keyword type of
``params`` (``FilterArgs``, or ``ScopeArgs`` for a sync), so editors and mypy see them, and
refuses an unknown one with a "did you mean" instead of a ``TypeError``."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

import sessionkit as sk
from sessionkit import params as P
from sessionkit import report
from sessionkit.errors import InvalidArgumentError

_NAMES = {"Store": sk.Store, "Client": sk.Client, "Report": report.Report}


@pytest.mark.parametrize(
    ("function", "kind"),
    [
        (sk.load_sessions, P.FilterArgs),
        (sk.Store.load_sessions, P.FilterArgs),
        (sk.Store.files, P.FilterArgs),
        (sk.Store.sync, P.ScopeArgs),
        (report.render_from_client, P.FilterArgs),
        (report.report_from_client, P.FilterArgs),
    ],
    ids=lambda x: getattr(x, "__qualname__", ""),
)
def test_filters_are_typed_with_the_one_keyword_type(function: object, kind: type) -> None:
    hints = typing.get_type_hints(function, None, _NAMES, include_extras=True)
    assert hints["filters"] == typing.Unpack[kind]


def test_a_store_load_with_a_misspelt_filter_suggests_the_right_one(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="did you mean 'trigger'"):
        sk.Store(tmp_path / "s").load_sessions(triger="cron")  # type: ignore[call-arg]


def test_a_sync_with_a_walk_filter_or_a_misspelt_one_is_refused_by_name(tmp_path: Path) -> None:
    store = sk.Store(tmp_path / "s")
    with pytest.raises(InvalidArgumentError, match=r"'sort'.*always walks sort='updated'"):
        store.sync(object(), sort="duration")  # type: ignore[arg-type, call-arg]
    with pytest.raises(InvalidArgumentError, match="did you mean 'deployment_id'"):
        store.sync(object(), deployment="d1")  # type: ignore[arg-type, call-arg]
