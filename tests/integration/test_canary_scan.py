"""Secrets: run everything a user runs with a canary key and scan every produced byte for it.

The emulators here are started with :data:`CANARY_KEY`, so every request really carries it.
Scanned: frames, ``repr``/``_repr_html_``, every log record at DEBUG level (sessionkit,
httpx, httpcore and the root logger, formatted with their tracebacks and as raw attributes),
warnings, progress bars and prints (the captured stdout/stderr file descriptors, which also
catch the emulator threads and child processes), exceptions (``str``, ``repr``, attributes,
``__cause__``/``__context__`` chains, ``traceback.format_exception``), every file a store sync,
a report and the CLI write (parquet both as bytes and decoded, metadata included), and an
executed notebook that really used the key. The canary is looked for verbatim, URL-encoded,
hex-encoded and base64-encoded (standard and URL-safe alphabets, at every byte alignment, so a
canary inside a longer base64 blob is found too). :func:`test_the_scanner_finds_what_it_must`
proves each scan can fail.
"""

from __future__ import annotations

import base64
import gc
import json
import logging
import os
import subprocess
import sys
import traceback
import urllib.parse
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import nbclient
import nbformat
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sessionkit as sk
from sessionkit.emulator import Emulator, Faults
from sessionkit.emulator.chaos import KINDS
from sessionkit.loaders import _details
from sessionkit.report import report_from_client
from tests.conftest import CANARY_KEY, make_client

ROOT = Path(__file__).resolve().parents[2]
OTHER_KEY = "sk_other_0123456789abcdef0123456789abcdef"
WRONG_KEY = "sk_wrong_fedcba9876543210fedcba9876543210"


# ---------------------------------------------------------------------------- the scanner


def _b64_cores(secret: bytes, encode: Any) -> list[bytes]:
    """The base64 characters fully determined by ``secret`` at each of the 3 byte alignments:
    whatever surrounds the secret in a longer blob, one of them appears in its encoding."""
    cores = []
    for k in range(3):
        text = encode(b"\0" * k + secret).rstrip(b"=")
        first = -(-8 * k // 6)  # first char whose 6 bits all come from the secret
        last = (8 * (k + len(secret)) - 6) // 6  # last such char
        cores.append(text[first : last + 1])
    return cores


def encodings(secret: str) -> dict[str, bytes]:
    """Every form of ``secret`` the scanner looks for, by name."""
    raw = secret.encode()
    forms = {
        "verbatim": raw,
        "url-encoded": urllib.parse.quote(secret, safe="").encode(),
        "percent-encoded (every byte)": "".join(f"%{b:02X}" for b in raw).encode(),
        "percent-encoded (every byte, lower)": "".join(f"%{b:02x}" for b in raw).encode(),
        "hex": raw.hex().encode(),
    }
    for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
        for k, core in enumerate(_b64_cores(raw, encode)):
            forms[f"{name} (alignment {k})"] = core
    return forms


class Scanner:
    """Collects every produced text/byte string, then reports which contain a secret."""

    def __init__(self, secrets: Iterable[str] = (CANARY_KEY,)) -> None:
        # (secret, form name) -> (needle, compare case-insensitively)
        self.forms = {
            (secret, name): (form.lower(), True)
            if name.startswith(("hex", "percent"))
            else (form, False)
            for secret in secrets
            for name, form in encodings(secret).items()
        }
        self.hits: list[str] = []
        self.scanned = 0

    def text(self, label: str, value: str | bytes) -> None:
        data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
        lowered = data.lower()
        self.scanned += 1
        for (secret, name), (needle, fold) in self.forms.items():
            if needle in (lowered if fold else data):
                self.hits.append(f"{label}: {secret[:12]}... {name}")

    def frame(self, label: str, frame: pd.DataFrame) -> None:
        self.text(f"{label} (csv)", frame.to_csv())
        self.text(f"{label} (repr)", repr(frame))
        self.text(f"{label} (html)", frame.to_html())
        self.text(f"{label} (attrs)", repr(frame.attrs))

    def exception(self, label: str, exc: BaseException) -> None:
        self.text(f"{label} (traceback)", "".join(traceback.format_exception(exc)))
        seen: set[int] = set()
        stack: list[BaseException | None] = [exc]
        while stack:
            e = stack.pop()
            if e is None or id(e) in seen:
                continue
            seen.add(id(e))
            name = f"{label} ({type(e).__name__})"
            self.text(f"{name} str", str(e))
            self.text(f"{name} repr", repr(e))
            self.text(f"{name} args", repr(e.args))
            self.text(f"{name} attributes", repr(getattr(e, "__dict__", {})))
            self.text(f"{name} notes", repr(getattr(e, "__notes__", [])))
            stack += [e.__cause__, e.__context__]

    def file(self, path: Path) -> None:
        self.text(f"file name {path}", str(path))
        self.text(f"file {path}", path.read_bytes())
        if path.suffix == ".parquet":
            self.parquet(path)
        if path.suffix in (".json", ".ipynb"):
            self.text(f"file {path} (decoded json)", repr(json.loads(path.read_bytes())))

    def parquet(self, path: Path) -> None:
        """The decoded content: every value, the schema with its metadata, the file metadata
        and the row groups' statistics (the raw bytes are compressed)."""
        label = f"parquet {path}"
        handle = pq.ParquetFile(path)
        meta = handle.metadata
        self.text(f"{label} schema", str(handle.schema_arrow))
        self.text(f"{label} schema metadata", repr(handle.schema_arrow.metadata))
        self.text(f"{label} file metadata", repr(meta.metadata) + repr(meta.to_dict()))
        for i in range(meta.num_row_groups):
            group = meta.row_group(i)
            for j in range(group.num_columns):
                stats = group.column(j).statistics
                if stats is not None and stats.has_min_max:
                    self.text(f"{label} stats", repr((stats.min, stats.max)))
        table = handle.read()
        for name in table.column_names:
            self.text(f"{label} column {name}", repr(table[name].to_pylist()))

    def tree(self, root: Path) -> int:
        """Scan every file under ``root`` (dot files and lock files included)."""
        count = 0
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.file(path)
                count += 1
        return count

    def assert_clean(self) -> None:
        assert self.scanned > 0, "nothing was scanned"
        assert not self.hits, "the key leaked:\n" + "\n".join(self.hits[:50])


# ---------------------------------------------------------------------------- capture helpers


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.names.add(record.name)
        self.texts.append(self.format(record))  # with the traceback when there is one
        self.texts.append(repr(record.__dict__))  # what a JSON log handler would dump


@pytest.fixture
def debug_logs() -> Iterator[_Records]:
    """Every log record of every logger at DEBUG, including sessionkit, httpx and httpcore."""
    handler = _Records()
    names = ("", "sessionkit", "httpx", "httpcore", "httpcore.http11", "httpcore.connection")
    previous = {name: logging.getLogger(name).level for name in names}
    root = logging.getLogger()
    root.addHandler(handler)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture(scope="module")
def usw_emu() -> Iterator[Emulator]:
    """The demo data behind the canary key, in the emulator's default single-region mode.

    A client configured only through environment variables (a notebook's ``sk.connect()``,
    the CLI) has no per-region URLs; the default emulator answers every session at its home
    URL, so no 421 ever needs following.
    """
    with Emulator(key=CANARY_KEY) as emu:
        yield emu


def _env_for(emu: Emulator, key: str = CANARY_KEY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTUITY_")}
    env.update(
        AGENTUITY_SDK_KEY=key,
        AGENTUITY_CATALYST_URL=emu.catalyst_url,
        AGENTUITY_API_URL=emu.api_url,
        MPLBACKEND="Agg",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


# ---------------------------------------------------------------------------- the scanner can fail


def test_the_scanner_finds_what_it_must(tmp_path: Path) -> None:
    raw = CANARY_KEY.encode()
    # every form, inside longer text, at every alignment
    for prefix in (b"", b"x", b"xy", b"xyz"):
        blob = prefix + b"Bearer " + raw + b" trailing bytes"
        for label, data in (
            ("verbatim", blob),
            ("base64", base64.b64encode(blob)),
            ("base64url", base64.urlsafe_b64encode(blob)),
            ("url", urllib.parse.quote(blob, safe="").encode()),
            ("hex", blob.hex().upper().encode()),
        ):
            scanner = Scanner()
            scanner.text(label, data)
            assert scanner.hits, f"missed the {label} canary after {prefix!r}"
    # every percent-encoded byte
    scanner = Scanner()
    scanner.text("percent", "".join(f"%{b:02x}" for b in raw))
    assert scanner.hits
    # the file walk, a dot file and a nested directory
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / ".lock").write_bytes(b"pid 1 " + raw)
    scanner = Scanner()
    assert scanner.tree(tmp_path) == 1 and scanner.hits
    # parquet: compressed bytes hide the value, the decoded scan finds it (data and metadata)
    for where in ("data", "schema metadata"):
        table = pa.table(
            {"x": ["a" * 50 + CANARY_KEY[::-1], CANARY_KEY if where == "data" else ""]}
        )
        if where == "schema metadata":
            table = table.replace_schema_metadata({"note": base64.b64encode(raw).decode()})
        path = tmp_path / f"{where.replace(' ', '_')}.parquet"
        pq.write_table(table, path, compression="zstd")
        scanner = Scanner()
        scanner.parquet(path)
        assert scanner.hits, f"missed the canary in the parquet {where}"
    # exceptions: a canary deep in the chain, and in an attribute only
    try:
        try:
            raise ValueError("inner " + CANARY_KEY)
        except ValueError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as outer:
        scanner = Scanner()
        scanner.exception("chain", outer)
        assert scanner.hits
    error = sk.APIError("clean message")
    error.fetched = None
    # SessionKitError scrubs text attributes as they are set: go round it, so the scanner's
    # own reach into attributes is what is tested
    object.__setattr__(error, "extra", CANARY_KEY)
    scanner = Scanner()
    scanner.exception("attribute", error)
    assert scanner.hits
    # and clean text stays clean
    scanner = Scanner()
    scanner.text("clean", "sk_canary_" + "0" * 32 + base64.b64encode(b"sk_canary_").decode())
    scanner.assert_clean()


# ---------------------------------------------------------------------------- in-process use


def test_everything_a_user_runs_in_process_leaks_no_key(
    demo_emu: Emulator,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    debug_logs: _Records,
) -> None:
    scanner = Scanner([CANARY_KEY, WRONG_KEY])
    _details.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = make_client(demo_emu, timeout=2.0)
        scanner.text("client repr", repr(client))
        scanner.text("client html", client._repr_html_())
        scanner.text("client str", str(client))
        scanner.text("client stats", repr(client.stats))

        sessions = sk.load_sessions(client, progress=True)
        scanner.frame("sessions", sessions)
        completed = sessions[sessions["pending"] == False]  # noqa: E712
        failed = completed[completed["success"] == False]  # noqa: E712
        ids = list(failed["id"].head(20)) + list(completed["id"].head(20))

        detail = sk.load_session(ids[0], client)
        scanner.text("detail repr", repr(detail))
        scanner.text("detail html", detail._repr_html_())
        for part in ("session", "agents", "eval_runs", "spans", "logs"):
            scanner.frame(f"detail.{part}", getattr(detail, part))
        scanner.text("detail route", repr(detail.route))

        details = sk.load_details(ids, client, progress=True)
        for part in ("sessions", "eval_runs", "spans", "agents", "routes"):
            scanner.frame(f"details.{part}", getattr(details, part))
        scanner.frame("logs", sk.load_logs(ids, client, progress=True))
        scanner.frame("eval runs", sk.load_eval_runs(ids, client, progress=True))
        scanner.frame("spans", sk.load_spans(ids, client, progress=True))
        scanner.frame("agents", sk.load_agents(ids, client, progress=True))

        # a store sync (every file under it) and the reports
        store = sk.Store(tmp_path / "store")
        result = store.sync(client, details="failed", logs=True, progress=True)
        scanner.text("sync result", f"{result!s} {result!r} {result.as_dict()!r}")
        scanner.text("store repr", repr(store) + store._repr_html_() + repr(store.info()))
        scanner.frame("store sessions", store.load_sessions())
        scanner.frame("store logs", store.load_logs())
        scanner.frame("store sql", store.sql("select * from sessions limit 50"))
        report = report_from_client(
            client, out=tmp_path / "report.html", csv_dir=tmp_path / "csv", details=40
        )
        scanner.text("report html repr", report._repr_html_())
        report_from_client(client, out=tmp_path / "report.md", fmt="markdown", details=40)

        # errors: every fault kind outlasting the retries, on a walk, a detail and logs
        try:
            for kind in KINDS:
                faults = Faults(retry_after=0.01, slow_seconds=0.5)
                setattr(faults, f"rate_{kind}", 1.0)
                demo_emu.faults = faults
                tired = make_client(demo_emu, timeout=0.2, max_retries=1, retry_budget=5)
                for what, call in (
                    ("walk", lambda c=tired: sk.load_sessions(c, progress=True)),
                    ("detail", lambda c=tired: sk.load_session(ids[1], c)),
                    ("logs", lambda c=tired: sk.load_logs(ids[:5], c, progress=True)),
                ):
                    with pytest.raises(sk.APIError) as info:
                        call()
                    scanner.exception(f"{kind} fault, {what}", info.value)
        finally:
            demo_emu.faults = Faults()

        # a 401: the canary sent to a server expecting another key, and a wrong key sent to
        # the canary's server
        with Emulator(sessions=30, seed=3, key=OTHER_KEY) as other:
            for client_key, emu in ((CANARY_KEY, other), (WRONG_KEY, demo_emu)):
                stranger = sk.Client(
                    client_key,
                    base_url=emu.catalyst_url,
                    logs_base_url=emu.api_url,
                    region_urls=emu.region_urls,
                )
                for what, call in (
                    ("walk", lambda c=stranger: sk.load_sessions(c, progress=True)),
                    ("detail", lambda c=stranger: sk.load_session(ids[2], c)),
                    ("logs", lambda c=stranger: sk.load_logs(ids[:3], c, progress=True)),
                ):
                    with pytest.raises(sk.AuthenticationError) as auth:
                        call()
                    scanner.exception(f"401 with {client_key[:9]}, {what}", auth.value)
        # configuration errors name the variables, not the value
        with pytest.raises(sk.ConfigurationError) as config:
            sk.Client(CANARY_KEY, base_url="http://example.com")
        scanner.exception("configuration error", config.value)

    for w in caught:
        scanner.text(f"warning {w.category.__name__}", f"{w.message!s} {w.filename}:{w.lineno}")
    files = scanner.tree(tmp_path)
    out, err = capfd.readouterr()
    scanner.text("stdout", out)
    scanner.text("stderr", err)
    for i, text in enumerate(debug_logs.texts):
        scanner.text(f"log record {i}", text)

    # the capture is real: these would be empty if a channel were not captured
    assert files >= 10 and any(p.suffix == ".parquet" for p in tmp_path.rglob("*"))
    assert (tmp_path / "store" / ".lock").exists() or any(tmp_path.rglob(".*"))
    assert "sessions" in err and "session details" in err, "no progress bar was captured"
    assert {"sessionkit", "httpx"} <= debug_logs.names, debug_logs.names
    assert any(n.startswith("httpcore") for n in debug_logs.names), debug_logs.names
    assert any("retrying GET" in t for t in debug_logs.texts)
    assert demo_emu.stats["unauthorized"] > 0
    scanner.assert_clean()


# ---------------------------------------------------------------------------- a notebook and the CLI


def test_an_executed_notebook_using_the_key_leaks_it_nowhere(
    usw_emu: Emulator, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    nb = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    before = usw_emu.stats.snapshot()
    runner = nbclient.NotebookClient(
        nb,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    runner.execute(env=_env_for(usw_emu))
    executed = tmp_path / "executed.ipynb"
    nbformat.write(nb, executed)

    after = usw_emu.stats.snapshot()
    text = executed.read_text()
    # the notebook really used the key against this emulator (not the demo fallback)
    assert after.get("requests", 0) - before.get("requests", 0) > 30
    assert after.get("unauthorized", 0) == before.get("unauthorized", 0)
    assert "no AGENTUITY_SDK_KEY set" not in text and "sessions, " in text
    assert "SessionDetail" in text or "Session sess_" in text

    scanner = Scanner()
    scanner.tree(tmp_path)
    out, err = capfd.readouterr()  # the kernel process inherits the captured descriptors
    scanner.text("stdout", out)
    scanner.text("stderr", err)
    scanner.assert_clean()


def test_the_cli_with_the_key_in_the_environment_leaks_it_nowhere(
    usw_emu: Emulator, tmp_path: Path
) -> None:
    scanner = Scanner()
    env = _env_for(usw_emu)
    runs = [
        ["sync", "--store", str(tmp_path / "store"), "--details", "failed", "--logs"],
        ["sync", "--store", str(tmp_path / "store")],  # the incremental one
        ["report", "--out", str(tmp_path / "report.html"), "--csv", str(tmp_path / "csv")],
        ["report", "--out", str(tmp_path / "report.md"), "--format", "markdown"],
    ]
    for argv in runs:
        done = subprocess.run(
            [sys.executable, "-m", "sessionkit.cli", *argv],
            env=env,
            capture_output=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        scanner.text(f"cli {argv[0]} stdout", done.stdout)
        scanner.text(f"cli {argv[0]} stderr", done.stderr)
    # a 401 from the CLI: the canary sent to a server that expects another key
    with Emulator(sessions=30, seed=3, key=OTHER_KEY) as other:
        done = subprocess.run(
            [sys.executable, "-m", "sessionkit.cli", "sync", "--store", str(tmp_path / "s2")],
            env=_env_for(other),
            capture_output=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1 and b"401" in done.stderr, done.stderr
    scanner.text("cli 401 stdout", done.stdout)
    scanner.text("cli 401 stderr", done.stderr)
    assert scanner.tree(tmp_path) >= 10
    scanner.assert_clean()


# ---------------------------------------------------------------------------- bugs


def test_a_region_redirect_never_sends_the_key_to_a_host_named_by_the_response() -> None:
    """Regression: ``Client.get_session`` followed a 421 to ``config.catalyst_url(region)``
    with the region taken unchecked from the ``x-agentuity-region`` header, so a header such as
    ``x.attacker.example/`` sent the Authorization header to ``catalyst-x.attacker.example``.
    Only the documented regions (or ``region_urls``) are followed."""
    hosts: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        hosts.append((request.url.host, request.headers.get("authorization")))
        if request.url.host == "127.0.0.1":
            return httpx.Response(
                421,
                json={"success": False, "message": "elsewhere"},
                headers={"x-agentuity-region": "x.attacker.example/"},
            )
        return httpx.Response(200, json={"success": True, "data": {"session": {"id": "x"}}})

    client = sk.Client(
        CANARY_KEY, base_url="http://127.0.0.1:1", transport=httpx.MockTransport(answer)
    )
    with pytest.raises(sk.WrongRegionError, match="neither a known region"):
        client.get_session("sess_" + "a" * 32)
    leaked = [host for host, auth in hosts if host != "127.0.0.1" and auth and CANARY_KEY in auth]
    assert not leaked, f"the key was sent to {leaked}"


def test_cached_details_are_never_served_to_another_client() -> None:
    """Regression (fixed in 206262b): the loaders' detail cache was keyed by ``id(client)``,
    and CPython reuses the id of a freed object, so a new Client with another key and another
    base URL was served a dead client's details without a request. Here a client with a
    WRONG key that lands on a freed client's id must get a 401, not data."""
    _details.clear()
    with (
        Emulator(sessions=100, seed=5, key=CANARY_KEY) as home,
        Emulator(sessions=100, seed=5, key=OTHER_KEY) as other,
    ):
        ids = list(sk.load_sessions(make_client(home), progress=False, agent_names=False)["id"])[:5]
        freed: set[int] = set()
        reused: sk.Client | None = None
        for _ in range(200):
            owner = make_client(home)
            sk.load_details(ids, owner, progress=False)
            freed.add(id(owner))
            owner.close()
            del owner
            gc.collect()
            stranger = sk.Client(
                WRONG_KEY,
                base_url=other.catalyst_url,
                logs_base_url=other.api_url,
                region_urls=other.region_urls,
            )
            if id(stranger) in freed:
                reused = stranger
                break
            stranger.close()
            del stranger
            gc.collect()
        if reused is None:
            pytest.skip("CPython did not reuse a client's id in 200 rounds")
        with pytest.raises(sk.AuthenticationError):
            sk.load_details(ids, reused, progress=False)
    _details.clear()


@pytest.mark.parametrize(
    "answer",
    [
        # the key echoed in the content type of a non-JSON answer
        lambda: httpx.Response(
            200, content=b"<html>", headers={"content-type": f"text/html; k={CANARY_KEY}"}
        ),
        # the key echoed as the region of a 421
        lambda: httpx.Response(
            421,
            json={"success": False, "message": "wrong"},
            headers={"x-agentuity-region": CANARY_KEY},
        ),
        # the key crossing the 200-character cut of a non-JSON error body, at every offset
        *[
            (lambda pad=pad: httpx.Response(502, content=("x" * pad + CANARY_KEY).encode()))
            for pad in range(170, 201, 3)
        ],
        # the key echoed in the code field of an error body
        lambda: httpx.Response(400, json={"success": False, "message": "bad", "code": CANARY_KEY}),
        # the key echoed encoded: the Authorization header as base64, URL-encoded, hex, a piece
        *[
            (lambda text=text: httpx.Response(401, json={"success": False, "message": text}))
            for text in (
                "got " + base64.b64encode(f"Authorization: Bearer {CANARY_KEY}".encode()).decode(),
                "got " + base64.urlsafe_b64encode(f"x{CANARY_KEY}".encode()).decode(),
                "got " + urllib.parse.quote(f"?key={CANARY_KEY}&", safe=""),
                "got " + CANARY_KEY.encode().hex(),
                "first part " + CANARY_KEY[: len(CANARY_KEY) // 2],
                "last part " + CANARY_KEY[-9:],
            )
        ],
    ],
)
def test_no_fragment_of_the_key_in_errors_built_from_echoed_answers(answer: Any) -> None:
    """Regressions found by an outside attacker: the content type, the 421 region and a cut
    non-JSON body reached the message unredacted (a fragment of the key when cut mid-key)."""
    client = sk.Client(
        CANARY_KEY,
        base_url="http://127.0.0.1:1",
        transport=httpx.MockTransport(lambda request: answer()),
        max_retries=1,
        retry_budget=1.0,
    )
    with pytest.raises(sk.SessionKitError) as info:
        client.get_session("sess_" + "a" * 32)
    shown = " ".join([str(info.value), repr(info.value), *map(str, vars(info.value).values())])
    for size in range(8, len(CANARY_KEY) + 1):
        for start in range(len(CANARY_KEY) - size + 1):
            assert CANARY_KEY[start : start + size] not in shown, (size, start)
    scanner = Scanner()
    scanner.text("the error", shown)
    assert not scanner.hits, scanner.hits


def _echoing_server(request: httpx.Request) -> httpx.Response:
    """A hostile server that puts the key into its data: as env, as a duration, as an agent
    name, as a log severity (upper case)."""
    sid = "sess_" + "0" * 32
    session = {
        "id": sid,
        "created_at": "2026-11-01T00:00:00Z",
        "updated_at": "2026-11-01T00:00:01Z",
        "start_time": "2026-11-01T00:00:00Z",
        "end_time": "2026-11-01T00:00:01Z",
        "duration": CANARY_KEY,
        "pending": False,
        "success": True,
        "env": "Bearer " + CANARY_KEY,
        "agent_ids": ["agent_" + "a" * 40],
    }
    if request.url.path == "/session":
        offset = int(request.url.params.get("offset", "0"))
        return httpx.Response(200, json={"success": True, "data": [] if offset else [session]})
    if request.url.path.startswith("/session/"):
        agents = [{"name": CANARY_KEY, "identifier": "agent_" + "a" * 40}]
        return httpx.Response(
            200, json={"success": True, "data": {"session": session, "agents": agents}}
        )
    line = {"timestamp": "2026-11-01T00:00:00Z", "severity": CANARY_KEY, "body": "x"}
    return httpx.Response(200, json={"success": True, "data": [line]})


def test_warnings_and_errors_quoting_server_data_never_hold_the_key() -> None:
    """Found by an outside attacker: the no-match warning (env values), UnknownAgentError
    (agent names), SchemaWarning/SchemaError (bad values) and the unknown-severity warning
    (upper-cased) quoted the key a server echoed into its data."""
    client = sk.Client(
        CANARY_KEY,
        base_url="http://127.0.0.1:1",
        logs_base_url="http://127.0.0.1:1",
        transport=httpx.MockTransport(_echoing_server),
    )
    shown: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sk.load_sessions(client, env="production", progress=False)
        sk.load_sessions(client, progress=False)
        sk.load_logs(["sess_" + "0" * 32], client, progress=False)
        for call in (
            lambda: sk.load_sessions(client, agent="nobody", progress=False),
            lambda: sk.load_sessions(client, progress=False, agent_names=False, strict=True),
        ):
            with pytest.raises(sk.SessionKitError) as info:
                call()
            shown += [str(info.value), repr(info.value), *map(repr, vars(info.value).values())]
    shown += [str(w.message) for w in caught]
    assert len(caught) >= 3
    scanner = Scanner()
    for text in shown:
        scanner.text("message", text)
        scanner.text("message (upper)", text.lower())
    assert not scanner.hits, scanner.hits
    assert any("***" in text for text in shown)
