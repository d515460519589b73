"""Browser-test harness: the real app in a subprocess on a free port over a generated data set, and a
headless Debian Chromium driven by Playwright (never a downloaded browser).

Every test in this folder gets the ``browser`` marker. A failing test leaves a screenshot in
``<pytest tmp>/browser-failures/`` (the path is printed in the failure report) and the server log.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.dashboard import track_callbacks

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1440, "height": 900}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(data_dir: Path, log_path: Path, *, env: dict[str, str] | None = None, name: str = "the app",
                start_timeout_s: float = 90, poll_s: float = 0.3, health_timeout_s: float = 2,
                stop_timeout_s: float = 10) -> Iterator[str]:
    """``python app.py`` on a free 127.0.0.1 port over ``data_dir`` (plus ``env``), logging to ``log_path``;
    yields its URL once ``/health`` answers 200 and stops the server after. Fails the test, with the end of
    the log, when the server exits or does not answer within ``start_timeout_s``."""
    port = free_port()
    full_env = {**os.environ, "CUSTINTEL_DATA_DIR": str(data_dir), "CUSTINTEL_HOST": "127.0.0.1",
                "CUSTINTEL_PORT": str(port), "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=full_env, stdout=log,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_timeout_s
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=health_timeout_s) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"{name} did not start; log:\n{log_path.read_text()[-3000:]}")
            time.sleep(poll_s)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=stop_timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def app_url(generated_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python app.py`` on a free 127.0.0.1 port over the session's generated data."""
    with running_app(generated_dir, tmp_path_factory.mktemp("server") / "app.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def watched_page(context):
    """A new page of ``context`` that records console errors and counts Dash's callbacks in flight."""
    context.set_default_timeout(20_000)
    pg = context.new_page()
    pg.console_errors = []  # type: ignore[attr-defined]
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(f"page error: {e}"))
    track_callbacks(pg)
    return pg


@pytest.fixture
def page(browser, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A fresh 1440×900 page that records console errors; screenshots itself when the test fails."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    pg = watched_page(context)
    yield pg
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        folder = tmp_path_factory.getbasetemp() / "browser-failures"
        folder.mkdir(exist_ok=True)
        target = folder / f"{request.node.name}.png"
        try:
            pg.screenshot(path=str(target), full_page=True)
            print(f"\nscreenshot of the failure: {target}")
        except Exception as exc:  # the page may be gone
            print(f"\nno screenshot: {exc}")
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    folder = ROOT / "docs" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder

