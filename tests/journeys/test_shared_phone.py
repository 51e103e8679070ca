"""A phone two customers share (Ana owns it; Ben, who chats with us, asked us to text
him there): the agent keeps both instead of merging; a call from it is greeted
neutrally; an SMS from it goes to the person we texted there last, hidden from
everyone's surfaces, with a question for the agent; once the agent answers, the
rest of that exchange is that person's. Nobody's words reach the other."""

from __future__ import annotations

from typing import Any

from hub.timeline.model import Identity
from tests.connectors.twilio_kit import CUSTOMER, parse_twiml
from tests.journeys.conftest import Site, texts, widget

PHONE = Identity("phone", CUSTOMER)
ANAS = "Ana here: parcel 55 is late"
BENS = "Ben here, I need the invoice for my company"


async def sms(site: Site, sid: str, text: str) -> None:
    assert (await site.rig.twilio.sms(sid, text)).status_code == 200
    await site.rig.until(lambda: any(e.text == text for e in site.rig.latest.values()))


async def conv_of(site: Site, customer_id: str) -> dict[str, Any]:
    [conv] = [c for c in await site.conversations() if c["customer_id"] == customer_id]
    return conv


async def test_a_shared_phone_greets_neutrally_routes_to_the_last_texted_and_asks(
    site: Site,
) -> None:
    rig = site.rig
    await sms(site, "SM1", ANAS)
    ana = await site.customer_id(PHONE)
    async with widget(rig) as browser:
        welcome, _ = await browser.hello()
        await browser.say("c1", BENS)
    ben = await site.customer_id(Identity("chat", welcome["visitor"]))
    r = await site.ask("text_me", str(PHONE), welcome["token"])
    assert r.status_code == 202, r.text
    await rig.settled(r.json()["event_id"])
    await sms(site, "SM2", "yes")  # the number is Ana's: only a suggestion for Ben
    [suggestion] = (await rig.api.get("/api/v1/suggestions", params={"customer_id": ben})).json()[
        "items"
    ]
    assert suggestion["other_customer_id"] == ana

    # The agent keeps both: a shared number, nothing merged.
    async with site.agent("sam@acme.test") as sam:
        page = await sam.client.get(f"/agent/conversations/{(await conv_of(site, ben))['id']}")
        assert "Shared number: keep both" in page.text
        r = await sam.post(f"/agent/suggestions/{suggestion['id']}/share")
        assert r.status_code == 200, r.text
    assert await site.customer_id(PHONE) == ana != ben
    assert len(await site.conversations()) == 2

    # A call from it: nobody's name, nobody's topic.
    answer = parse_twiml(
        (await rig.twilio.post("/voice", rig.twilio.call_params("CA1", "ringing"))).text
    )
    assert (answer[0].text or "").startswith("Thanks for calling Acme.")
    for private in ("Ana", "Ben", "parcel", "invoice", "55"):
        assert private not in (answer[0].text or "")

    # We text Ben there; the answer goes to Ben's conversation, hidden, with a question.
    bens = await conv_of(site, ben)
    r = await rig.api.post(
        f"/api/v1/conversations/{bens['id']}/reply",
        json={"text": "The invoice is ready in your account", "channel": "sms"},
    )
    assert r.status_code == 202, r.text
    await rig.settled(r.json()["id"])
    assert site.rest.messages[-1]["To"] == CUSTOMER
    await sms(site, "SM3", "Which account?")
    events = await site.events(bens["id"])
    [question] = [e for e in events if e["meta"].get("shared_question")]
    assert question["meta"]["shared_question"]["routed_to"] == ben
    assert question["meta"]["shared_question"]["why"] == "texted_last"
    assert "Which person is it?" in question["text"]
    [asked] = [e for e in events if e["text"] == "Which account?"]
    assert asked["customer_id"] == ben and asked["meta"]["unverified_from"] == str(PHONE)
    anas = await conv_of(site, ana)
    assert "Which account?" not in texts(await site.events(anas["id"]))
    assert "Which account?" not in texts(await site.seen_by(welcome["token"]))
    assert "invoice" not in texts(await rig.timeline(ana))
    assert "parcel 55" not in texts(await rig.timeline(ben))

    # The agent answers: Ben. The rest of the exchange is his.
    async with site.agent("kim@acme.test") as kim:
        page = await kim.client.get(f"/agent/conversations/{bens['id']}")
        assert "It was" in page.text
        r = await kim.post(f"/agent/events/{question['id']}/shared-sender", {"customer_id": ben})
        assert r.status_code == 200, r.text
    await sms(site, "SM4", "Found it, thanks")
    events = await site.events(bens["id"])
    assert len([e for e in events if e["meta"].get("shared_question")]) == 1
    [thanks] = [e for e in events if e["text"] == "Found it, thanks"]
    assert "unverified_from" not in thanks["meta"]
    assert "Found it, thanks" in texts(await site.seen_by(welcome["token"]))

    # Now we text Ana there: her reply goes to her, asked about again.
    r = await rig.api.post(
        f"/api/v1/conversations/{anas['id']}/reply",
        json={"text": "Parcel 55 ships today", "channel": "sms"},
    )
    assert r.status_code == 202, r.text
    await rig.settled(r.json()["id"])
    await sms(site, "SM5", "Great")
    anas_events = await site.events(anas["id"])
    [great] = [e for e in anas_events if e["text"] == "Great"]
    assert great["customer_id"] == ana
    # Asked twice on hers: the call (nobody texted yet: its owner) and this reply.
    asked_ana = [
        e["meta"]["shared_question"] for e in anas_events if e["meta"].get("shared_question")
    ]
    assert [(q["routed_to"], q["why"]) for q in asked_ana] == [
        (ana, "owner"),
        (ana, "texted_last"),
    ]
    assert "Great" not in texts(await site.events(bens["id"]))
    # What the phone received: the neutral text-me prompt and each person's own replies.
    bodies = [m["Body"] for m in site.rest.messages]
    assert bodies[0].startswith("Acme: you asked us to text you here.")
    assert bodies[1:] == ["The invoice is ready in your account", "Parcel 55 ships today"]
