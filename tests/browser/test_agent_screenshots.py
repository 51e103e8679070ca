"""The agent view with a real cross-channel customer, and the README's screenshots.

One customer writes on chat, then email, then SMS (signed Twilio webhook);
everything goes through the real ``pipeline.ingest`` with the handoff hook, so
the channel switches produce handoff cards. An agent answers by SMS and leaves
a note. The test checks what the agent sees at 1280x800 and on a tablet, and
saves screenshots: into ``docs/`` when ``OMNIHUB_UPDATE_SCREENSHOTS=1``, else
into the test artifacts.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hub.agent.visitors import friendly_name
from hub.connectors.base import InboundMessage
from hub.timeline.model import Identity, utcnow
from tests.browser.test_agent_view import Site, agent_site, sign_in
from tests.connectors.twilio_kit import CUSTOMER

if TYPE_CHECKING:
    from playwright.async_api import Page

DOCS = Path(__file__).resolve().parents[2] / "docs"

CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
ANA_PAGE = {
    "url": "https://shop.example.com/orders/4411",
    "title": "Order #4411 · Acme Outdoor Gear",
    "referrer": "https://mail.example.com/",
    "lang": "pt-PT",
    "tz": "Europe/Lisbon",
    "user_agent": CHROME,
}
EMAIL_HTML = (
    "<p>Hello again,</p><p>I still haven't received order <b>#4411</b>. "
    "The tracking page says <i>label created</i> since Monday.</p><p>Ana</p>"
)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with agent_site(tmp_path) as s:
        yield s


async def seed(site: Site) -> str:
    """Chat → email → SMS from one customer; returns the conversation id."""
    hub = site.running.hub
    await hub.store.create_customer(
        name="Ana Lima",
        identities=(
            Identity("chat", "v_ana"),
            Identity("email", "ana@example.com"),
            Identity("phone", CUSTOMER),
        ),
        attributes={"plan": "Pro", "orders": 7, "city": "Lisbon"},
    )
    start = utcnow() - timedelta(hours=26)
    chat = await hub.pipeline.ingest(
        InboundMessage(
            channel="chat",
            external_id="chat-1",
            identity=Identity("chat", "v_ana"),
            customer_name="Ana Lima",
            text="Hi! My order #4411 hasn't arrived yet, can you check?",
            occurred_at=start,
            meta={"site": "default", "visitor": ANA_PAGE},
        )
    )
    conv = chat.event.conversation_id
    assert conv is not None
    await hub.pipeline.note(
        conv, "Asked the courier about #4411; promised Ana an update by email.", author="Sam"
    )
    await hub.pipeline.ingest(
        InboundMessage(
            channel="email",
            external_id="<m1@example.com>",
            identity=Identity("email", "ana@example.com"),
            customer_name="Ana Lima",
            subject="Order #4411 still missing",
            text="Hello again, I still haven't received order #4411.",
            html=EMAIL_HTML,
            occurred_at=start + timedelta(hours=20),
            meta={"stripped": True},
        )
    )
    r = await site.twilio.sms("SM1", "Any news? I'm at home all day today.")
    assert r.status_code == 200
    return conv


async def shoot(page: Page, name: str, artifacts: Path) -> None:
    target = DOCS if os.environ.get("OMNIHUB_UPDATE_SCREENSHOTS") == "1" else artifacts
    target.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(target / name))
    print(f"screenshot: {target / name}")


async def test_cross_channel_customer_in_the_agent_view(
    page: Page, site: Site, artifacts: Path, page_errors: list[str]
) -> None:
    from playwright.async_api import expect

    await page.set_viewport_size({"width": 1280, "height": 800})
    await site.running.push(
        "m-bo",
        text="Can I change my delivery address?",
        name="Bo Chen",
        **{"from": "email:bo@example.com"},
    )
    conv = await seed(site)
    anonymous = await site.running.hub.pipeline.ingest(
        InboundMessage(
            channel="chat",
            external_id="chat-anon-1",
            identity=Identity("chat", "v_32e7443828ce49e9acd3bcc3"),
            text="Do the tents come with a footprint?",
            meta={
                "site": "default",
                "visitor": {**ANA_PAGE, "lang": "en-GB", "tz": "Europe/London"},
            },
        )
    )
    assert anonymous.created
    await sign_in(page, site)
    visitor = friendly_name("v_32e7443828ce49e9acd3bcc3")
    await expect(page.locator("#inbox-rows a.who", has_text=visitor)).to_be_visible()
    row = page.locator("#inbox-rows tr", has_text="Ana Lima")
    await expect(row.locator(".badge")).to_have_text(["Chat", "Email", "SMS"])
    await shoot(page, "agent-inbox.png", artifacts)

    await row.get_by_role("link").click()
    timeline = page.locator("#timeline")
    await expect(timeline.locator(".badge", has_text="Chat").first).to_be_visible()
    await expect(timeline.locator("li.ev.ch-email p.subject")).to_have_text(
        "Order #4411 still missing"
    )
    await expect(timeline.locator("li.ev.ch-sms", has_text="Any news?")).to_be_visible()
    await expect(timeline.locator(".handoff-card").first).to_be_visible()
    await expect(page.locator(".identities")).to_contain_text(CUSTOMER)
    panel = page.locator("#visitor")
    await expect(panel).to_contain_text("Order #4411 · Acme Outdoor Gear")
    await expect(panel).to_contain_text("Chrome 131 on Mac OS X")
    await expect(panel).to_contain_text("Europe/Lisbon")

    await page.get_by_label("Reply on").select_option("sms")
    await page.get_by_label("Macro").select_option(label="Outage acknowledgement")
    await expect(page.locator("#placeholders")).to_contain_text("service, eta")
    await expect(page.get_by_role("button", name="Send")).to_be_disabled()
    box = page.get_by_label("Message", exact=True)
    await box.fill("The courier has #4411 out for delivery today — you'll get a text before.")
    await page.get_by_role("button", name="Send").click()
    await expect(
        timeline.locator("li.ev.dir-out", has_text="out for delivery").locator(".delivery")
    ).to_have_text("Sent")
    await box.fill("Courier confirmed delivery window 14:00-16:00.")
    await page.get_by_role("button", name="Add internal note").click()
    await expect(timeline.locator("li.kind-note", has_text="14:00-16:00")).to_be_visible()
    await page.set_viewport_size({"width": 1280, "height": 1400})  # the whole story in one shot
    await page.locator("#timeline-scroll").evaluate("el => { el.scrollTop = 0; }")
    await shoot(page, "agent-conversation.png", artifacts)

    await page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, portrait
    await expect(page.get_by_role("complementary", name="Customer and actions")).to_be_visible()
    await expect(page.get_by_label("Message", exact=True)).to_be_visible()
    assert conv
    assert page_errors == []
