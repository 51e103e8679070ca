"""What the caller hears: the agent's display name ("Connecting you to Sam"), the
topic in the customer's own words (their voicemail transcript, not "Incoming
call"), whole sentences."""

from __future__ import annotations

from hub.agent.passwords import hash_password
from hub.timeline.model import Identity
from tests.connectors.twilio_kit import CUSTOMER, parse_twiml
from tests.journeys.conftest import Site

TRANSCRIPT = "Hi it's about my boiler, it is leaking since this morning"


async def voicemail(site: Site, sid: str) -> None:
    rig = site.rig
    site.rest.media[f"recordings/RE{sid}.mp3"] = (b"ID3 voicemail", "audio/mpeg")
    answer = parse_twiml(
        (await rig.twilio.post("/voice", rig.twilio.call_params(sid, "ringing"))).text
    )
    missed = parse_twiml(
        (
            await rig.twilio.post(
                answer[-1].get("action") or "",
                rig.twilio.call_params(sid, "in-progress", DialCallStatus="no-answer"),
            )
        ).text
    )
    record = missed[1]
    r = await rig.twilio.post(
        record.get("transcribeCallback") or "",
        rig.twilio.call_params(
            sid,
            "completed",
            TranscriptionSid=f"TR{sid}",
            TranscriptionText=TRANSCRIPT,
            TranscriptionStatus="completed",
            RecordingSid=f"RE{sid}",
        ),
    )
    assert r.status_code == 200, r.text


async def test_the_greeting_names_the_agent_and_uses_the_voicemail(site: Site) -> None:
    rig = site.rig
    await rig.hub.store.create_agent(
        email="sam@acme.test", name="Samantha Rivera", password_hash=hash_password("x" * 12)
    )
    await voicemail(site, "CA1")
    [conv] = await site.conversations()
    r = await rig.api.patch(
        f"/api/v1/conversations/{conv['id']}",
        json={"assignee": "sam@acme.test", "subject": "Incoming call"},
    )
    assert r.status_code == 200, r.text
    assert (await rig.twilio.sms("SM1", "any update on this?")).status_code == 200
    answer = parse_twiml(
        (await rig.twilio.post("/voice", rig.twilio.call_params("CA2", "ringing"))).text
    )
    greeting = answer[0].text or ""
    assert greeting.startswith("Hi — I see you were texting us about “Hi it's about my boiler")
    assert greeting.endswith("Connecting you to Samantha.")
    assert (
        "Incoming call" not in greeting and "sam@" not in greeting and " the asked" not in greeting
    )
    assert len(greeting) <= 160
    # One customer, one conversation.
    customer = await site.customer_id(Identity("phone", CUSTOMER))
    convs = await site.conversations()
    assert [c["customer_id"] for c in convs] == [customer]


async def test_call_me_back_whispers_the_customers_words(site: Site) -> None:
    rig = site.rig
    await voicemail(site, "CA1")
    [conv] = await site.conversations()
    r = await rig.api.post(
        f"/api/v1/conversations/{conv['id']}/handoff/call_me", json={"to": f"phone:{CUSTOMER}"}
    )
    assert r.status_code == 202, r.text
    await rig.settled(r.json()["id"])
    [call] = site.rest.calls
    assert f"A customer asked to be called back about: {TRANSCRIPT}" in call["Twiml"]
    assert "Incoming call" not in call["Twiml"]
