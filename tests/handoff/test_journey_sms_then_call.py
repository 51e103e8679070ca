"""Journey 3: a customer texts, then calls the same number.

The call joins the texted conversation; the TwiML greeting speaks the short
context (their own words and the assigned agent, nothing the agents wrote);
the voicemail and its transcript land in the same conversation, after a
handoff card the agent sees.
"""

from __future__ import annotations

from pathlib import Path

from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from tests.connectors.test_twilio import twilio_settings
from tests.connectors.twilio_kit import CUSTOMER, RestDouble, parse_twiml, verbs
from tests.handoff.conftest import running_hub
from tests.servers import serve

PHONE = Identity("phone", CUSTOMER)
FIRST = "Hi, I'm still waiting for my refund for order 1234"
TRANSCRIPT = "It's Ana again about the refund, please call me back."


async def test_text_then_call_greets_with_the_context_and_keeps_one_conversation(
    store: TimelineStore, tmp_path: Path
) -> None:
    rest = RestDouble()
    rest.media["recordings/RE1.mp3"] = (b"ID3 voicemail", "audio/mpeg")
    async with (
        serve(rest.app()) as rest_url,
        running_hub(store, tmp_path, {"twilio": twilio_settings(rest_url)}) as rig,
    ):
        assert (await rig.twilio.sms("SM1", FIRST)).status_code == 200
        customer = await rig.customer(PHONE)
        await rig.hub.store.update_customer(customer.id, name="Ana García")
        [texted] = await rig.timeline(customer.id)
        conv = texted["conversation_id"]

        # The agent answers, promises something in a note, and takes the conversation.
        reply = await rig.api.post(
            f"/api/v1/conversations/{conv}/reply",
            json={"text": "Sorry Ana, checking the refund for order 1234 now", "channel": "sms"},
        )
        assert reply.status_code == 202, reply.text
        await rig.settled(reply.json()["id"])
        note = await rig.api.post(
            f"/api/v1/conversations/{conv}/notes",
            json={"text": "Ask finance about the card reversal tomorrow", "follow_up": True},
        )
        assert note.status_code == 201, note.text
        r = await rig.api.patch(f"/api/v1/conversations/{conv}", json={"assignee": "sam@acme.test"})
        assert r.status_code == 200, r.text

        # She calls: the greeting carries the context, then the agents are rung.
        answer = parse_twiml(
            (await rig.twilio.post("/voice", rig.twilio.call_params("CA1", "ringing"))).text
        )
        assert verbs(answer) == ["Say", "Dial"]
        greeting = answer[0].text or ""
        assert greeting.startswith("Hi Ana — I see you were texting us about “Hi, I'm still")
        assert greeting.endswith("Connecting you to Sam.")
        assert len(greeting) <= 160
        for private in ("finance", "card reversal", "checking", CUSTOMER, "García"):
            assert private not in greeting

        # Nobody answers; she leaves a voicemail that gets transcribed.
        dial = answer[1]
        missed = parse_twiml(
            (
                await rig.twilio.post(
                    dial.get("action") or "",
                    rig.twilio.call_params("CA1", "in-progress", DialCallStatus="no-answer"),
                )
            ).text
        )
        record = missed[1]
        await rig.twilio.post(
            record.get("action") or "",
            rig.twilio.call_params(
                "CA1",
                "in-progress",
                RecordingUrl=f"{rest_url}/media/recordings/RE1",
                RecordingSid="RE1",
                RecordingDuration="9",
            ),
        )
        r = await rig.twilio.post(
            record.get("transcribeCallback") or "",
            rig.twilio.call_params(
                "CA1",
                "completed",
                TranscriptionSid="TR1",
                TranscriptionText=TRANSCRIPT,
                TranscriptionStatus="completed",
                RecordingSid="RE1",
            ),
        )
        assert r.status_code == 200

        timeline = await rig.timeline(customer.id)
        assert {e["conversation_id"] for e in timeline} == {conv}
        assert [(e["channel"], e["kind"], e["direction"]) for e in timeline] == [
            ("sms", "message", "in"),
            ("sms", "message", "out"),
            ("hub", "note", "internal"),
            ("hub", "handoff", "internal"),
            ("voice", "call", "in"),
            ("voice", "call", "in"),
            ("voice", "voicemail", "in"),
            ("voice", "voicemail", "in"),
        ]
        assert timeline[-1]["text"] == TRANSCRIPT

        # The agent's card: where she came from, her first words, the open promise.
        handoffs = (await rig.api.get(f"/api/v1/conversations/{conv}/handoffs")).json()["items"]
        [card] = [h["meta"]["card"] for h in handoffs]
        assert (card["from_channel"], card["to_channel"]) == ("sms", "voice")
        assert card["first_message"]["text"] == FIRST
        assert [p["text"] for p in card["promises"]] == [
            "Ask finance about the card reversal tomorrow"
        ]
        assert card["last_agent"] == "sam@acme.test"
        assert card["conversations"][0]["id"] == conv
        assert card["since_last_contact_seconds"] >= 0
