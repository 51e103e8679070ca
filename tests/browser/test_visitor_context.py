"""Visitors agents can recognise, in Debian's Chromium: an anonymous visitor gets a
friendly name, and the agent's side panel shows the page they are on, where they
came from, their browser, language and local time (from the widget's hello)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hub.agent.auth import create_agent
from hub.agent.visitors import friendly_name
from hub.timeline.model import AgentRole
from tests.agent.kit import PASSWORD
from tests.browser.hubserver import LiveHub
from tests.browser.test_agent_widget import agent_signs_in
from tests.browser.test_widget import say, visitor_of

if TYPE_CHECKING:
    from playwright.async_api import Browser


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveHub]:
    server = LiveHub(tmp_path)
    await server.start()
    assert server.hub is not None
    await create_agent(
        server.hub.store, email="sam@example.com", name="Sam", password=PASSWORD,
        role=AgentRole.AGENT,
    )  # fmt: skip
    try:
        yield server
    finally:
        await server.stop()


async def test_the_agent_sees_who_and_where_the_visitor_is(live: LiveHub, browser: Browser) -> None:
    from playwright.async_api import expect

    visitor_side = await browser.new_context(locale="en-GB", timezone_id="Asia/Tokyo")
    visitor_side.set_default_timeout(10_000)
    agent_side = await browser.new_context(viewport={"width": 1280, "height": 900})
    agent_side.set_default_timeout(10_000)
    try:
        page = await visitor_side.new_page()
        await page.goto(f"{live.url}/demo?coupon=SECRET", referer="https://search.example/?q=tent")
        await page.get_by_role("button", name="Open chat").click()
        await say(page, "Do you ship to Japan?")
        await expect(page.locator("li.msg.in")).to_have_attribute("data-id", re.compile("^evt_"))
        name = friendly_name(await visitor_of(page))

        desk = await agent_side.new_page()
        await agent_signs_in(desk, live.url)
        row = desk.locator("#inbox-rows tr", has_text="Do you ship to Japan?")
        await expect(row.locator("a.who")).to_have_text(name)
        await row.locator("a.who").click()
        await expect(desk.get_by_role("heading", level=1)).to_have_text(name)
        panel = desk.locator("#visitor")
        await expect(panel).to_contain_text("Omnihub chat widget demo")
        await expect(panel).to_contain_text(f"{live.url}/demo")
        await expect(panel).to_contain_text("https://search.example/")
        await expect(panel).to_contain_text(re.compile(r"Chrome \d+ on Linux"))
        await expect(panel).to_contain_text("en-GB")
        await expect(panel).to_contain_text(re.compile(r"\d\d:\d\d \(\w{3}\) Asia/Tokyo"))
        assert "SECRET" not in await panel.inner_text()
        await expect(desk.get_by_text("Unknown customer")).to_have_count(0)
    finally:
        await visitor_side.close()
        await agent_side.close()
