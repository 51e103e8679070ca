"""A link proves one person at both ends only in the session that asked for it.

* Ana, an email customer, on a new laptop asks the widget to email her the
  conversation and opens the link in that same browser: her email history is
  restored in the widget there (her old customer merged in, reversibly).
* The "text me" link opened on the phone's browser proves nothing (another
  browser): the page shows nothing; her "OK" by text is what links the number.
"""

from __future__ import annotations

import re

from hub.timeline.model import Identity
from tests.connectors.email.rig import first_mail
from tests.connectors.twilio_kit import CUSTOMER
from tests.journeys.conftest import LINK, Site, texts, widget

THREAD = "Tracking 9911 says delivered but nothing came"


async def test_her_own_address_opened_in_the_asking_browser_restores_her_history(
    site: Site,
) -> None:
    rig = site.rig
    await site.mailbox.append(
        first_mail("Ana Lima <ana@example.com>", "Parcel", "<p-1@c.example>", THREAD)
    )
    await rig.until(lambda: any(e.channel == "email" for e in rig.latest.values()))
    ana = await site.customer_id(Identity("email", "ana@example.com"))
    async with widget(rig) as browser:
        welcome, history = await browser.hello()
        assert history["events"] == []
        await browser.say("c1", "It's Ana, I emailed you about my parcel")
    r = await site.ask("email_transcript", "email:ana@example.com", welcome["token"])
    assert r.status_code == 202, r.text
    [mail] = await site.smtp.wait_for(1)
    plain = mail.get_body(("plain",))
    assert plain is not None
    body = plain.get_content()
    # The transcript holds the chat only: her email thread is not the visitor's yet.
    assert "I emailed you about my parcel" in body and THREAD not in body
    [url] = LINK.findall(body)
    page = await rig.open_link(rig.local(url), visitor_token=welcome["token"])
    assert page.status_code == 200, page.text
    visitor = await site.customer_id(Identity("chat", welcome["visitor"]))
    assert await site.customer_id(Identity("email", "ana@example.com")) == visitor
    assert (await rig.hub.store.get_customer(ana)).merged_into == visitor
    shown = texts(await site.seen_by(welcome["token"]))
    assert THREAD in shown and "I emailed you about my parcel" in shown
    assert "/c/" not in shown
    assert len(await site.conversations()) == 2  # her email thread and the chat


async def test_the_text_me_link_opened_on_the_phone_shows_nothing_until_yes(site: Site) -> None:
    rig = site.rig
    async with widget(rig) as browser:
        welcome, _ = await browser.hello()
        await browser.say("c1", "Order 4455 is damaged")
    r = await site.ask("text_me", f"phone:{CUSTOMER}", welcome["token"])
    assert r.status_code == 202, r.text
    await rig.settled(r.json()["event_id"])
    [sms] = site.rest.messages
    [url] = LINK.findall(sms["Body"])
    page = await rig.open_link(rig.local(url))
    assert page.status_code == 200 and "Thank you" in page.text
    assert "4455" not in page.text and not re.search(r"data-visitor-token", page.text)
    assert await rig.hub.store.find_customer(Identity("phone", CUSTOMER)) is None
    assert (await rig.twilio.sms("SM1", "OK")).status_code == 200
    visitor = await site.customer_id(Identity("chat", welcome["visitor"]))
    assert await site.customer_id(Identity("phone", CUSTOMER)) == visitor
    [conv] = await site.conversations()
    assert [e["text"] for e in await site.events(conv["id"]) if e["channel"] == "sms"][-1] == "OK"
