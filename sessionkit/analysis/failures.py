"""Why did these sessions fail: error messages normalised into families.

:func:`error_template` masks the parts of a message that vary between occurrences of the same
failure (ids, numbers, quoted values, timestamps, URLs' variable parts, ...), so that
``failure_families`` can count "the same error" across sessions. It is called once per
*distinct* message (and cached), never once per row.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from ..status import failed
from ._common import (
    NONE,
    TIMESTAMP,
)

FAMILY_COLUMNS = [
    "template",
    "count",
    "share",
    "first_seen",
    "last_seen",
    "agents",
    "hosts",
    "example_ids",
    "example_error",
]
#: The template of a failed session that carries no error message.
NO_MESSAGE = "(no error message)"

_HEX = "0-9a-fA-F"
_ALNUM = "A-Za-z0-9"
_ID_PREFIXES = (
    "sess|session|agent|agentid|evalrun|eval|thrd|thread|deploy|deployment|route|call|req|"
    "request|run|org|proj|project|user|usr|doc|msg|chatcmpl|toolu|tool|job|task|trace|span|key|sk|pk|tok"
)
_URL = re.compile(r"\b(?:https?|wss?|ftp)://[^\s'\"`<>(){}\[\]]+")
_URL_PARTS = re.compile(
    r"^(?P<scheme>[a-z]+://)(?:[^@/?#]*@)?(?P<host>[^/?#:]*)(?P<port>:\d+)?(?P<path>[^?#]*)(?P<query>\?[^#]*)?"
)
_SEGMENT_ID = re.compile(
    rf"^(?:[{_HEX}]{{8}}-[{_HEX}]{{4}}-[{_HEX}]{{4}}-[{_HEX}]{{4}}-[{_HEX}]{{12}}"
    rf"|(?=[{_ALNUM}_-]*\d)[{_ALNUM}_-]{{16,}}"
    rf"|(?:{_ID_PREFIXES})[_-](?=[{_ALNUM}]*\d)[{_ALNUM}]{{4,}})$"
)
_SEGMENT_HEX = re.compile(rf"^(?=[{_HEX}]*\d)(?=[{_HEX}]*[a-fA-F])[{_HEX}]{{6,}}$")
_SEGMENT_NUM = re.compile(r"^[-+]?\d+(?:[.,]\d+)*$")
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"

# (needle, pattern, placeholder), applied in this order after URLs have been normalised; a
# pass runs only when its cheap needle is found (this triples the speed on typical messages)
_PASSES: tuple[tuple[re.Pattern[str], re.Pattern[str], str], ...] = tuple(
    (re.compile(needle), re.compile(pattern), placeholder)
    for needle, pattern, placeholder in (
        # emails before anything eats their parts
        ("@", r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "<email>"),
        # ISO 8601 / RFC 3339 timestamps and dates, then bare clock times
        (
            r"\d{4}-\d\d-",
            r"(?<![\w-])\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
            r"(?:\s?(?:Z|UTC|[+-]\d{2}:?\d{2}))?)?(?![\w-])",
            "<ts>",
        ),
        (r"\d:\d\d:", r"(?<![\w:.])\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?![\w:])", "<ts>"),
        # quoted values: whichever quote opens first wins, so nested quotes stay inside;
        # an apostrophe inside a word (can't, users') opens nothing
        (
            r"[\"\'`]",
            r"\"(?:[^\"\\]|\\.)*\"|(?<![\w'])'(?:[^'\\]|\\.)*'(?![\w])|`[^`]*`",
            "<str>",
        ),
        # UUIDs and prefixed ids (sess_…, agent_…, org-AbC123…)
        (
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-",
            rf"(?<![{_ALNUM}])[{_HEX}]{{8}}-[{_HEX}]{{4}}-[{_HEX}]{{4}}-[{_HEX}]{{4}}-[{_HEX}]{{12}}(?![{_ALNUM}])",
            "<id>",
        ),
        (
            r"[_-]",
            rf"(?<![{_ALNUM}])(?:{_ID_PREFIXES})[_-](?=[{_ALNUM}]*\d)[{_ALNUM}]{{4,}}(?![{_ALNUM}])",
            "<id>",
        ),
        # IP addresses (v4 with an optional port, v6 full or compressed)
        (r"\d\.\d+\.\d", rf"(?<![\w.]){_IPV4}(?![\w.]|\.\d)", "<ip>"),
        (
            r"[0-9a-fA-F]:[0-9a-fA-F]|::",
            rf"(?<![\w:])(?=[{_HEX}:]*\d)(?:[{_HEX}]{{1,4}}:){{2,7}}:?[{_HEX}]{{1,4}}(?![\w:])"
            rf"|(?<![\w:])(?=[{_HEX}:]*\d)[{_HEX}:]*::[{_HEX}:]*(?![\w:])",
            "<ip>",
        ),
        # hex: 0x literals and runs of 6+ hex digits with both a digit and a letter, then
        # long random tokens
        ("0x", rf"(?<![{_ALNUM}])0x[{_HEX}]+(?![{_ALNUM}])", "<hex>"),
        (
            r"\d[a-fA-F]|[a-fA-F]\d",
            rf"(?<![{_ALNUM}])(?=[{_HEX}]*\d)(?=[{_HEX}]*[a-fA-F])[{_HEX}]{{6,}}(?![{_ALNUM}])",
            "<hex>",
        ),
        (
            r"[_-]",
            rf"(?<![{_ALNUM}])[A-Za-z][{_ALNUM}]*[_-](?=[{_ALNUM}]*\d)(?=[{_ALNUM}]*[A-Za-z])[{_ALNUM}]{{16,}}(?![{_ALNUM}])",
            "<id>",
        ),
        (
            r"[A-Za-z0-9]{24}",
            rf"(?<![{_ALNUM}_-])(?=[{_ALNUM}]*\d)(?=[{_ALNUM}]*[A-Za-z])[{_ALNUM}]{{24,}}(?![{_ALNUM}_-])",
            "<id>",
        ),
        # numbers not glued to a word (gpt-4o, v2, claude-3-5-sonnet stay), with their unit
        (
            r"\d",
            r"(?<![\w.\-/])(?<!HTTP/)[-+]?\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?"
            r"(?:ms|us|µs|ns|s|sec|secs|m|min|mins|h|hr|hrs|d|x|%|[kKMGT]i?B|B|k|K|M|G)?(?![\w-])"
            r"|(?<=/)(?<!HTTP/)\d+(?:\.\d+)?(?![\w.-])",
            "<num>",
        ),
    )
)
_SPACE = re.compile(r"\s+")


def _mask_segment(segment: str) -> str:
    """One URL path segment, masked when it is an id, hex or number as a whole: in a path all
    three are the same thing — a variable resource id — and become ``<id>`` (so
    ``/records/99442986`` and ``/records/697ea0c8`` fall in one family)."""
    if not segment or segment.startswith("<"):
        return segment
    if _SEGMENT_ID.match(segment) or _SEGMENT_HEX.match(segment) or _SEGMENT_NUM.match(segment):
        return "<id>"
    return segment


#: What a URL's host becomes in a template (the hosts are listed in ``failure_families``).
HOST = "<host>"


def url_hosts(message: str) -> tuple[str, ...]:
    """The hosts (``host`` or ``host:port``, lower case) of the URLs in ``message``'s headline
    (the line :func:`error_template` reads), in order of appearance, without repeats."""
    hosts: dict[str, None] = {}
    for match in _URL.finditer(_headline(message)):
        parts = _URL_PARTS.match(match.group(0).rstrip(".,;:!?"))
        if parts is not None and parts["host"]:
            hosts[parts["host"].lower() + (parts["port"] or "")] = None
    return tuple(hosts)


def _mask_url(url: str) -> str:
    """Keep a URL's scheme and fixed path parts; the host (and port) become ``<host>`` — one
    failure against two hosts is one family, its hosts listed beside it — variable path parts
    (ids, hex, numbers) ``<id>``, query values ``<str>``; userinfo and fragment are dropped."""
    trail = ""
    while url and url[-1] in ".,;:!?":
        url, trail = url[:-1], url[-1] + trail
    parts = _URL_PARTS.match(url)
    if parts is None:  # pragma: no cover - the URL pattern guarantees a scheme
        return "<url>" + trail
    host = HOST if parts["host"] else ""
    path = "/".join(_mask_segment(seg) for seg in parts["path"].split("/"))
    query = parts["query"] or ""
    if query:
        pairs = [
            p.split("=", 1)[0] + ("=<str>" if "=" in p else "") for p in query[1:].split("&") if p
        ]
        query = "?" + "&".join(pairs)
    return f"{parts['scheme']}{host}{path}{query}{trail}"


def _headline(message: str) -> str:
    """The line of a message that names the error: the first non-empty one, or the last one of
    a Python traceback."""
    lines = [line for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].startswith("Traceback (most recent call last)") and len(lines) > 1:
        return lines[-1]
    return lines[0]


@lru_cache(maxsize=1 << 17)
def error_template(message: str) -> str:
    """The family template of an error message, a string.

    Takes the message's first non-empty line (the last line of a Python traceback) and masks
    what varies between occurrences: e-mails → ``<email>``, ISO timestamps and clock times →
    ``<ts>``, quoted values (``'…'``, ``"…"``, ```…```, nested quotes included) → ``<str>``,
    ids (``sess_``/``agent_``/``evalrun_``/``thrd_``/``deploy_``… + hex, UUIDs, ``org-AbC123``-like
    and long random tokens) → ``<id>``, IP addresses → ``<ip>``, hex strings → ``<hex>``, numbers
    with their unit (``42``, ``3.046s``, ``1523ms``, ``512MB``, ``10%``) → ``<num>``. URLs keep
    their scheme and fixed path parts; the host and port become ``<host>`` (see
    :func:`url_hosts`), variable path parts ``<id>`` and query values ``<str>``. Paths outside
    URLs are masked part by part. Numbers glued to a name (``gpt-4o``, ``claude-3-5-sonnet``,
    ``v2``) stay.
    Whitespace is collapsed.
    """
    text = _headline(message)
    urls: list[str] = []

    def keep_url(match: re.Match[str]) -> str:
        urls.append(_mask_url(match.group(0)))
        return f"\x00{chr(0xE000 + len(urls) - 1)}\x00"

    text = _URL.sub(keep_url, text)
    for needle, pattern, placeholder in _PASSES:
        if needle.search(text):
            text = pattern.sub(placeholder, text)
    text = _SPACE.sub(" ", text).strip()
    for i, url in enumerate(urls):
        text = text.replace(f"\x00{chr(0xE000 + i)}\x00", url)
    return text


def _empty_families() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "template": pd.Series(dtype="string"),
            "count": pd.Series(dtype="int64"),
            "share": pd.Series(dtype="float64"),
            "first_seen": pd.Series(dtype=TIMESTAMP),
            "last_seen": pd.Series(dtype=TIMESTAMP),
            "agents": pd.Series(dtype="object"),
            "hosts": pd.Series(dtype="object"),
            "example_ids": pd.Series(dtype="object"),
            "example_error": pd.Series(dtype="string"),
        }
    )


def failure_families(sessions: pd.DataFrame, *, top: int | None = None) -> pd.DataFrame:
    """Failed sessions grouped by the :func:`error_template` of their ``error``.

    Returns one row per family: ``template`` (failures without a message are
    ``"(no error message)"``), ``count`` (failed sessions), ``share`` (of all failed sessions,
    0..1), ``first_seen``/``last_seen`` (UTC start times), ``agents`` (sorted list of agent
    names, ``"(none)"`` for sessions without one), ``hosts`` (sorted list of the hosts the
    family's messages name in URLs, empty when none; templates show ``<host>``),
    ``example_ids`` (up to 3 session ids, most recent first) and ``example_error`` (the most recent raw message). Largest family first;
    ``top`` keeps that many.
    """
    mask = failed(sessions)
    if not mask.any():
        return _empty_families()
    columns = ["id", "start_time", "error"] + (["agent"] if "agent" in sessions.columns else [])
    data = sessions.loc[mask, columns]
    codes, uniques = pd.factorize(data["error"], use_na_sentinel=True)
    templates = np.array(
        [error_template(str(m)) or NO_MESSAGE for m in np.asarray(uniques, dtype=object)]
        + [NO_MESSAGE],
        dtype=object,
    )
    family_codes, family_names = pd.factorize(
        templates[np.where(codes < 0, len(templates) - 1, codes)]
    )
    agents = (
        data["agent"].astype("string").fillna(NONE).to_numpy(dtype=object)
        if "agent" in data.columns
        else np.full(len(data), NONE, dtype=object)
    )
    frame = pd.DataFrame(
        {
            "family": family_codes,
            "id": data["id"].astype("string").to_numpy(dtype=object),
            "start": data["start_time"].array,
            "agent": agents,
            "error": data["error"].to_numpy(dtype=object, na_value=None),
        }
    )
    hosts_of = [url_hosts(str(m)) for m in np.asarray(uniques, dtype=object)]
    family_hosts: dict[int, set[str]] = {}
    for family, code in zip(family_codes.tolist(), codes.tolist(), strict=True):
        family_hosts.setdefault(family, set()).update(hosts_of[code] if code >= 0 else ())
    grouped = frame.groupby("family", sort=True)
    recent = frame.sort_values("start", ascending=False, kind="stable", na_position="last")
    examples = (
        recent.groupby("family", sort=True).head(3).groupby("family", sort=True)["id"].agg(list)
    )
    pairs = frame[["family", "agent"]].drop_duplicates().sort_values(["family", "agent"])
    table = pd.DataFrame(
        {
            "template": pd.Series(np.asarray(family_names, dtype=object)).astype("string"),
            "count": grouped.size().astype("int64"),
            "first_seen": grouped["start"].min(),
            "last_seen": grouped["start"].max(),
            "agents": pairs.groupby("family", sort=True)["agent"].agg(list),
            "hosts": pd.Series({k: sorted(v) for k, v in family_hosts.items()}, dtype=object),
            "example_ids": examples,
            "example_error": recent.groupby("family", sort=True)["error"].first().astype("string"),
        }
    )
    table.insert(2, "share", table["count"] / len(frame))
    table = table.sort_values(
        ["count", "template"], ascending=[False, True], kind="stable", ignore_index=True
    )
    return table[FAMILY_COLUMNS].head(top) if top is not None else table[FAMILY_COLUMNS]
