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

from tests.browser.test_agent_screenshots import shoot
from tests.browser.test_agent_view import Site, agent_site, sign_in

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with agent_site(tmp_path) as s:
        yield s


async def test_a_search_hit_opens_the_timeline_at_the_event(
    page: Page, site: Site, artifacts: Path
) -> None:
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
    await shoot(page, "agent-search.png", artifacts)

    await hits.first.get_by_role("link").click()
    event = page.locator(f"#ev-{first['event_id']}")
    await expect(event).to_be_visible()
    await expect(event).to_have_class(re.compile(r"\bfound\b"))
    await expect(event).to_be_in_viewport()
    await expect(page.locator("#later")).to_be_visible()

    await page.goto(f"{site.url}/agent/search?q=follow+up&channel=sms")
    await expect(page.get_by_text("Nothing matches.")).to_be_visible()


async def _open_conversation(page: Page, site: Site, text: str = "My parcel is late") -> str:
    from playwright.async_api import expect

    result = await site.running.push("t-1", text=text)
    await sign_in(page, site)
    await page.goto(f"{site.url}/agent/conversations/{result['conversation_id']}")
    await expect(page.locator("#reply-text")).to_be_editable()
    return str(result["conversation_id"])


async def test_the_tone_coach_flags_and_rewrites_but_never_blocks(
    page: Page, site: Site, artifacts: Path
) -> None:
    from playwright.async_api import expect

    await _open_conversation(page, site)
    box = page.locator("#reply-text")
    await box.fill("Unfortunately it is late. Please calm down, it ships Monday.")
    flags = page.locator("#tone-flags > li")
    await expect(flags).to_have_count(2)
    await expect(flags.nth(0)).to_have_attribute("data-rule", "unfortunately")
    await expect(flags.nth(1)).to_have_attribute("data-rule", "calm_down")
    await expect(flags.nth(1)).to_contain_text("I can see why this is frustrating")
    await expect(page.locator("#send")).to_be_enabled()  # advice, never a block
    await shoot(page, "agent-tone-coach.png", artifacts)

    await flags.nth(1).get_by_role("button", name="Use this").click()
    await expect(box).to_have_value(
        "Unfortunately it is late. I can see why this is frustrating, and I'm on it now."
    )
    await expect(flags).to_have_count(1)

    await box.fill("Could you confirm your email address for me?")
    await expect(flags).to_have_count(1)
    await expect(flags.first).to_contain_text("ana@example.com")
    await box.fill("Thanks, Ana: the replacement ships today and I'll send tracking by 5 pm.")
    await expect(page.locator("#tone")).to_be_hidden()


async def test_a_macro_with_an_untouched_personal_slot_cannot_be_sent(
    page: Page, site: Site
) -> None:
    from playwright.async_api import expect

    await _open_conversation(page, site, "I was charged twice for order 55120!")
    box = page.locator("#reply-text")
    send = page.get_by_role("button", name="Send")
    await page.get_by_label("Macro").select_option(label="Double charge")
    await expect(box).to_have_value(
        re.compile(r"^Hi Ana, I can see the two charges for order 55120")
    )
    await expect(page.locator("#placeholders")).to_contain_text("eta, check date")
    await expect(send).to_be_disabled()

    filled = (
        (await box.input_value()).replace("{{eta}}", "Friday").replace("{{check date}}", "Monday")
    )
    await box.fill(filled)
    await expect(page.locator("#placeholders")).to_contain_text("personal part")
    await expect(send).to_be_disabled()
    await box.press("Control+Enter")  # the shortcut is refused too
    await expect(page.locator("li.ev.dir-out")).to_have_count(0)

    slot = re.search(r"\[\[[^\]]*\]\]", filled)
    assert slot is not None
    await box.fill(
        filled.replace(slot.group(), "Two charges on payday is the last thing you need.")
    )
    await expect(page.locator("#placeholders")).to_have_text("")
    await expect(send).to_be_enabled()
    await send.click()
    await expect(page.locator("li.ev.dir-out", has_text="last thing you need")).to_be_visible()


async def test_two_agents_see_each_other_viewing_and_typing(
    page: Page, site: Site, browser: Browser
) -> None:
    from playwright.async_api import expect

    await site.running.agent("ben@example.com", name="Ben Agent")
    conv = await _open_conversation(page, site)  # Ana Agent
    other = await browser.new_context(viewport={"width": 1100, "height": 760})
    try:
        ben = await other.new_page()
        await sign_in(ben, site, "ben@example.com")
        await ben.goto(f"{site.url}/agent/conversations/{conv}")
        await expect(ben.locator("#live-status")).to_have_text("live")

        await expect(ben.locator("#collision")).to_have_text("Also viewing: Ana Agent")
        await expect(page.locator("#collision")).to_have_text("Also viewing: Ben Agent")

        await page.locator("#reply-text").press_sequentially("On it")
        await expect(ben.locator("#collision")).to_have_text("Ana Agent is typing a reply")

        await page.goto(f"{site.url}/agent/")  # Ana leaves the conversation
        await expect(ben.locator("#collision")).to_be_hidden()
    finally:
        await other.close()


async def test_labels_are_shown_and_edited(page: Page, site: Site) -> None:
    from playwright.async_api import expect

    await _open_conversation(page, site)
    await page.get_by_label("Labels (comma-separated)").fill("refund,  VIP customer ,refund")
    await page.get_by_role("button", name="Save labels").click()
    labels = page.get_by_label("Labels", exact=True)
    await expect(labels.locator(".badge")).to_have_text(["refund", "VIP customer"])
    await expect(page.get_by_label("Labels (comma-separated)")).to_have_value(
        "refund, VIP customer"
    )
    await page.goto(f"{site.url}/agent/")
    await expect(page.locator("#inbox-rows .badge.label")).to_have_text(["refund", "VIP customer"])


async def test_a_transfer_alerts_the_receiver_who_sees_the_context_card(
    page: Page, site: Site, browser: Browser
) -> None:
    from playwright.async_api import expect

    await site.running.agent("ben@example.com", name="Ben Agent")
    await _open_conversation(page, site)  # Ana Agent
    other = await browser.new_context(viewport={"width": 1100, "height": 760})
    try:
        ben = await other.new_page()
        await sign_in(ben, site, "ben@example.com")  # on the inbox, live

        await page.get_by_label("Message", exact=True).fill("@ben this one is a VIP")
        await page.get_by_role("button", name="Add internal note").click()
        await expect(ben.locator("#alerts .alert").first).to_have_text(
            "Mentioned you: Ana Agent: @ben this one is a VIP"
        )

        await page.get_by_label("Transfer to").select_option(label="Ben Agent")  # agent or team
        await page.get_by_label("Note for them (what they need to know)").fill(
            "Refund approved; send the return label"
        )
        await page.get_by_role("button", name="Transfer", exact=True).click()
        alert = ben.locator("#alerts .alert", has_text="Transferred to you")
        await expect(alert).to_contain_text("Refund approved")
        await alert.click()
        card = ben.get_by_role("region", name="Transfer")
        await expect(card).to_contain_text("Transferred to you by Ana Agent")
        await expect(card).to_contain_text("Refund approved; send the return label")
    finally:
        await other.close()
