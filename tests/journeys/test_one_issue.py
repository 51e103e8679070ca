"""One issue, one conversation: a customer who writes twice about one order gets a
merge suggestion; an agent merges the two (recorded, reversible, never across
customers); promises are marked from the agent view and listed in its side panel
until kept (in Chromium)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from hub.timeline.model import Identity
from tests.connectors.email.rig import first_mail
from tests.journeys.conftest import Site, texts

if TYPE_CHECKING:
    from playwright.async_api import Page

ANA = Identity("email", "ana@example.com")
FIRST = "Refund for order 1234 please, it arrived broken"
SECOND = "Still waiting on 1234: where is my money?"
PROMISE = "I'll email you tomorrow once finance confirms"


async def two_emails(site: Site) -> tuple[str, str]:
    """Ana writes twice, under two subjects (two conversations): (first id, second id)."""
    rig = site.rig
    await site.mailbox.append(first_mail("Ana Lima <ana@example.com>", "Refund", "<a1@c>", FIRST))
    await rig.until(lambda: any(e.text == FIRST for e in rig.latest.values()))
    await site.mailbox.append(
        first_mail("Ana Lima <ana@example.com>", "Where is my money", "<a2@c>", SECOND)
    )
    await rig.until(lambda: any(e.text == SECOND for e in rig.latest.values()))
    convs = await site.conversations()
    assert len(convs) == 2
    by_text = {c["last_message_preview"]: c["id"] for c in convs}
    return by_text[FIRST], by_text[SECOND]


async def test_two_conversations_on_one_issue_are_suggested_merged_and_unmerged(
    site: Site,
) -> None:
    rig = site.rig
    first, second = await two_emails(site)
    ana = await site.customer_id(ANA)
    # Ben, another customer, for the rule that merges stay within one customer.
    assert (await rig.twilio.sms("SM1", "Ben: order 1234 is mine too")).status_code == 200
    [bens] = [c for c in await site.conversations() if c["customer_id"] != ana]

    r = await rig.api.get(f"/api/v1/conversations/{second}/merge-suggestions")
    assert r.status_code == 200, r.text
    [suggested] = r.json()["items"]
    assert suggested["conversation_id"] == first and suggested["reason"] == "both mention 1234"

    async with site.agent("sam@acme.test") as sam:
        page = await sam.client.get(f"/agent/conversations/{second}")
        assert "Possibly the same issue" in page.text and "both mention 1234" in page.text
        assert "Ben: order" not in page.text
        r = await sam.client.post(
            f"/agent/conversations/{first}/merge",
            data={"csrf": sam.csrf, "into": second, "next": f"/agent/conversations/{second}"},
        )
        assert r.status_code == 303, r.text
        page = await sam.client.get(f"/agent/conversations/{second}")
        assert html.escape("Undo this merge") in page.text
        # Never across customers.
        r = await sam.post(f"/agent/conversations/{bens['id']}/merge", {"into": second})
        assert r.status_code == 409, r.text

    merged = {c["id"]: c for c in await site.conversations()}
    assert len(merged) == 3
    assert merged[first]["status"] == "resolved" and merged[second]["status"] == "open"
    events = await site.events(second)
    assert FIRST in texts(events) and SECOND in texts(events)
    assert "Ben" not in texts(events)
    [record] = [e for e in events if e["kind"] == "merge"]
    assert record["meta"]["conversation_source"] == first and record["author"] == "agent:Sam"
    assert (await rig.api.get(f"/api/v1/conversations/{second}/merge-suggestions")).json()[
        "items"
    ] == []

    # The customer hears from one conversation, on her own address.
    r = await rig.api.post(f"/api/v1/conversations/{second}/reply", json={"text": "Refund sent"})
    assert r.status_code == 202, r.text
    [mail] = await site.smtp.wait_for(1)
    assert mail["To"] == "ana@example.com"
    plain = mail.get_body(("plain",))
    assert plain is not None and plain.get_content().strip().startswith("Refund sent")

    # Undone through the API: each conversation has its own events again.
    r = await rig.api.post(f"/api/v1/conversations/{first}/unmerge", json={})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "open"
    assert FIRST in texts(await site.events(first))
    assert FIRST not in texts(await site.events(second))
    assert SECOND in texts(await site.events(second))
    assert {e["customer_id"] for e in await rig.timeline(ana)} == {ana}
    r = await rig.api.post(f"/api/v1/conversations/{first}/unmerge", json={})
    assert r.status_code == 409


async def test_a_promise_is_listed_in_the_side_panel_until_kept(site: Site, page: Page) -> None:
    from playwright.async_api import expect

    rig = site.rig
    assert (await rig.twilio.sms("SM1", "My refund for order 77 never came")).status_code == 200
    [conv] = await site.conversations()
    async with site.agent("sam@acme.test"):
        pass  # creates Sam
    await page.goto(f"{rig.url}/agent/login")
    await page.get_by_label("Email").fill("sam@acme.test")
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#live-status")).to_have_text("live")
    await page.goto(f"{rig.url}/agent/conversations/{conv['id']}")
    promises = page.locator("#promises")
    await expect(promises).to_contain_text("None.")

    await page.locator("#reply-text").fill(PROMISE)
    await page.locator("#follow-up").check()
    await page.locator("#send").click()
    await expect(promises.locator("li")).to_have_count(1)
    await expect(promises.locator("li .text")).to_have_text(PROMISE)
    r = await rig.api.get(f"/api/v1/conversations/{conv['id']}/promises")
    [listed] = r.json()["items"]
    assert listed["text"] == PROMISE and listed["meta"]["follow_up"] is True

    await promises.get_by_role("button", name="Mark kept").click()
    await expect(promises).to_contain_text("None.")
    assert (await rig.api.get(f"/api/v1/conversations/{conv['id']}/promises")).json()["items"] == []
    # The customer got the reply and nothing else; the kept-note stayed internal.
    await rig.until(lambda: len(site.rest.messages) >= 1)
    assert [m["Body"] for m in site.rest.messages] == [PROMISE]
    [kept] = [e for e in await site.events(conv["id"]) if e["kind"] == "note"]
    assert kept["meta"]["fulfils"] == listed["id"] and kept["direction"] == "internal"
