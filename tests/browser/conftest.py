"""Browser fixtures: Debian's Chromium driven by PyPI Playwright (async API).

Never ``playwright install``: the browser is the system one (``/usr/bin/chromium``,
or ``$OMNIHUB_TEST_CHROMIUM``). Without Chromium or the ``playwright`` package
the tests skip locally and fail under ``CI=true`` (:func:`tests.conftest.missing_peer`).

Fixtures:

* ``browser`` (session): one headless Chromium for the whole run.
* ``context`` / ``page``: a fresh profile per test (its own ``localStorage``);
  console errors (except a missing ``/favicon.ico``) and uncaught page errors
  are collected in ``page_errors`` for tests to assert on.
* ``artifacts``: a directory for screenshots and traces (``$OMNIHUB_TEST_ARTIFACTS``,
  else a session temp dir); paths are printed so CI logs show where they went.

Serve the app under test with :func:`tests.servers.serve` (uvicorn on a
pre-bound loopback socket) and point ``page.goto`` at the URL it yields.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import missing_peer

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    """The system Chromium: ``$OMNIHUB_TEST_CHROMIUM``, else ``chromium`` on PATH."""
    configured = os.environ.get("OMNIHUB_TEST_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless system Chromium for the session."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing_peer("the playwright package is not installed (pip install -e '.[test]')")
    executable = chromium_path()
    if executable is None:
        missing_peer("no Chromium: apt-get install chromium (never `playwright install`)")
    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Console errors and uncaught exceptions seen by ``page`` (tests may assert it empty)."""
    return []


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (cookies, localStorage) for one test."""
    ctx = await browser.new_context(viewport={"width": 1100, "height": 760})
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def page(context: BrowserContext, page_errors: list[str]) -> Page:
    """A tab in ``context``, collecting console errors into ``page_errors``."""
    tab = await context.new_page()

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            page_errors.append(msg.text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda exc: page_errors.append(str(exc)))
    return tab


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``$OMNIHUB_TEST_ARTIFACTS`` or a session temp dir."""
    configured = os.environ.get("OMNIHUB_TEST_ARTIFACTS")
    path = Path(configured) if configured else tmp_path_factory.mktemp("artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path
