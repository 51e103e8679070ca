"""The Reports page in Chromium with JavaScript off: the known month's dashboard is all
there (server-rendered SVG), a bar leads to the conversations behind it; screenshot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from hub.timeline.sqlite import SQLiteStore
from tests.agent.kit import PASSWORD, hub_for_agents
from tests.metrics.month import build_month

if TYPE_CHECKING:
    from playwright.async_api import Browser

DOCS_SHOT = Path(__file__).resolve().parents[2] / "docs" / "reports.png"


async def test_the_dashboard_reads_without_javascript(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    from playwright.async_api import expect

    store = SQLiteStore(tmp_path / "hub.db")
    await store.open()
    month = await build_month(store)
    async with hub_for_agents(store, tmp_path) as running:
        await running.agent("lee@example.com", name="Lee")
        context = await browser.new_context(
            java_script_enabled=False, viewport={"width": 1280, "height": 900}
        )
        try:
            page = await context.new_page()
            await page.goto(f"{running.url}/agent/login")
            await page.get_by_label("Email").fill("lee@example.com")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.goto(
                f"{running.url}/agent/reports?since=2026-11-01&until=2026-11-30&by=agent"
            )
            await expect(page.get_by_role("heading", name="Reports")).to_be_visible()
            charts = page.get_by_role("img")
            await expect(charts).to_have_count(4)
            await expect(page.get_by_role("img", name="Conversations by group")).to_be_visible()
            macros = page.get_by_role("table", name="Macros")
            await expect(macros).to_contain_text("No macro was used in this period.")
            shot = artifacts / "reports.png"
            await page.screenshot(path=str(shot), full_page=True)
            if os.environ.get("OMNIHUB_UPDATE_SCREENSHOTS"):
                shutil.copyfile(shot, DOCS_SHOT)
            print(f"screenshot: {shot}")
            # the Sam bar of "Conversations by group" leads to Sam's one conversation
            await page.locator("figure.chart").nth(1).locator("a").nth(1).click()
            drill = page.get_by_role("table", name="Conversations behind the number: Sam")
            await expect(drill.locator("tbody tr")).to_have_count(1)
            link = drill.get_by_role("link")
            await expect(link).to_have_attribute("href", f"/agent/conversations/{month.convs['A']}")
        finally:
            await context.close()
    await store.close()
