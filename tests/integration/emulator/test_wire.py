"""The emulator on the wire, with plain httpx: filters, sorting, paging, auth, errors, faults."""

from __future__ import annotations

import email.utils
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from sessionkit.emulator import Emulator, Faults, generate
from sessionkit.emulator.catalog import parse_iso
from tests.conftest import emulator_cli, parse_exports

KEY = "sk_wire_test"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(generate(400, seed=21), key=KEY) as running:
        yield running


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emu.catalyst_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=5
    ) as client:
        yield client
    emu.faults = Faults()


def _records(emu: Emulator) -> pd.DataFrame:
    """The reference: every record as rendered, in a plain frame (no sessionkit frame code)."""
    ds = emu.dataset
    rows = ds.render_sessions(range(len(ds)), ds.now_ns)
    frame = pd.DataFrame(rows)
    for col in ("created_at", "updated_at", "start_time"):
        frame[col + "_ns"] = frame[col].map(parse_iso)
    frame["meta"] = [ds.metadata(i) for i in range(len(ds))]
    return frame


def _walk(
    http: httpx.Client, params: dict[str, Any], limit: int = 100, path: str = "/session"
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    offset = 0
    count_param = "count" if path.endswith("2025-03-17") else "limit"
    while True:
        r = http.get(path, params={**params, count_param: limit, "offset": offset})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["success"] is True and isinstance(body["data"], list)
        out += body["data"]
        if len(body["data"]) < limit:
            return out
        offset += limit


def _cases(ref: pd.DataFrame) -> list[tuple[dict[str, str], pd.Series]]:
    thread = ref["thread_id"].dropna().iloc[0]
    dep = ref["deployment_id"].iloc[5]
    ident = ref["agent_ids"].iloc[7][0]
    cut = sorted(ref["start_time_ns"])[len(ref) // 2]
    cut_text = ref.loc[ref["start_time_ns"] == cut, "start_time"].iloc[0]
    tier = next(m["customer_tier"] for m in ref["meta"] if m)
    return [
        ({"trigger": "api"}, ref["trigger"] == "api"),
        ({"env": "preview"}, ref["env"] == "preview"),
        ({"devmode": "true"}, ref["devmode"]),
        ({"devmode": "false"}, ~ref["devmode"]),
        ({"success": "true"}, ref["success"]),
        ({"success": "false"}, ~ref["success"]),
        ({"orgId": ref["org_id"].iloc[0]}, ref["org_id"] == ref["org_id"].iloc[0]),
        ({"projectId": ref["project_id"].iloc[0]}, ref["project_id"] == ref["project_id"].iloc[0]),
        ({"deploymentId": dep}, ref["deployment_id"] == dep),
        ({"threadId": thread}, ref["thread_id"] == thread),
        ({"agentIdentifier": ident}, ref["agent_ids"].map(lambda ids: ident in ids)),
        ({"startAfter": cut_text}, ref["start_time_ns"] > cut),
        ({"startBefore": cut_text}, ref["start_time_ns"] < cut),
        (
            {"metadata": json.dumps({"customer_tier": tier})},
            ref["meta"].map(lambda m: bool(m) and m.get("customer_tier") == tier),
        ),
    ]


def test_every_filter_against_a_reference(emu: Emulator, http: httpx.Client) -> None:
    ref = _records(emu)
    for params, mask in _cases(ref):
        got = {r["id"] for r in _walk(http, params)}
        want = set(ref.loc[mask.astype(bool), "id"])
        assert got == want, params
        assert 0 < len(want) < len(ref) or "orgId" in params, f"{params} is a weak case"
    assert _walk(http, {"orgId": "org_nobody"}) == []


@pytest.mark.parametrize("sort", ["created", "updated", "duration", "startTime"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("limit", [7, 100])
def test_sort_direction_and_paging(
    emu: Emulator, http: httpx.Client, sort: str, direction: str, limit: int
) -> None:
    rows = _walk(http, {"sort": sort, "direction": direction}, limit=limit)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == len(emu.dataset)
    key = {
        "created": lambda r: parse_iso(r["created_at"]),
        "updated": lambda r: parse_iso(r["updated_at"]),
        "duration": lambda r: -1 if r["duration"] is None else r["duration"],
        "startTime": lambda r: parse_iso(r["start_time"]),
    }[sort]
    expected = sorted(rows, key=lambda r: (key(r), r["id"]), reverse=direction == "desc")
    assert ids == [r["id"] for r in expected]


def test_one_row_pages_walk_everything_once(emu: Emulator, http: httpx.Client) -> None:
    ids = [r["id"] for r in _walk(http, {"direction": "asc"}, limit=1)]
    assert ids == [r["id"] for r in _walk(http, {"direction": "asc"}, limit=100)] and len(
        ids
    ) == len(emu.dataset)


def test_default_order_limit_clamp_and_old_path(emu: Emulator, http: httpx.Client) -> None:
    default = http.get("/session").json()["data"]
    assert len(default) == 10
    assert [parse_iso(r["created_at"]) for r in default] == sorted(
        (parse_iso(r["created_at"]) for r in default), reverse=True
    )
    assert len(http.get("/session", params={"limit": 500}).json()["data"]) == 100
    old = _walk(http, {}, limit=50, path="/session/2025-03-17")
    assert [r["id"] for r in old] == [r["id"] for r in _walk(http, {}, limit=50)]
    assert all("timeline" not in r for r in old)


def test_page_cap(emu: Emulator, http: httpx.Client) -> None:
    emu.faults = Faults(page_cap=13)
    assert len(http.get("/session", params={"limit": 100}).json()["data"]) == 13


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"trigger": "pigeon"}, "trigger"),
        ({"sort": "cost"}, "sort"),
        ({"direction": "up"}, "direction"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"startAfter": "yesterday"}, "startAfter"),
        ({"metadata": "{not json"}, "metadata"),
        ({"success": "maybe"}, "success"),
    ],
)
def test_validation_errors_name_the_parameter(
    http: httpx.Client, params: dict[str, str], name: str
) -> None:
    r = http.get("/session", params=params)
    body = r.json()
    assert r.status_code == 400 and body["success"] is False and body["code"] == "VALIDATION_ERROR"
    assert body["error"]["name"] == "ValidationError" and body["error"]["issues"][0]["path"] == [
        name
    ]
    assert name in body["message"]


def test_auth(emu: Emulator) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        r = httpx.get(emu.catalyst_url + "/session", headers=headers)
        assert r.status_code == 401 and r.json() == {
            "success": False,
            "message": "Unauthorized: missing or invalid API key",
            "code": "UNAUTHORIZED",
        }
        assert KEY not in r.text
    assert httpx.get(emu.api_url + "/cli/session/x/logs").status_code == 401


def test_detail_logs_404_and_region(emu: Emulator, http: httpx.Client) -> None:
    ds = emu.dataset
    home = next(
        i
        for i in range(len(ds))
        if ds.columns["region"][i] == "usw" and not ds.pending(i, ds.now_ns)
    )
    data = http.get(f"/session/{ds.columns['id'][home]}").json()["data"]
    assert set(data) == {"session", "agents", "eval_runs", "route"}
    assert (
        data["session"]["timeline"]["operation"] in ("HTTP POST", "cron.trigger") and data["agents"]
    )
    missing = "sess_" + "0" * 32
    r = http.get(f"/session/{missing}")
    assert r.status_code == 404 and missing in r.json()["message"] and r.json()["success"] is False
    logs = httpx.get(
        f"{emu.api_url}/cli/session/{ds.columns['id'][home]}/logs",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert logs.status_code == 200 and {"body", "severity", "timestamp"} <= set(
        logs.json()["data"][0]
    )
    assert (
        httpx.get(
            f"{emu.api_url}/cli/session/{missing}/logs", headers={"Authorization": f"Bearer {KEY}"}
        ).status_code
        == 404
    )
    assert http.get("/nowhere").status_code == 404


def test_single_region_by_default_every_region_url_answers_every_session(
    emu: Emulator, http: httpx.Client
) -> None:
    ds = emu.dataset
    assert not emu.routes_regions()
    done = [i for i in range(len(ds)) if not ds.pending(i, ds.now_ns)]
    away = [i for i in done if ds.columns["region"][i] != "usw"]
    assert away and {str(ds.columns["region"][i]) for i in away} == {"usc", "use"}
    for i in done:  # every session of the project at the home URL: no 421
        r = http.get(f"/session/{ds.columns['id'][i]}")
        assert r.status_code == 200 and "x-agentuity-region" not in r.headers, r.text
    for url in emu.region_urls.values():  # and at every other region URL too
        for i in away[:5] + done[:5]:
            r = httpx.get(
                f"{url}/session/{ds.columns['id'][i]}", headers={"Authorization": f"Bearer {KEY}"}
            )
            assert r.status_code == 200 and r.json()["data"]["session"]["id"] == ds.columns["id"][i]
    assert emu.stats["status_421"] == 0


def _assert_routes_by_region(emu: Emulator) -> None:
    ds = emu.dataset
    auth = {"Authorization": f"Bearer {emu.key}"}
    away = next(i for i in range(len(ds)) if ds.columns["region"][i] != "usw")
    home = next(i for i in range(len(ds)) if ds.columns["region"][i] == "usw")
    region = str(ds.columns["region"][away])
    sid = ds.columns["id"][away]
    r = httpx.get(f"{emu.catalyst_url}/session/{sid}", headers=auth)
    assert r.status_code == 421 and r.headers["x-agentuity-region"] == region
    assert r.json()["code"] == "WRONG_REGION" and region in r.json()["message"]
    assert httpx.get(f"{emu.region_urls[region]}/session/{sid}", headers=auth).status_code == 200
    home_id = ds.columns["id"][home]
    assert httpx.get(f"{emu.catalyst_url}/session/{home_id}", headers=auth).status_code == 200
    assert (
        httpx.get(f"{emu.region_urls[region]}/session/{home_id}", headers=auth).status_code == 421
    )


def test_multi_region_is_a_faults_knob(emu: Emulator, http: httpx.Client) -> None:
    emu.faults = Faults(multi_region=True)  # the http fixture resets it
    assert emu.routes_regions() and not emu.faults.active()  # routing, not an error kind
    _assert_routes_by_region(emu)
    emu.faults = Faults()
    ds = emu.dataset
    away = next(i for i in range(len(ds)) if ds.columns["region"][i] != "usw")
    assert http.get(f"/session/{ds.columns['id'][away]}").status_code == 200


def test_multi_region_constructor_option() -> None:
    with Emulator(generate(120, seed=4), key=KEY, multi_region=True) as multi:
        assert multi.routes_regions() and "multi_region=True" in repr(multi)
        _assert_routes_by_region(multi)
        multi.faults = Faults(rate_429=0.0)  # replacing the faults keeps the option
        _assert_routes_by_region(multi)


def _nodes(node: dict[str, Any], depth: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    yield node, depth
    for child in node.get("children") or ():
        yield from _nodes(child, depth + 1)


_RUNTIME_ROOT = {"http.method", "http.host", "http.user_agent", "http.path"}
_RUNTIME_AGENT_RUN = {
    "@agentuity/agentId",
    "@agentuity/agentInstanceId",
    "@agentuity/agentDescription",
    "@agentuity/agentName",
}
_RUNTIME_FETCH = {"http.url", "http.path", "http.method", "host"}


def test_timeline_spans_carry_the_runtime_attribute_names(
    emu: Emulator, http: httpx.Client
) -> None:
    """The spec's "Attributes the Agentuity runtime itself sets", on the wire: storage spans
    carry plain ``name``/``key``, fetch spans ``http.url``/``http.path``/``http.method``/``host``,
    ``agent.run`` the agent's id, instance, description, name and the session's thread."""
    ds = emu.dataset
    seen: dict[str, int] = {}
    threads = {"with": 0, "without": 0}
    for i in range(len(ds)):
        if ds.pending(i, ds.now_ns):
            continue
        data = http.get(f"/session/{ds.columns['id'][i]}").json()["data"]
        session, identifiers = data["session"], {a["name"]: a["identifier"] for a in data["agents"]}
        instances = set()
        for node, depth in _nodes(session["timeline"]):
            op, attrs = node["operation"], node["attributes"]
            kind = "root" if depth == 0 else op.split(".")[0] if "." in op else op
            seen[kind] = seen.get(kind, 0) + 1
            if depth == 0 and op == "HTTP POST":
                assert set(attrs) == _RUNTIME_ROOT and attrs["http.method"] == "POST", attrs
            elif op == "agent.run":
                assert set(attrs) - {"@agentuity/threadId"} == _RUNTIME_AGENT_RUN, attrs
                assert attrs["@agentuity/agentId"] == identifiers[attrs["@agentuity/agentName"]]
                assert attrs["@agentuity/agentDescription"]
                assert attrs["@agentuity/agentInstanceId"] not in instances
                instances.add(attrs["@agentuity/agentInstanceId"])
                assert attrs.get("@agentuity/threadId") == session["thread_id"]
                threads["with" if session["thread_id"] else "without"] += 1
            elif op.startswith("HTTP "):
                assert set(attrs) == _RUNTIME_FETCH, attrs
                url = httpx.URL(attrs["http.url"])
                assert (url.host, url.path) == (attrs["host"], attrs["http.path"])
                assert op == f"HTTP {attrs['http.method']}"
            elif op.startswith("agentuity."):
                assert set(attrs) == {"name", "key"} and all(attrs.values()), attrs
            elif op.startswith("gen_ai."):
                assert (
                    all(k.startswith("gen_ai.") for k in attrs) and "gen_ai.request.model" in attrs
                )
            else:
                assert op == "cron.trigger" and depth == 0, op
    for kind in ("root", "agent", "HTTP GET", "agentuity", "gen_ai"):
        assert seen.get(kind, 0) > 0, (kind, seen)
    assert threads["with"] and threads["without"], threads


def test_pending_sessions_render_as_pending(emu: Emulator, http: httpx.Client) -> None:
    rows = _walk(http, {})
    pending = [r for r in rows if r["pending"]]
    assert pending
    for r in pending:
        assert (
            r["end_time"] is None
            and r["duration"] is None
            and r["success"] is False
            and r["error"] is None
        )
        assert r["updated_at"] == r["start_time"] or parse_iso(r["updated_at"]) == parse_iso(
            r["start_time"]
        )
    assert not {r["id"] for r in pending} & {r["id"] for r in _walk(http, {"success": "true"})}


def _statuses(http: httpx.Client, n: int = 40) -> list[httpx.Response | Exception]:
    out: list[httpx.Response | Exception] = []
    for _ in range(n):
        try:
            out.append(http.get("/session", params={"limit": 5}))
        except httpx.HTTPError as exc:
            out.append(exc)
    return out


def test_fault_429_and_409_headers(emu: Emulator, http: httpx.Client) -> None:
    emu.faults = Faults(rate_429=1.0, retry_after=2)
    seen = _statuses(http, 10)
    assert all(isinstance(r, httpx.Response) and r.status_code == 429 for r in seen)
    values = [r.headers["Retry-After"] for r in seen if isinstance(r, httpx.Response)]
    assert any(v == "2" for v in values) and any(
        email.utils.parsedate_to_datetime(v) for v in values if v != "2"
    )
    emu.faults = Faults(rate_409=1.0, retry_after=3)
    r = http.get("/session")
    assert r.status_code == 409 and float(r.headers["X-RateLimit-Reset"]) > time.time() + 1
    assert r.headers["X-RateLimit-Retry-After"] == "3"


def test_fault_5xx_some_html(emu: Emulator, http: httpx.Client) -> None:
    emu.faults = Faults(rate_5xx=1.0)
    seen = [r for r in _statuses(http, 30) if isinstance(r, httpx.Response)]
    assert {r.status_code for r in seen} == {502, 503}
    assert any(
        r.headers["content-type"].startswith("text/html") and "<html>" in r.text for r in seen
    )
    assert any(r.headers["content-type"] == "application/json" for r in seen)


def test_fault_drop_truncate_false200_slow(emu: Emulator, http: httpx.Client) -> None:
    emu.faults = Faults(rate_drop=1.0)
    assert all(isinstance(r, httpx.RemoteProtocolError) for r in _statuses(http, 5))
    emu.faults = Faults(rate_truncate=1.0)
    assert all(isinstance(r, httpx.RemoteProtocolError) for r in _statuses(http, 5))
    emu.faults = Faults(rate_false200=1.0)
    r = http.get("/session")
    assert (
        r.status_code == 200
        and r.json()["success"] is False
        and r.json()["code"] == "INTERNAL_ERROR"
    )
    emu.faults = Faults(rate_slow=1.0, slow_seconds=1.5)
    with pytest.raises(httpx.ReadTimeout):
        http.get("/session", timeout=0.3)
    before = emu.stats["fault_slow"]
    emu.faults = Faults(latency=0.2)
    t0 = time.monotonic()
    assert http.get("/session").status_code == 200 and time.monotonic() - t0 >= 0.2
    assert before >= 1 and emu.stats["fault_drop"] >= 5 and emu.stats["fault_truncate"] >= 5


def test_fault_mix_is_reproducible() -> None:
    def run() -> list[str | None]:
        from sessionkit.emulator.chaos import FaultChooser

        chooser = FaultChooser(Faults.mix(0.5, seed=3))
        return [chooser.draw()[0] for _ in range(2000)]

    first = run()
    assert first == run() and 850 < sum(k is not None for k in first) < 1150
    assert set(first) - {None} == {"429", "409", "5xx", "drop", "truncate", "false200", "slow"}


def test_live_mode_changes_results_between_two_walks() -> None:
    with (
        Emulator(generate(300, seed=8, live_rate=20), key=KEY, live=20, clock_speed=30) as emu,
        httpx.Client(base_url=emu.catalyst_url, headers={"Authorization": f"Bearer {KEY}"}) as http,
    ):
        first = {r["id"]: r for r in _walk(http, {})}
        time.sleep(1.5)
        second = {r["id"]: r for r in _walk(http, {})}
    assert len(second) > len(first)
    changed = [s for s in first if first[s]["pending"] and not second[s]["pending"]]
    assert changed
    for s in changed:
        assert (
            second[s]["end_time"]
            and second[s]["duration"]
            and second[s]["updated_at"] != first[s]["updated_at"]
        )


def test_cli_starts_prints_and_serves() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sessionkit.emulator",
            "--port",
            "0",
            "--sessions",
            "50",
            "--json-ready",
            "--key",
            KEY,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        r = httpx.get(info["catalyst_url"] + "/session", headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 200 and len(r.json()["data"]) == 10
        assert set(info["region_urls"]) == {"usw", "usc", "use"} and info["multi_region"] is False
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


ROOT = Path(__file__).resolve().parents[3]


@contextmanager
def _cli(*args: str) -> Iterator[list[str]]:
    """``python -m sessionkit.emulator --port 0 ARGS``: its human output up to "Ctrl-C"."""
    argv = [sys.executable, "-m", "sessionkit.emulator", "--port", "0", *args]
    with emulator_cli(argv, env=_clean_env(), cwd=ROOT) as lines:
        yield lines


def _clean_env() -> dict[str, str]:
    """This process's environment without any Agentuity/sessionkit setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTUITY_", "SESSIONKIT_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


_exports = parse_exports


def test_cli_human_output() -> None:
    with _cli("--sessions", "20") as lines:
        text = "".join(lines)
        assert "sessions API (usw): http://127.0.0.1:" in text and "logs API:" in text
        assert "export AGENTUITY_CATALYST_URL=" in text and "sk_emulator_demo" in text
        assert "single-region" in text and "SESSIONKIT_REGION_URLS" not in text
        # the frozen data says where it lies in time (a new user's since='7d' found 2 days)
        assert "sessions started 2026-10-28 to 2026-11-27 12:00 UTC (the emulator's now)" in text
        assert "since='2026-11-20'" in text


_RECIPE_CHILD = """
import json
import sessionkit as sk
sessions = sk.load_sessions(progress=False)
done = sessions[~sessions["pending"].astype(bool)].head(40)
details = sk.load_details(done, progress=False)
logs = sk.load_logs(done.head(5), progress=False)
client = sk.Client()
print(json.dumps({
    "sessions": len(sessions), "ids": list(done["id"]),
    "detail_ids": list(details.sessions["id"]), "spans": len(details.spans), "logs": len(logs),
    "base_url": client.base_url, "region_urls": client.region_urls,
}))
"""


def test_cli_printed_recipe_is_all_a_fresh_client_needs() -> None:
    """Default (single-region) mode: the printed ``export`` line, and nothing else, lets a
    fresh process's ``sk.load_sessions()`` + ``sk.load_details`` read 40 sessions, some of
    them living outside the home region (which a multi-region emulator would answer 421)."""
    with _cli("--sessions", "90", "--seed", "13", "--key", KEY) as lines:
        exports = _exports(lines)
        assert set(exports) == {"AGENTUITY_CATALYST_URL", "AGENTUITY_API_URL", "AGENTUITY_SDK_KEY"}
        assert exports["AGENTUITY_SDK_KEY"] == KEY
        child = subprocess.run(
            [sys.executable, "-c", _RECIPE_CHILD],
            env={**_clean_env(), **exports, "MPLBACKEND": "Agg"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert child.returncode == 0, child.stderr
    got = json.loads(child.stdout.strip().splitlines()[-1])
    assert got["base_url"] == exports["AGENTUITY_CATALYST_URL"] and got["region_urls"] == {}
    assert got["sessions"] == 90 and len(got["ids"]) == 40
    assert got["detail_ids"] == got["ids"] and got["spans"] > 40 and got["logs"] > 0
    ds = generate(90, seed=13)  # the CLI's dataset, to know where each session lives
    regions = {str(ds.columns["region"][ds.position(s)]) for s in got["ids"]}
    assert regions - {"usw"}, "the 40 sessions include none from another region: a weak case"


def test_cli_multi_region_prints_the_region_urls() -> None:
    with _cli("--sessions", "60", "--seed", "13", "--key", KEY, "--multi-region") as lines:
        text = "".join(lines)
        assert "multi-region" in text
        printed = dict(re.findall(r"sessions API \((\w+)\): (http://\S+)", text))
        exports = _exports(lines)
        assert set(exports) == {
            "AGENTUITY_CATALYST_URL",
            "AGENTUITY_API_URL",
            "AGENTUITY_SDK_KEY",
            "SESSIONKIT_REGION_URLS",
        }
        pairs = [pair.split("=", 1) for pair in exports["SESSIONKIT_REGION_URLS"].split(",")]
        region_urls = dict(pairs)
        assert [r for r, _ in pairs] == ["usw", "usc", "use"] and region_urls == printed
        assert region_urls["usw"] == exports["AGENTUITY_CATALYST_URL"]
        ds = generate(60, seed=13)
        away = next(i for i in range(len(ds)) if ds.columns["region"][i] != "usw")
        region, sid = str(ds.columns["region"][away]), ds.columns["id"][away]
        auth = {"Authorization": f"Bearer {KEY}"}
        r = httpx.get(f"{exports['AGENTUITY_CATALYST_URL']}/session/{sid}", headers=auth)
        assert r.status_code == 421 and r.headers["x-agentuity-region"] == region
        assert httpx.get(f"{region_urls[region]}/session/{sid}", headers=auth).status_code == 200


def test_spawned_emulator_multi_region_by_option_or_faults() -> None:
    from sessionkit.emulator import spawn_emulator_process

    with spawn_emulator_process(sessions=40, seed=13, key=KEY, multi_region=True) as multi:
        assert "--multi-region" in multi.process.args  # type: ignore[operator]
        ds = generate(40, seed=13)
        away = next(i for i in range(len(ds)) if ds.columns["region"][i] != "usw")
        r = httpx.get(
            f"{multi.catalyst_url}/session/{ds.columns['id'][away]}",
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert r.status_code == 421
    with spawn_emulator_process(
        sessions=40, seed=13, key=KEY, faults=Faults(multi_region=True)
    ) as via_faults:
        r = httpx.get(
            f"{via_faults.catalyst_url}/session/{ds.columns['id'][away]}",
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert r.status_code == 421


def test_console_script_has_the_emulator_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from sessionkit.cli import build_parser

    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["emulator", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "--port",
        "--sessions",
        "--seed",
        "--latency",
        "--fault-rate",
        "--live",
        "--page-cap",
        "--multi-region",
        "--rate-429",
    ):
        assert flag in text


def test_spawned_emulator_gets_its_key_from_the_environment_not_argv() -> None:
    from sessionkit.emulator import spawn_emulator_process

    secret = "sk_spawn_canary_" + "5" * 16
    with spawn_emulator_process(sessions=30, key=secret) as emu:
        assert secret not in " ".join(emu.process.args)  # type: ignore[arg-type]
        r = httpx.get(emu.catalyst_url + "/session", headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 200 and emu.key == secret


_NAMES_CHILD = """
import json
import sessionkit as sk
sessions = sk.load_sessions(progress=False)
print(json.dumps(sorted(sessions["agent"].dropna().unique().tolist())))
"""


def test_cli_agent_names_serve_another_project() -> None:
    names = "intake-bot,invoice-parser,kb-searcher,voice-line,nightly-rollup"
    with _cli("--sessions", "120", "--seed", "3", "--agent-names", names) as lines:
        child = subprocess.run(
            [sys.executable, "-c", _NAMES_CHILD],
            env={**_clean_env(), **_exports(lines)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.strip().splitlines()[-1]) == sorted(names.split(","))


def test_cli_agent_names_refused_with_the_reason() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sessionkit.emulator", "--port", "0", "--agent-names", "a,b"],
        env=_clean_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "exactly 5 names" in proc.stderr
    assert "Traceback" not in proc.stderr
