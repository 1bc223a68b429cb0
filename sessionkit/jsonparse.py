"""JSON text <-> Python objects: orjson first, iterative code for very deep documents.

orjson (the fast path) refuses documents nested deeper than 1,024 levels. A session whose
timeline is 10,000 levels deep is unusual but legal, so :func:`loads` falls back to ijson's
event stream (yajl, C) and builds the objects with an explicit stack: no recursion, linear time
(100,000 levels: about 0.1 s). Everything else, including malformed JSON, takes the orjson
path and its error. :func:`dumps_text` is the same idea for the other direction (orjson
refuses to write more than 254 levels).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import ijson
import orjson

__all__ = [
    "EXACT_INT",
    "InvalidUTF8Error",
    "JSONDecodeError",
    "dumps_text",
    "loads",
    "repair_utf8",
]


class JSONDecodeError(ValueError):
    """The body is not JSON (raised by both the fast and the deep path)."""


_PY_BACKEND = ijson.get_backend("python")
_OPENERS = {"start_map": dict, "start_array": list}
_CLOSERS = frozenset({"end_map", "end_array"})


class InvalidUTF8Error(JSONDecodeError):
    """The body holds bytes that are not UTF-8 (see :func:`repair_utf8`)."""


def loads(body: bytes) -> Any:
    """Parse ``body`` (UTF-8 JSON) into dicts, lists, str, int, float, bool and ``None``.

    Beyond strict JSON it accepts what servers written in Python or JavaScript emit:
    ``NaN``/``Infinity`` literals (as floats) and integers past 64 bits, kept exact (orjson
    would turn them into floats silently: a body that may hold one, :func:`_may_hold_big_int`,
    is parsed by the standard library instead). Raises :class:`InvalidUTF8Error` for bytes
    that are not UTF-8 and :class:`JSONDecodeError` naming the problem when ``body`` is not
    one JSON value.
    """
    fast_error: Exception | None = None
    if not _may_hold_big_int(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            fast_error = exc
        if "depth limit" in str(fast_error) or "recursion" in str(fast_error):
            try:
                return _loads_iterative(body, ijson)
            except ijson.JSONError:  # yajl refuses integers past 64 bits: the Python backend not
                try:
                    return _loads_iterative(body, _PY_BACKEND)
                except ijson.JSONError as exc:
                    raise JSONDecodeError(
                        f"invalid JSON in a deeply nested document: {exc}"
                    ) from exc
    try:  # the lenient parser: NaN, Infinity, big integers
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise InvalidUTF8Error(f"the body is not UTF-8: {exc}") from exc
    except RecursionError:
        try:
            return _loads_iterative(body, _PY_BACKEND)
        except ijson.JSONError as exc:
            raise JSONDecodeError(f"invalid JSON in a deeply nested document: {exc}") from exc
    except ValueError as exc:
        raise JSONDecodeError(str(fast_error or exc)) from (fast_error or exc)


#: Every digit as ``0``, so a run of digits is a run of ``0`` bytes (a C-speed search).
_DIGITS = bytes.maketrans(b"0123456789", b"0" * 10)
#: A number of 19 or more digits where a JSON value starts: it may be past 64 bits.
_LONG_NUMBER = re.compile(rb"(?:^|[\[:,])\s*-?[0-9]{19}")


def _may_hold_big_int(body: bytes) -> bool:
    """Whether ``body`` may hold an integer orjson cannot keep exact (19 digits or more: past
    ``-2**63`` or ``2**64 - 1``). A run of 19 digits inside a string says yes too (the exact
    parser is then used for nothing); 1 ms a MB, a quarter of orjson's parse."""
    return b"0" * 19 in body.translate(_DIGITS) and _LONG_NUMBER.search(body) is not None


def repair_utf8(body: bytes) -> tuple[bytes, int]:
    """``body`` with every byte sequence that is not UTF-8 replaced by U+FFFD, and how many
    replacements were made."""
    text = body.decode("utf-8", "replace")
    return text.encode("utf-8"), text.count("\ufffd") - body.count("\ufffd".encode())


def _loads_iterative(body: bytes, backend: Any = ijson) -> Any:
    """Build the value of ``body`` from ijson's flat events with an explicit stack."""
    containers: list[Any] = []
    keys: list[str | None] = []
    done = False
    result: Any = None
    for event, value in backend.basic_parse(body, use_float=True):
        if done:
            raise JSONDecodeError("extra data after the JSON value")
        if event == "map_key":
            keys[-1] = value
            continue
        if event in _CLOSERS:
            finished = containers.pop()
            keys.pop()
            if not containers:
                result, done = finished, True
            continue
        item = _OPENERS[event]() if event in _OPENERS else value
        if containers:
            parent = containers[-1]
            if type(parent) is list:
                parent.append(item)
            else:
                parent[keys[-1]] = item
        if event in _OPENERS:
            containers.append(item)
            keys.append(None)
        elif not containers:
            result, done = item, True
    if not done:
        raise JSONDecodeError("the JSON value ends early")
    return result


#: Integers up to this magnitude are exact as a float64 (``2**53 + 1`` is not: it reads as
#: ``2**53``). Past it an integer is never mixed with fractions in a float column.
EXACT_INT = 2**53


def dumps_text(value: Any) -> str:
    """``value`` as compact JSON text that reads back to the same value: returns a ``str``.

    Integers are written exactly, whatever their size (``18446744073709551616``); a float is
    written as the shortest text that reads back to it, an integral one within
    ±:data:`EXACT_INT` as an integer (``1.0`` → ``1``: the same JSON number, so the text of a
    value does not depend on whether a column held it as a float); the non-finite floats as
    ``NaN``, ``Infinity`` and ``-Infinity`` (what :func:`loads` and ``json.loads`` read back;
    orjson would write ``null``). Strings are quoted (``"1"`` is not ``1``). However deeply
    nested (no recursion). Values JSON cannot express (sets, objects) are written as their
    ``repr`` in a string.
    """
    kind = type(value)
    if kind is str:
        return orjson.dumps(value).decode()
    if kind is int or kind is float or kind is bool or value is None:
        return _scalar_text(value)
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if type(item) is _Raw:
            out.append(item)
        elif isinstance(item, dict):
            out.append("{")
            stack.append(_Raw("}"))
            pairs = list(item.items())
            for k, (key, val) in enumerate(reversed(pairs)):
                stack.append(val)
                sep = "," if k < len(pairs) - 1 else ""
                stack.append(_Raw(sep + orjson.dumps(str(key)).decode() + ":"))
        elif isinstance(item, list | tuple):
            out.append("[")
            stack.append(_Raw("]"))
            for k, val in enumerate(reversed(item)):
                stack.append(val)
                if k < len(item) - 1:
                    stack.append(_Raw(","))
        else:
            out.append(_scalar_text(item))
    return "".join(out)


_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _scalar_text(item: Any) -> str:
    """One value that is not a container as JSON text (see :func:`dumps_text`)."""
    if item is None or item is True or item is False:
        return "null" if item is None else ("true" if item else "false")
    if isinstance(item, int):
        return str(int(item))
    if isinstance(item, float):
        if not math.isfinite(item):
            return "NaN" if math.isnan(item) else _NON_FINITE[item]
        if (
            item.is_integer()
            and abs(item) <= EXACT_INT
            and not (item == 0 and math.copysign(1, item) < 0)
        ):
            return str(int(item))
        return orjson.dumps(item).decode()
    try:
        return orjson.dumps(item).decode()
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(repr(item)).decode()


class _Raw(str):
    """Text already encoded (a bracket, comma or key) on :func:`dumps_text`'s stack."""
