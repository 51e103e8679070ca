"""Journeys where someone tries to borrow a proof: a link to another person's
address, a mistyped number, a number that belongs to another customer.

Each asserts how many conversations exist, what the agent sees, every text the
customers were sent or shown, and that nobody sees anyone else's events.
"""

from __future__ import annotations

from hub.timeline.model import Identity
from tests.connectors.email.rig import first_mail
from tests.connectors.twilio_kit import CUSTOMER
from tests.journeys.conftest import LINK, Site, Widget, texts, widget

ANA_EMAIL = Identity("email", "ana@example.com")
ANA_SECRET = "Order 1234 was due Monday and the refund never came"
STRANGER_PHONE = CUSTOMER
BEN_PHONE = "+15551230002"


async def pushed(browser: Widget, text: str) -> None:
    """Wait for the widget to be pushed an event showing ``text``."""
    while (await browser.receive("event"))["event"]["text"] != text:
        pass


async def ana_emails(site: Site) -> str:
    """Ana, an existing customer, emails about her refund; her conversation id."""
    await site.mailbox.append(
        first_mail("Ana Lima <ana@example.com>", "My refund", "<ana-1@c.example>", ANA_SECRET)
    )
    await site.rig.until(lambda: any(e.channel == "email" for e in site.rig.latest.values()))
    [conv] = await site.conversations()
    return str(conv["id"])


async def test_a_visitor_cannot_email_themselves_into_someone_elses_history(site: Site) -> None:
    rig = site.rig
    anas = await ana_emails(site)
    ana = await site.customer_id(ANA_EMAIL)
    async with widget(rig) as stranger:
        welcome, _ = await stranger.hello()
        await stranger.say("s1", "hello, send me the conversation")
        r = await site.ask("email_transcript", str(ANA_EMAIL), welcome["token"])
        assert r.status_code == 202, r.text
        assert r.json()["notice"] == "We sent you a link."
        await rig.settled(r.json()["event_id"])
        # The stranger's widget says a link was sent, never the link itself.
        await pushed(stranger, "We sent you a link.")
    shown = await site.seen_by(welcome["token"])
    assert "/c/" not in texts(shown) and ANA_SECRET not in texts(shown)
    assert [e["text"] for e in shown] == ["hello, send me the conversation", "We sent you a link."]

    # The link went to Ana's address only; she opens it in her own browser.
    [mail] = await site.smtp.wait_for(1)
    assert mail["To"] == "ana@example.com"
    assert mail["Subject"] == "Your conversation with Acme"
    plain = mail.get_body(("plain",))
    assert plain is not None
    [url] = LINK.findall(plain.get_content())
    page = await rig.open_link(rig.local(url))
    assert page.status_code == 200 and "Thank you" in page.text
    assert ANA_SECRET not in page.text and "hello, send me" not in page.text
    assert "omnihub_handoff" not in page.headers.get("set-cookie", "")

    # Nothing merged: two customers, two conversations; the agent sees a suggestion.
    stranger_id = await site.customer_id(Identity("chat", welcome["visitor"]))
    assert stranger_id != ana and await site.customer_id(ANA_EMAIL) == ana
    assert len(await site.conversations()) == 2
    [suggestion] = (
        await rig.api.get("/api/v1/suggestions", params={"customer_id": stranger_id})
    ).json()["items"]
    assert suggestion["identity"] == str(ANA_EMAIL) and suggestion["other_customer_id"] == ana
    assert suggestion["evidence"][-1]["kind"] == "link_opened_elsewhere"
    assert {e["customer_id"] for e in await site.events(anas)} == {ana}
    # Neither the stranger's widget nor Ana's thread shows the other's words.
    assert ANA_SECRET not in texts(await site.seen_by(welcome["token"]))
    assert "send me the conversation" not in texts(await site.events(anas))


async def test_a_mistyped_number_is_a_stranger(site: Site) -> None:
    rig = site.rig
    async with widget(rig) as browser:
        welcome, _ = await browser.hello()
        await browser.say("c1", "I'm Ana Lima, order 1234 to 12 Elm Street never came")
        r = await site.ask("text_me", f"phone:{STRANGER_PHONE}", welcome["token"])
        assert r.status_code == 202, r.text
        await rig.settled(r.json()["event_id"])
    [sms] = site.rest.messages
    # The first text carries nothing personal: the business and a neutral prompt.
    assert sms["To"] == STRANGER_PHONE
    for private in ("Ana", "Lima", "1234", "Elm", "order", "never came"):
        assert private not in sms["Body"]
    assert sms["Body"].isascii() and sms["Body"].startswith("Acme: ")

    # The stranger who got it answers; that confirms nothing.
    assert (await rig.twilio.sms("SM1", "wrong number, who is this?")).status_code == 200
    visitor = await site.customer_id(Identity("chat", welcome["visitor"]))
    stranger = await site.customer_id(Identity("phone", STRANGER_PHONE))
    assert stranger != visitor
    convs = await site.conversations()
    assert len(convs) == 2 and {c["customer_id"] for c in convs} == {visitor, stranger}
    shown = await site.seen_by(welcome["token"])
    assert "wrong number" not in texts(shown)
    assert [e["text"] for e in shown][-1] == "We sent you a link."
    [theirs] = [c for c in convs if c["customer_id"] == stranger]
    assert [e["text"] for e in await site.events(theirs["id"])] == ["wrong number, who is this?"]
    # The agent sees the unconfirmed reply as a weak suggestion, to decide.
    [suggestion] = (
        await rig.api.get("/api/v1/suggestions", params={"customer_id": visitor})
    ).json()["items"]
    assert suggestion["evidence"][0]["kind"] == "text_me_reply_unconfirmed"
    assert suggestion["status"] == "pending"


async def test_yes_from_the_number_continues_the_chat_by_text(site: Site) -> None:
    rig = site.rig
    async with widget(rig) as browser:
        welcome, _ = await browser.hello()
        await browser.say("c1", "Parcel 77 is late, can you text me?")
        r = await site.ask("text_me", f"phone:{STRANGER_PHONE}", welcome["token"])
        assert r.status_code == 202, r.text
        await rig.settled(r.json()["event_id"])
        assert (await rig.twilio.sms("SM1", "YES please")).status_code == 200
        await pushed(browser, "YES please")  # her own words, in her widget
    visitor = await site.customer_id(Identity("chat", welcome["visitor"]))
    assert await site.customer_id(Identity("phone", STRANGER_PHONE)) == visitor
    [conv] = await site.conversations()
    events = await site.events(conv["id"])
    assert [(e["channel"], e["kind"]) for e in events] == [
        ("chat", "message"),
        ("sms", "message"),
        ("hub", "handoff"),
        ("sms", "message"),
    ]
    card = events[2]["meta"]["card"]
    assert card["first_message"]["text"] == "Parcel 77 is late, can you text me?"
    assert (card["from_channel"], card["to_channel"]) == ("chat", "sms")


async def test_a_number_that_belongs_to_another_customer_is_only_suggested(site: Site) -> None:
    rig = site.rig
    assert (
        await rig.twilio.sms("SM0", "Ben here: my private order 555", sender=BEN_PHONE)
    ).status_code == 200
    ben = await site.customer_id(Identity("phone", BEN_PHONE))
    async with widget(rig) as browser:
        welcome, _ = await browser.hello()
        await browser.say("c1", "text me please")
        r = await site.ask("text_me", f"phone:{BEN_PHONE}", welcome["token"])
        assert r.status_code == 202, r.text
        await rig.settled(r.json()["event_id"])
    assert (await rig.twilio.sms("SM1", "yes", sender=BEN_PHONE)).status_code == 200
    visitor = await site.customer_id(Identity("chat", welcome["visitor"]))
    assert await site.customer_id(Identity("phone", BEN_PHONE)) == ben != visitor
    assert len(await site.conversations()) == 2
    shown = texts(await site.seen_by(welcome["token"]))
    assert "private order 555" not in shown and "yes" not in shown.split("\n")
    [suggestion] = (
        await rig.api.get("/api/v1/suggestions", params={"customer_id": visitor})
    ).json()["items"]
    assert suggestion["other_customer_id"] == ben
    assert suggestion["evidence"][0]["kind"] == "text_me_reply"
    bens = await rig.timeline(ben)
    assert {e["customer_id"] for e in bens} == {ben}
    assert "text me please" not in texts(bens)
