"""Write first from the agent view (Chromium): a WhatsApp message to a new number is
refused without a template (nothing stored), sent with one, and the conversation
opens; an SMS to a number a customer owns lands on that customer. Twilio is the REST
double from tests/connectors/twilio_kit; waits are Playwright's ``expect``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hub.timeline.model import Identity
from hub.timeline.sqlite import SQLiteStore
from tests.agent.kit import PASSWORD, Running, hub_for_agents
from tests.browser.test_agent_screenshots import shoot
from tests.connectors.test_twilio import twilio_settings
from tests.connectors.twilio_kit import AGENT, OUR_NUMBER, PUBLIC, RestDouble
from tests.servers import serve

if TYPE_CHECKING:
    from playwright.async_api import Page

NEW = "+15551230077"
OWNED = "+15551230088"


@dataclass
class Site:
    running: Running
    rest: RestDouble


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    rest = RestDouble()
    number = {"number": OUR_NUMBER, "agents": [AGENT], "business_name": "Acme", "whatsapp": True}
    async with (
        serve(rest.app()) as rest_url,
        hub_for_agents(
            SQLiteStore(tmp_path / "hub.db"),
            tmp_path,
            connectors={"twilio": twilio_settings(rest_url, numbers=[number])},
            public_url=PUBLIC,
        ) as running,
    ):
        await running.agent("ana@example.com", name="Ana Agent")
        yield Site(running, rest)


async def test_an_agent_writes_first_on_whatsapp_and_sms(
    page: Page, site: Site, artifacts: Path
) -> None:
    from playwright.async_api import expect

    store = site.running.hub.store
    owner = await store.create_customer(name="Bo Owner", identities=(Identity("phone", OWNED),))
    await page.goto(f"{site.running.url}/agent/login")
    await page.get_by_label("Email").fill("ana@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Write first").click()

    await page.get_by_label("Channel").select_option("whatsapp")
    await page.get_by_label("To (phone number").fill("+1 555 123 0077")
    await page.get_by_label("Name (for a new customer)").fill("Kim New")
    await page.get_by_label("Message", exact=True).fill("Your order has shipped")
    await page.get_by_role("button", name="Send and open the conversation").click()
    await expect(page.get_by_role("alert")).to_contain_text("template")
    await expect(page.get_by_label("Template (WhatsApp")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Message", exact=True)).to_have_value("Your order has shipped")
    assert await store.find_customer(Identity("phone", NEW)) is None
    await page.set_viewport_size({"width": 1100, "height": 720})
    await shoot(page, "agent-write-first.png", artifacts)

    await page.get_by_label("Template (WhatsApp").fill("order_shipped")
    await page.get_by_role("button", name="Send and open the conversation").click()
    await expect(page.locator("li.ev.dir-out", has_text="Your order has shipped")).to_be_visible()
    await expect(page.get_by_role("heading", name="Kim New", level=1)).to_be_visible()
    await site.rest.wait(lambda: any(m.get("To") == f"whatsapp:{NEW}" for m in site.rest.messages))
    kim = await store.find_customer(Identity("phone", NEW))
    assert kim is not None and kim.name == "Kim New"

    await page.get_by_role("link", name="Write first").click()
    await page.get_by_label("Channel").select_option("sms")
    await page.get_by_label("To (phone number").fill(OWNED)
    await page.get_by_label("Name (for a new customer)").fill("Not Bo")
    await page.get_by_label("Message", exact=True).fill("Your repair is ready")
    await page.get_by_role("button", name="Send and open the conversation").click()
    await expect(page.locator("li.ev.dir-out", has_text="Your repair is ready")).to_be_visible()
    await expect(page.get_by_role("heading", name="Bo Owner", level=1)).to_be_visible()
    after = await store.get_customer(owner.id)
    assert after.name == "Bo Owner" and [str(i) for i in after.identities] == [f"phone:{OWNED}"]
    await site.rest.wait(lambda: any(m.get("To") == OWNED for m in site.rest.messages))
