"""Internal words never reach a customer: an agent's subject, tags, priority and
notes stay out of the text-me SMS, the transcript email, the widget and the
caller's greeting."""

from __future__ import annotations

from hub.timeline.model import Identity
from tests.connectors.twilio_kit import CUSTOMER, parse_twiml
from tests.journeys.conftest import Site, texts, widget

INTERNAL = "suspected fraud, do not ship"
OWN_WORDS = "Where is my parcel 88?"


def clean(text: str) -> None:
    for word in ("fraud", "do not ship", "vip-watch", "urgent"):
        assert word not in text.lower(), text


async def test_agents_words_stay_internal_on_every_customer_surface(site: Site) -> None:
    rig = site.rig
    async with widget(rig) as browser:
        welcome, _ = await browser.hello()
        await browser.say("c1", OWN_WORDS)
    visitor = Identity("chat", welcome["visitor"])
    [conv] = await site.conversations()
    r = await rig.api.patch(
        f"/api/v1/conversations/{conv['id']}",
        json={"subject": INTERNAL, "tags": ["vip-watch"], "priority": "urgent"},
    )
    assert r.status_code == 200, r.text
    note = await rig.api.post(
        f"/api/v1/conversations/{conv['id']}/notes", json={"text": INTERNAL, "follow_up": True}
    )
    assert note.status_code == 201, note.text

    # "Text me instead", confirmed; then "email me this conversation" to her address.
    r = await site.ask("text_me", f"phone:{CUSTOMER}", welcome["token"])
    assert r.status_code == 202, r.text
    await rig.settled(r.json()["event_id"])
    assert (await rig.twilio.sms("SM1", "yes")).status_code == 200
    r = await site.ask("email_transcript", "email:ana@example.com", welcome["token"])
    assert r.status_code == 202, r.text
    await rig.settled(r.json()["event_id"])
    [mail] = await site.smtp.wait_for(1)
    plain = mail.get_body(("plain",))
    assert plain is not None
    body = plain.get_content()
    assert OWN_WORDS in body
    clean(mail["Subject"])
    clean(body)
    [sms] = site.rest.messages
    clean(sms["Body"])

    # She calls: the greeting uses her words, not the agents'.
    answer = parse_twiml(
        (await rig.twilio.post("/voice", rig.twilio.call_params("CA1", "ringing"))).text
    )
    greeting = answer[0].text or ""
    assert "parcel 88" in greeting
    clean(greeting)

    # Her widget shows her conversation and nothing internal.
    shown = await site.seen_by(welcome["token"])
    assert OWN_WORDS in texts(shown)
    clean(texts(shown))
    assert "/c/" not in texts(shown)

    # One customer, one conversation; the agent still sees the subject and the note.
    assert await site.customer_id(Identity("phone", CUSTOMER)) == await site.customer_id(visitor)
    [conv] = await site.conversations()
    assert conv["subject"] == INTERNAL
    assert INTERNAL in texts(await site.events(conv["id"]))
