"""Shared pieces of the analysis helpers: group keys, time buckets, session outcomes, tests.

Group keys are turned into categoricals once (missing and empty values labelled ``"(none)"``)
so every ``groupby`` runs on integer codes; result frames carry the keys back as strings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

#: The label of a missing (or empty) group key.
NONE = "(none)"
#: The two-sided 95% normal quantile.
Z95 = 1.959963984540054
#: Output dtype of group-key columns.
KEY_DTYPE = pd.StringDtype()
TIMESTAMP = pd.DatetimeTZDtype(unit="ns", tz="UTC")
TIMEDELTA = np.dtype("timedelta64[ns]")

By = str | Sequence[str] | None


def key_names(by: By) -> list[str]:
    """``by`` as a list of column names (``None`` → ``[]``)."""
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


_PERIOD_ALIASES = {"MS": "M", "ME": "M", "QS": "Q", "QE": "Q", "YS": "Y", "YE": "Y", "AS": "Y"}


def bucket_start(times: pd.Series, freq: str) -> pd.Series:
    """The start (UTC) of the ``freq`` period holding each time: fixed frequencies ("h", "D")
    and calendar ones ("W", "MS") alike. Missing times stay missing."""
    try:
        return times.dt.floor(freq)
    except ValueError:  # non-fixed frequencies (weeks, months): through periods
        naive = times.dt.tz_convert("UTC").dt.tz_localize(None)
        period = _PERIOD_ALIASES.get(freq, freq)  # offset aliases ("MS", "QS") → period ones
        return naive.dt.to_period(period).dt.start_time.dt.tz_localize("UTC").astype(TIMESTAMP)


def get_column(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]``; an empty frame without that column gives an empty column (empty in,
    empty out), a non-empty one a :class:`KeyError` that says where such columns come from."""
    if name in frame.columns:
        return frame[name]
    if not len(frame):
        return pd.Series(index=frame.index, dtype=object, name=name)
    hint = " (the loaders add 'agent' to the sessions frame)" if name == "agent" else ""
    raise KeyError(f"no column {name!r} in the frame{hint}; columns: {list(frame.columns)}")


def group_key(values: pd.Series, name: str | None = None) -> pd.Series:
    """A categorical copy of ``values`` with every value as text, missing and ``""`` labelled
    :data:`NONE`, categories sorted. Factorises once, so it is fast on a million rows."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = pd.Index(uniques).astype(KEY_DTYPE).to_numpy(dtype=object, na_value=NONE)
    labels = np.append(np.where(text == "", NONE, text), NONE)
    label_codes, categories = pd.factorize(labels, sort=True)
    new_codes = label_codes[np.where(codes < 0, len(labels) - 1, codes)]
    return pd.Series(
        pd.Categorical.from_codes(new_codes, categories=pd.Index(categories, dtype=object)),
        index=values.index,
        name=name if name is not None else values.name,
    )


def group_keys(
    frame: pd.DataFrame, by: By, freq: str | None = None, *, time: str = "start_time"
) -> list[pd.Series]:
    """The group keys of ``frame``: one categorical per ``by`` column, plus ``bucket`` (the
    start of each row's ``freq`` period of ``time``) when ``freq`` is given."""
    keys = [group_key(get_column(frame, name), name) for name in key_names(by)]
    if freq:
        keys.append(bucket_start(frame[time], freq).rename("bucket"))
    return keys


def keys_as_text(table: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Turn categorical key columns of a result back into plain text columns (so callers can
    add labels such as "other" without category errors)."""
    for name in names:
        if name in table.columns:
            table[name] = table[name].astype(KEY_DTYPE)
    return table


def empty_keys(by: By, freq: str | None) -> dict[str, pd.Series]:
    """Empty key columns with the dtypes a non-empty result would have."""
    out = {name: pd.Series(dtype=KEY_DTYPE) for name in key_names(by)}
    if freq:
        out["bucket"] = pd.Series(dtype=TIMESTAMP)
    return out


def subset(
    frame: pd.DataFrame, mask: pd.Series | np.ndarray | None, columns: Sequence[str | None]
) -> pd.DataFrame:
    """The rows of ``mask`` and only ``columns`` (those present, each once): filtering a wide
    frame copies every column, so select first — at a million rows this is most of the time."""
    wanted = list(dict.fromkeys(c for c in columns if c is not None and c in frame.columns))
    narrow = frame[wanted]
    return narrow if mask is None else narrow[np.asarray(mask, dtype=bool)]


def grouped_sum(
    values: pd.DataFrame, keys: list[pd.Series], by: By, freq: str | None
) -> pd.DataFrame:
    """``values`` summed per key combination (observed combinations only), keys as columns;
    one row for the whole frame when there are no keys; no rows for an empty frame."""
    if not len(values):
        return pd.DataFrame(
            {
                **empty_keys(by, freq),
                **{c: pd.Series(dtype=values[c].dtype) for c in values.columns},
            }
        )
    if not keys:
        return values.sum().to_frame().T.astype(values.dtypes.to_dict())
    table = values.groupby(keys, observed=True, dropna=False, sort=True).sum().reset_index()
    return keys_as_text(table, key_names(by))


def two_sided_p(z: np.ndarray) -> np.ndarray:
    """Two-sided p-values of standard normal scores (``erfc(|z|/√2)``); NaN stays NaN."""
    flat = np.asarray(z, dtype="float64")
    return np.array(
        [math.erfc(abs(v) / math.sqrt(2)) if not math.isnan(v) else math.nan for v in flat.ravel()]
    ).reshape(flat.shape)


def quantile_name(q: float) -> str:
    """``0.5`` → ``"p50"``, ``0.999`` → ``"p99.9"``."""
    return f"p{q * 100:g}"
