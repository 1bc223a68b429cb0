"""notebooks/04_filter_panel.ipynb in a real browser: Voilà serves it, headless Chromium clicks it.

The server is a Voilà subprocess on a free loopback port (demo data from the embedded emulator:
no AGENTUITY_SDK_KEY in its environment); Playwright drives Debian's Chromium
(``/usr/bin/chromium``, installed by ``make test-browser``; Playwright's own browser download
is never used). The count the panel shows after a click must equal what
:func:`sessionkit.filtering.filter_frame` gives on the same demo frame, loaded here in-process
the way the notebook loads it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect, sync_playwright

import sessionkit as sk
from sessionkit.filtering import filter_frame

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "04_filter_panel.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 60.0  # seconds until Voilà answers HTTP
RENDER_TIMEOUT_MS = 90_000  # page load + kernel start + notebook execution + widget rendering
UPDATE_TIMEOUT_MS = 30_000  # one click → kernel round trip → summary redrawn
SUMMARY = re.compile(r"^\s*([\d,]+) of ([\d,]+) sessions")
STDERR_OUTPUT = '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'
# The multi-selects of FilterPanel by label → filter_frame keyword.
SELECTS = {
    "Agent": "agents",
    "Trigger": "triggers",
    "Env": "envs",
    "Deploy": "deployments",
    "Status": "statuses",
}


@dataclass
class VoilaServer:
    url: str
    log: Path

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class PanelPage:
    page: Page
    server: VoilaServer
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def diagnostics(self) -> str:
        return (
            f"page errors: {self.page_errors}\nconsole errors: {self.console_errors}\n"
            f"voila log (tail):\n{self.server.log_tail()}"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM Voilà's process group (it shuts its kernels down), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's Chromium; "
            "`make test-browser` (or `make browser-deps`) installs it with apt-get.",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def voila_server(
    chromium_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VoilaServer]:
    """Voilà serving the filter-panel notebook on a free loopback port; killed afterwards."""
    home = tmp_path_factory.mktemp("voila")
    env = {k: v for k, v in os.environ.items() if k != "AGENTUITY_SDK_KEY"}
    env.update(
        MPLBACKEND="Agg",
        # Keep the user's Jupyter config, data (kernel specs) and IPython profile out of it:
        # the venv's own python3 kernel spec (ipykernel) is found under sys.prefix/share.
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
    )
    port = _free_port()
    log = home / "voila.log"
    cmd = [
        sys.executable,
        "-m",
        "voila",
        str(NOTEBOOK),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",  # fail rather than silently serve on another port
        "--show_tracebacks=True",  # keep stderr and tracebacks in the page, where we look
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = VoilaServer(url=f"http://127.0.0.1:{port}/", log=log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Voilà exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{server.url}voila/static/voila.js", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"Voilà did not answer within {SERVER_START_TIMEOUT:.0f} s:\n"
                    f"{server.log_tail()}"
                )
            time.sleep(0.25)
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def browser(
    chromium_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium_path),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1300, "height": 1600},
        )
        context.set_default_timeout(RENDER_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def panel_page(browser: BrowserContext, voila_server: VoilaServer) -> Iterator[PanelPage]:
    """A fresh page (and so a fresh kernel) with the notebook executed and its widgets drawn."""
    page = browser.new_page()
    panel = PanelPage(page=page, server=voila_server)
    page.on("pageerror", lambda exc: panel.page_errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: panel.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    try:
        page.goto(voila_server.url, wait_until="load", timeout=RENDER_TIMEOUT_MS)
        try:
            expect(summary_locator(page)).to_have_count(1, timeout=RENDER_TIMEOUT_MS)
        except AssertionError as exc:
            page.screenshot(path=str(voila_server.log.with_name("failed-render.png")))
            raise AssertionError(f"the panel did not render: {exc}\n{panel.diagnostics()}") from exc
        yield panel
    finally:
        page.close()


@pytest.fixture(scope="module")
def demo_sessions() -> pd.DataFrame:
    """The notebook's frame, loaded in-process the same way (demo forced: a key may be set here)."""
    client = sk.connect(demo=True)
    return sk.load_sessions(client, progress=False)


def summary_locator(page: Page) -> Locator:
    """The panel's summary HTML widget ("<b>N</b> of M sessions · cost ...")."""
    return page.locator(".widget-html .widget-html-content").filter(has_text=SUMMARY)


def select_of(page: Page, label: str) -> Locator:
    box = page.locator(".widget-select-multiple").filter(
        has=page.locator("label.widget-label", has_text=re.compile(rf"^{re.escape(label)}$"))
    )
    expect(box).to_have_count(1)
    return box.locator("select")


def selected(select: Locator) -> list[str]:
    return list(select.evaluate("s => Array.from(s.selectedOptions, o => o.value)"))


def shown_counts(page: Page) -> tuple[int, int]:
    """(matching, total) as the summary widget displays them."""
    match = SUMMARY.match(summary_locator(page).inner_text())
    assert match, summary_locator(page).inner_text()
    return int(match[1].replace(",", "")), int(match[2].replace(",", ""))


def page_criteria(page: Page) -> dict[str, list[str] | None]:
    """The multi-select choices shown in the page, as filter_frame keywords (none → None)."""
    return {kw: selected(select_of(page, label)) or None for label, kw in SELECTS.items()}


def expected_count(sessions: pd.DataFrame, **criteria: list[str] | None) -> int:
    return len(filter_frame(sessions, **criteria))


def wait_for_new_count(page: Page, before: str, timeout_ms: int = UPDATE_TIMEOUT_MS) -> int:
    """Wait until the summary text differs from ``before`` and then holds still; its count."""
    expect(summary_locator(page)).not_to_have_text(before, timeout=timeout_ms)
    last, stable_since = summary_locator(page).inner_text(), time.monotonic()
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() - stable_since < 1.0 and time.monotonic() < deadline:
        time.sleep(0.1)
        now = summary_locator(page).inner_text()
        if now != last:
            last, stable_since = now, time.monotonic()
    return shown_counts(page)[0]


def change_and_check(
    panel: PanelPage,
    sessions: pd.DataFrame,
    act: Callable[[], None],
    criteria: dict[str, list[str] | None],
) -> int:
    """Do ``act`` in the page; the count shown must move to filter_frame's for ``criteria``."""
    page = panel.page
    before_text = summary_locator(page).inner_text()
    before = shown_counts(page)[0]
    expected = expected_count(sessions, **criteria)
    assert expected != before, f"pick a change that moves the count (both {before})"
    act()
    assert page_criteria(page) == criteria, "the page's selections are not what was clicked"
    shown = wait_for_new_count(page, before_text)
    assert shown == expected, (
        f"panel shows {shown} sessions for {criteria}, filter_frame gives {expected}\n"
        f"{panel.diagnostics()}"
    )
    return shown


def test_the_panel_renders_with_its_widgets_and_no_errors(
    panel_page: PanelPage, demo_sessions: pd.DataFrame
) -> None:
    page = panel_page.page
    # The widget JavaScript ran: the views exist as DOM elements, not as text reprs.
    expect(page.locator(".widget-select-multiple")).to_have_count(len(SELECTS))
    assert page.locator(".jupyter-widgets").count() > 20
    assert page.locator(".widget-slider, .widget-hslider").count() >= 3
    for label in SELECTS:
        assert select_of(page, label).locator("option").count() > 0, label
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "There was an error when executing cell" not in body
    expect(page.locator(STDERR_OUTPUT)).to_have_count(0)
    expect(page.locator(".voila-error")).to_have_count(0)
    # The notebook narrowed the panel in code; the page shows that state and its count.
    criteria = page_criteria(page)
    assert criteria["agents"] and criteria["statuses"], criteria
    assert shown_counts(page) == (expected_count(demo_sessions, **criteria), len(demo_sessions))
    screenshot = os.environ.get("SESSIONKIT_SCREENSHOT")
    if screenshot:
        page.screenshot(path=screenshot, full_page=True)
    assert not panel_page.page_errors, panel_page.diagnostics()


def test_clicking_controls_updates_the_count_to_what_filter_frame_gives(
    panel_page: PanelPage, demo_sessions: pd.DataFrame
) -> None:
    page = panel_page.page
    criteria = page_criteria(page)

    # 1. A single status picked in the Status multi-select.
    status = select_of(page, "Status")
    new_status = next(s for s in ("succeeded", "failed") if [s] != criteria["statuses"])
    criteria = {**criteria, "statuses": [new_status]}
    change_and_check(
        panel_page, demo_sessions, lambda: status.select_option([new_status]), criteria
    )

    # 2. A plain mouse click on another agent's option (replaces the selection).
    agents = select_of(page, "Agent")
    options = [o for o in agents.locator("option").all_inner_texts() if [o] != criteria["agents"]]
    current = shown_counts(page)[0]
    agent = next(
        a
        for a in options
        if expected_count(demo_sessions, **{**criteria, "agents": [a]}) not in (0, current)
    )
    criteria = {**criteria, "agents": [agent]}
    change_and_check(
        panel_page,
        demo_sessions,
        lambda: agents.locator("option", has_text=re.compile(rf"^{re.escape(agent)}$")).click(),
        criteria,
    )

    # The top-sessions table followed the same filter.
    table = page.locator("table.dataframe").filter(has=page.locator("th", has_text="total_cost"))
    expect(table).to_have_count(1)
    rows = table.locator("tbody tr")
    assert rows.count() > 0
    for row in rows.all_inner_texts():
        assert agent in row and new_status in row, row
    assert not panel_page.page_errors, panel_page.diagnostics()


def test_a_chart_chosen_in_the_page_is_drawn_as_an_image_and_removed_with_none(
    panel_page: PanelPage,
) -> None:
    page = panel_page.page
    plot = page.locator(".widget-dropdown").filter(
        has=page.locator("label.widget-label", has_text=re.compile(r"^Plot$"))
    )
    expect(plot).to_have_count(1)
    images = page.locator('.jp-OutputArea-output img[src^="data:image/png"]')
    before = images.count()  # e.g. the inspector's timeline further down
    plot.locator("select").select_option("Cost by agent")
    expect(images).to_have_count(before + 1, timeout=UPDATE_TIMEOUT_MS)
    widths = images.evaluate_all("els => els.map(e => e.naturalWidth)")
    assert max(widths) >= 600, f"chart images are {widths} px wide"
    assert "<Figure size" not in page.locator("body").inner_text()  # no text repr of a figure
    plot.locator("select").select_option("(none)")
    expect(images).to_have_count(before, timeout=UPDATE_TIMEOUT_MS)
    assert not panel_page.page_errors, panel_page.diagnostics()
