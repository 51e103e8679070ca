"""The demo works wherever it is opened, and a refused or lost connection is never a
silent "Sending…": the customer is told, and their text is kept.

Debian's Chromium against the real hub over uvicorn, with the default chat site
(no ``[connectors.chat] sites``) unless a test configures one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hub.settings import Settings
from tests.browser.hubserver import LiveHub
from tests.browser.test_widget import open_widget, say, visitor_of

if TYPE_CHECKING:
    from playwright.async_api import Page

REFUSED = "Chat isn't available on this page"
UNREACHABLE = "We can't reach the chat right now"


@dataclass
class DevHub(LiveHub):
    """Served on a random port while ``public_url`` keeps its default (…:8000)."""

    def settings(self) -> Settings:
        fields = super().settings().model_dump()
        for name in ("public_url", "secret_key"):
            fields.pop(name)
        return Settings(**fields)


@pytest.fixture
async def dev(tmp_path: Path) -> AsyncIterator[DevHub]:
    server = DevHub(tmp_path)
    await server.start()
    assert server.hub is not None and server.hub.settings.public_url == "http://127.0.0.1:8000"
    try:
        yield server
    finally:
        await server.stop()


async def exchange(page: Page, server: LiveHub, url: str, text: str) -> None:
    from playwright.async_api import expect

    await open_widget(page, url)
    await say(page, text)
    await expect(page.locator("li.msg.in", has_text=text)).to_have_attribute(
        "data-id", re.compile("^evt_")
    )
    await server.reply(await visitor_of(page), f"re: {text}", author="Sam")
    await expect(page.locator("li.msg.out")).to_contain_text(f"re: {text}")


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1"])
async def test_the_demo_works_on_any_loopback_name_and_port(
    dev: DevHub, page: Page, page_errors: list[str], name: str
) -> None:
    url = f"http://{name}:{dev.port}"
    assert dev.port != 8000
    await exchange(page, dev, url, f"Hello from {name}")
    snippet = await page.locator("pre code").inner_text()
    assert f'src="{url}/widget.js"' in snippet
    assert page_errors == []


async def test_a_refused_page_is_told_so_and_keeps_its_draft(
    tmp_path: Path, page: Page, page_errors: list[str]
) -> None:
    from playwright.async_api import expect

    server = LiveHub(tmp_path, chat={"sites": {"default": {"origins": ["https://shop.example"]}}})
    await server.start()
    try:
        await open_widget(page, server.url)
        await say(page, "Where is my parcel?")
        await expect(page.get_by_text(REFUSED)).to_be_visible()
        box = page.get_by_role("textbox", name="Type your message…")
        await expect(box).to_have_value("Where is my parcel?")
        await expect(page.get_by_text("Sending…")).to_have_count(0)
        await expect(page.locator("li.msg.in")).to_have_count(0)
        await box.press("Enter")  # trying again says so again, and keeps the text
        await expect(page.get_by_text(REFUSED)).to_be_visible()
        await expect(box).to_have_value("Where is my parcel?")
    finally:
        await server.stop()
    assert page_errors == []


async def test_a_lost_connection_says_so_and_sends_once_it_is_back(dev: DevHub, page: Page) -> None:
    from playwright.async_api import expect

    await open_widget(page, f"http://localhost:{dev.port}")
    await say(page, "first")
    await expect(page.locator("li.msg.in", has_text="first")).to_have_attribute(
        "data-id", re.compile("^evt_")
    )
    await dev.stop()
    await expect(page.get_by_text(UNREACHABLE)).to_be_visible(timeout=20_000)
    await say(page, "still there?")
    await expect(page.get_by_text("Waiting for connection…")).to_be_visible()
    await expect(page.get_by_text("Sending…")).to_have_count(0)
    await dev.start()
    await expect(page.locator("li.msg.in", has_text="still there?")).to_have_attribute(
        "data-id", re.compile("^evt_"), timeout=20_000
    )
    await expect(page.get_by_text(UNREACHABLE)).to_be_hidden()
