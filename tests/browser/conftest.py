"""Real-browser tests: Debian's Chromium driven by Playwright against a real server.

The microphone is Chromium's fake capture device playing a speech file in a loop. Without
Chromium or Playwright these tests skip, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.server.conftest import ServerProcess, running_server
from tests.speech import JFK, speech_path

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ARTEFACTS = Path(__file__).resolve().parents[2] / "artefacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--use-fake-ui-for-media-stream",  # grant the microphone without a prompt
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    # The machine has no outbound network: no background connection attempts.
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-gpu",
    "--disable-quic",
]
CONNECT_TIMEOUT_MS = 30_000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real browser (Chromium via Playwright)")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{reason}; CI must install it (apt-get install chromium, pip install playwright)"
        )
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium binary; skips (fails under CI=true) when it or Playwright is missing."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _unavailable("chromium is not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """One headless Chromium whose microphone plays the JFK recording in a loop.

    Module-scoped: Playwright's sync API keeps an event loop running while it is open,
    which would stop the asyncio tests of later modules from running theirs."""
    from playwright.sync_api import sync_playwright

    # Chromium reads the file only by a path without "..".
    capture = speech_path(JFK).resolve()
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={capture}"]
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=args
        )
        yield launched
        launched.close()


@contextmanager
def serving(*flags: str) -> Iterator[ServerProcess]:
    """`running_server`, closing the server's log pipe once it has stopped."""
    with running_server(*flags) as started:
        try:
            yield started
        finally:
            # running_server leaves the pipe to the garbage collector, which warns about it.
            stderr = started.process.stderr
    if stderr is not None:
        stderr.close()


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    """One server with the default model for a test module; clients may load only tiny.en."""
    with serving("--allowed-models", "tiny.en") as started:
        yield started


@pytest.fixture
def artefacts() -> Path:
    """Where tests leave screenshots and downloads for people to look at."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS


def open_page(
    browser: Browser, url: str, prepare: Callable[[Page], None] | None = None, **context: Any
) -> Page:
    """A fresh tab on `url` (own context: own downloads, cookies and permissions),
    returned once the page reports a connection. `prepare` runs on the tab before it
    loads the page (init scripts, listeners)."""
    # Playwright's waiting helpers evaluate code, which the page's policy forbids.
    tab = browser.new_context(bypass_csp=True, **context).new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    if prepare is not None:
        prepare(tab)
    tab.goto(url)
    tab.wait_for_selector("#connection[data-state=ready]", timeout=CONNECT_TIMEOUT_MS)
    assert not errors, errors
    return tab


@pytest.fixture
def page(browser: Browser, server: ServerProcess) -> Iterator[Page]:
    """The page of the module's server, connected, in a desktop-sized window."""
    tab = open_page(browser, server.http_url + "/", viewport={"width": 1200, "height": 900})
    yield tab
    tab.context.close()
