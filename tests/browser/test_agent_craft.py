"""The agent's craft in Chromium: search, the tone coach and macros in the composer.

The hub runs for real (uvicorn, SQLite) with customer traffic as signed
webhooks; waits are Playwright's ``expect`` with timeouts, never sleeps.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.test_agent_view import Site, agent_site, sign_in

if TYPE_CHECKING:
    from playwright.async_api import Page


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with agent_site(tmp_path) as s:
        yield s


async def test_a_search_hit_opens_the_timeline_at_the_event(page: Page, site: Site) -> None:
    from playwright.async_api import expect

    running = site.running
    first = await running.push("m-0", text="The locker code 7731 does not open anything")
    for n in range(1, 61):  # more than a timeline page: the hit is not on the latest one
        await running.push(f"m-{n}", text=f"Follow-up number {n}")
    await running.push("b-1", **{"from": "email:ben@example.com"}, name="Ben", text="Lockers?")
    await sign_in(page, site)

    await page.get_by_role("search").first.get_by_role("searchbox").fill('"locker code"')
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Search every timeline")).to_be_visible()
    hits = page.locator("ol.hits > li")
    await expect(hits).to_have_count(1)
    await expect(hits.first.locator("mark")).to_have_text(["locker", "code"])
    await expect(hits.first).to_contain_text("Ana")

    await hits.first.get_by_role("link").click()
    event = page.locator(f"#ev-{first['event_id']}")
    await expect(event).to_be_visible()
    await expect(event).to_have_class(re.compile(r"\bfound\b"))
    await expect(event).to_be_in_viewport()
    await expect(page.locator("#later")).to_be_visible()

    await page.goto(f"{site.url}/agent/search?q=follow+up&channel=sms")
    await expect(page.get_by_text("Nothing matches.")).to_be_visible()
