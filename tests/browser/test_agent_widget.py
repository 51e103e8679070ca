"""The agent view and the chat widget side by side in Debian's Chromium: the visitor
sees an agent come online when an agent page opens, the agent typing, the read
mark, and the offer to continue by email once the agent leaves; an image sent
from the widget shows inline in the widget and in the agent's timeline."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hub.agent.auth import create_agent
from hub.timeline.model import AgentRole
from tests.agent.kit import PASSWORD
from tests.browser.hubserver import LiveHub
from tests.browser.test_widget import open_widget, say

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

AWAY = "We're away right now"
ONLINE = "We usually reply in a few minutes"


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveHub]:
    server = LiveHub(tmp_path, chat={"availability": "auto"})
    await server.start()
    assert server.hub is not None and server.hub.agent_runtime is not None
    server.hub.agent_runtime.presence.grace = 0  # offline as soon as the page closes
    await create_agent(
        server.hub.store,
        email="sam@example.com",
        name="Sam",
        password=PASSWORD,
        role=AgentRole.AGENT,
    )
    try:
        yield server
    finally:
        await server.stop()


async def agent_signs_in(page: Page, url: str) -> None:
    from playwright.async_api import expect

    await page.goto(f"{url}/agent/login")
    await page.get_by_label("Email").fill("sam@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#live-status")).to_have_text("live")


async def test_the_widget_shows_the_agent_online_typing_and_reading(
    live: LiveHub, page: Page, browser: Browser, page_errors: list[str]
) -> None:
    from playwright.async_api import expect

    await open_widget(page, live.url)
    await expect(page.get_by_text(AWAY)).to_be_visible()  # no agent page open
    await say(page, "Is my order on its way?")
    await expect(page.locator("li.msg.in")).to_have_attribute("data-id", re.compile("^evt_"))

    agent_context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        agent_context.set_default_timeout(10_000)
        desk = await agent_context.new_page()
        await agent_signs_in(desk, live.url)
        await expect(page.get_by_text(ONLINE)).to_be_visible()
        await expect(page.get_by_text(AWAY)).to_be_hidden()

        row = desk.locator("#inbox-rows tr", has_text="Is my order on its way?")
        await row.locator("a.who").click()
        await expect(desk.locator("#timeline")).to_contain_text("Is my order on its way?")
        await expect(page.locator("li.readmark")).to_have_text("Read")

        await desk.get_by_label("Message", exact=True).press_sequentially("Let me check")
        await expect(page.get_by_text("Sam is typing…")).to_be_visible()
        await desk.get_by_label("Message", exact=True).press("Control+Enter")
        await expect(page.locator("li.msg.out")).to_have_text(re.compile("Let me check"))
        await expect(page.get_by_text("Sam is typing…")).to_be_hidden()
    finally:
        await agent_context.close()
    await expect(page.get_by_text(AWAY)).to_be_visible()
    assert page_errors == []


def png(width: int, height: int) -> bytes:
    """A real (decodable) RGB PNG, one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + b"\x2f\x6f\xed" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def test_an_image_sent_from_the_widget_shows_inline_there_and_for_the_agent(
    live: LiveHub, page: Page, browser: Browser, page_errors: list[str]
) -> None:
    from playwright.async_api import expect

    await open_widget(page, live.url)
    async with page.expect_file_chooser() as chooser:
        await page.get_by_role("button", name="Attach a file").click()
    await (await chooser.value).set_files(
        {"name": "parcel.png", "mimeType": "image/png", "buffer": png(40, 24)}
    )
    shown = page.locator("li.msg.in img[alt='parcel.png']")
    await expect(shown).to_be_visible()
    await expect(page.locator("li.msg.in")).to_have_attribute("data-id", re.compile("^evt_"))
    assert await shown.evaluate("img => img.complete && img.naturalWidth") == 40

    agent_context = await browser.new_context(viewport={"width": 1280, "height": 800})
    agent_context.set_default_timeout(10_000)
    try:
        desk = await agent_context.new_page()
        await agent_signs_in(desk, live.url)
        await desk.locator("#inbox-rows tr a.who").first.click()
        inline = desk.locator("#timeline img")
        await expect(inline).to_be_visible()
        await expect(inline).to_have_js_property("naturalWidth", 40)
    finally:
        await agent_context.close()
    assert page_errors == []
