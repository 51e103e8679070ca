"""Done when (issue 8): open a conversation, reply by SMS to a customer who chatted,
and see the delivery status change — with the customer's chat and phone real.

The customer chats in the widget (Chromium, the real websocket), asks to be
texted ("text me instead", with the widget's visitor token) and answers the
text from their phone (a signed Twilio webhook): the phone is now proven theirs
and the SMS joins the chat's conversation. The agent, in another browser
profile, opens it and replies on SMS; Twilio is the REST double from
tests/connectors/twilio_kit. The reply waits in the outbox (Queued) while the
worker is paused, is handed to Twilio (Sent), and Twilio's signed status
callback marks it Delivered. Waits are Playwright's ``expect``, never sleeps.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from hub.timeline.model import Identity
from hub.timeline.sqlite import SQLiteStore
from tests.agent.kit import PASSWORD, Running, hub_for_agents
from tests.browser.test_widget import open_widget, say, visitor_of
from tests.connectors.test_twilio import twilio_settings
from tests.connectors.twilio_kit import CUSTOMER, PUBLIC, RestDouble, TwilioSide
from tests.servers import serve

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHAT = {"sites": {"default": {"origins": ["*"]}}, "availability": "online"}


@dataclass
class Site:
    running: Running
    twilio: TwilioSide
    rest: RestDouble


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    rest = RestDouble()
    async with (
        serve(rest.app()) as rest_url,
        hub_for_agents(
            SQLiteStore(tmp_path / "hub.db"),
            tmp_path,
            connectors={"chat": CHAT, "twilio": twilio_settings(rest_url)},
            public_url=PUBLIC,
        ) as running,
        httpx.AsyncClient() as client,
    ):
        await running.agent("ana@example.com", name="Ana Agent")
        yield Site(running, TwilioSide(running.url, client), rest)


async def test_reply_by_sms_to_a_customer_who_chatted_and_watch_the_delivery_status(
    site: Site, page: Page, browser: Browser, page_errors: list[str]
) -> None:
    from playwright.async_api import expect

    url = site.running.url
    # The customer chats on the website…
    await open_widget(page, url)
    await say(page, "Can you text me when it ships?")
    await expect(page.locator("li.msg.in")).to_have_attribute("data-id", re.compile("^evt_"))
    token = await page.evaluate("localStorage.getItem('omnihub:default:token')")
    # …asks to continue by text, and answers the text from their phone.
    r = await site.running.client.post(
        "/handoff/actions/text_me",
        json={"to": f"phone:{CUSTOMER}"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 202, r.text
    await site.rest.wait(lambda: len(site.rest.messages) == 1)
    assert site.rest.messages[0]["To"] == CUSTOMER
    assert (await site.twilio.sms("SMin1", "Yes. This is my mobile")).status_code == 200
    store = site.running.hub.store
    chatter = await store.find_customer(Identity("chat", await visitor_of(page)))
    phone_owner = await store.find_customer(Identity("phone", CUSTOMER))
    assert chatter is not None and phone_owner is not None
    assert phone_owner.id == chatter.id  # one customer: the reply to the text proved the phone

    agent_context = await browser.new_context(viewport={"width": 1280, "height": 800})
    agent_context.set_default_timeout(10_000)
    try:
        desk = await agent_context.new_page()
        desk.on("pageerror", lambda exc: page_errors.append(str(exc)))
        await desk.goto(f"{url}/agent/login")
        await desk.get_by_label("Email").fill("ana@example.com")
        await desk.get_by_label("Password").fill(PASSWORD)
        await desk.get_by_role("button", name="Sign in").click()
        await expect(desk.locator("#live-status")).to_have_text("live")
        row = desk.locator("#inbox-rows tr", has_text="This is my mobile")
        await expect(row.locator(".badge", has_text="Chat")).to_be_visible()
        await expect(row.locator(".badge", has_text="SMS")).to_be_visible()
        await row.locator("a.who").click()

        timeline = desk.locator("#timeline")
        await expect(timeline).to_contain_text("Can you text me when it ships?")
        await expect(timeline).to_contain_text("This is my mobile")
        await desk.get_by_label("Reply on").select_option("sms")
        box = desk.get_by_label("Message", exact=True)
        await box.fill("It shipped today, tracking follows")
        await expect(desk.locator("#constraints")).to_contain_text("1 segment (GSM-7)")

        await site.running.hub.outbox.stop()  # the reply waits in the outbox
        await box.press("Control+Enter")
        mine = desk.locator("li.ev.dir-out", has_text="It shipped today")
        await expect(mine.locator(".delivery")).to_have_text("Queued")
        await site.running.hub.outbox.start()
        await expect(mine.locator(".delivery")).to_have_text("Sent")
        await site.rest.wait(lambda: len(site.rest.messages) == 2)
        sent = site.rest.messages[1]
        assert sent["To"] == CUSTOMER and sent["Body"] == "It shipped today, tracking follows"

        sid = f"SM{2:032x}"  # the double's id for the second message it accepted
        r = await site.twilio.post("/sms/status", {"MessageSid": sid, "MessageStatus": "delivered"})
        assert r.status_code in (200, 204)
        await expect(mine.locator(".delivery")).to_have_text("Delivered")
    finally:
        await agent_context.close()
    # The customer's widget shows their whole thread: the chat, then the texts, labelled.
    await expect(page.locator("li.msg")).to_have_count(4)
    await expect(page.locator("li.msg").first).not_to_contain_text("by text")
    shipped = page.locator("li.msg", has_text="It shipped today")
    await expect(shipped.locator(".via")).to_have_text("by text")
    await expect(page.locator("li.msg", has_text="This is my mobile")).to_have_count(1)
    assert page_errors == []
