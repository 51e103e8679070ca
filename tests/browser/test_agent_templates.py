"""Done when (issue 21): with the 24 h window closed, the composer offers the synced,
approved WhatsApp templates with a field per parameter and a preview; the sent
template is on the timeline as the customer received it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tests.agent.kit import PASSWORD
from tests.browser.test_agent_attachments import WA_ANA, Desk, desk
from tests.connectors.meta.kit import wa_text, wa_value, whatsapp
from tests.connectors.meta.test_templates import PAGES, WABA

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = ["desk"]


async def test_pick_a_template_fill_its_parameters_and_send_it(
    desk: Desk, page: Page, page_errors: list[str]
) -> None:
    from playwright.async_api import expect

    desk.graph.template_pages[WABA] = PAGES
    old = int(time.time()) - 3 * 24 * 3600
    await desk.webhook(
        whatsapp(
            wa_value(messages=[wa_text(WA_ANA, "wamid.OLD", "Where is it?", ts=old)]), waba=WABA
        )
    )
    await page.goto(f"{desk.running.url}/agent/login")
    await page.get_by_label("Email").fill("ana@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.locator("#inbox-rows tr", has_text="Where is it?").locator("a.who").click()
    await page.get_by_label("Reply on").select_option("whatsapp")
    await expect(page.locator("#constraints")).to_contain_text("a template is needed")
    picker = page.get_by_label("WhatsApp template", exact=True)
    await expect(picker.locator("option")).to_have_count(2)  # "—" and the approved one
    await picker.select_option("order_update|en_US")
    await page.get_by_label("{{1}}").fill("Ana")
    await page.get_by_label("{{2}}").fill("A-42")
    await expect(page.locator("#template-preview")).to_have_text("Hi Ana, order A-42 has shipped.")
    await page.get_by_role("button", name="Send").click()
    mine = page.locator("li.ev.dir-out", has_text="Hi Ana, order A-42 has shipped.")
    await expect(mine.locator(".delivery")).to_have_text("Sent")
    [call] = desk.graph.sent
    assert call.body["template"]["name"] == "order_update"
    assert page_errors == []
