"""The context packet: what it gathers from the timeline and how each rendering reads."""

from __future__ import annotations

from hub.bus import Bus
from hub.connectors.base import InboundMessage
from hub.handoff.context import SHORT_LIMIT, build_packet
from hub.handoff.identity import find_claims
from hub.pipeline import Pipeline
from hub.timeline.model import Identity
from hub.timeline.store import ConversationUpdate, TimelineStore

ANA = Identity("phone", "+14155550100")


async def conversation(store: TimelineStore, *texts: str, name: str | None = "Ana García") -> str:
    pipeline = Pipeline(store, Bus())
    conv = ""
    for i, text in enumerate(texts):
        result = await pipeline.ingest(
            InboundMessage(
                channel="sms", external_id=f"m{i}", identity=ANA, text=text, customer_name=name
            )
        )
        conv = result.event.conversation_id or ""
    return conv


async def test_the_packet_gathers_promises_and_drops_fulfilled_ones(store: TimelineStore) -> None:
    pipeline = Pipeline(store, Bus())
    conv_id = await conversation(store, "My refund for order 1234 is missing", "Any news?")
    kept = await pipeline.note(conv_id, "Call the bank Monday", meta={"follow_up": True})
    done = await pipeline.note(conv_id, "Resend the invoice", meta={"follow_up": True})
    await pipeline.note(conv_id, "Invoice resent", meta={"fulfils": done.id})
    await pipeline.note(conv_id, "Just a remark")
    await store.update_conversation(conv_id, ConversationUpdate(assignee="sam@acme.test"))
    packet = await build_packet(store, await store.get_conversation(conv_id), to_channel="voice")
    card = packet.agent_card()
    assert [p["event_id"] for p in card["promises"]] == [kept.id]
    assert card["first_message"]["text"] == "My refund for order 1234 is missing"
    assert [e["text"] for e in card["latest"]] == [
        "My refund for order 1234 is missing",
        "Any news?",
    ]
    assert card["last_agent"] == "sam@acme.test"
    assert card["customer"]["name"] == "Ana García"
    assert card["conversations"][0]["status"] == "open"
    header = packet.email_header()
    # The header goes to the customer: her words, never an agent's notes.
    assert "My refund for order 1234" in header and "Call the bank Monday" not in header


async def test_agents_subject_tags_and_notes_never_reach_customer_texts(
    store: TimelineStore,
) -> None:
    pipeline = Pipeline(store, Bus())
    conv_id = await conversation(store, "Where is my parcel?")
    await pipeline.note(conv_id, "suspected fraud, do not ship", meta={"follow_up": True})
    await store.update_conversation(
        conv_id, ConversationUpdate(subject="suspected fraud, do not ship", tags=["fraud"])
    )
    packet = await build_packet(store, await store.get_conversation(conv_id))
    assert packet.topic == "Where is my parcel?"
    for text in (packet.short_text(), packet.short_text(agent="Sam"), packet.email_header()):
        assert "fraud" not in text and "do not ship" not in text
    assert packet.agent_card()["conversations"][0]["subject"] == "suspected fraud, do not ship"


async def test_the_short_text_fits_160_and_holds_only_her_words(store: TimelineStore) -> None:
    long_words = "My refund " + "really " * 60 + "never came"
    conv_id = await conversation(store, long_words)
    pipeline = Pipeline(store, Bus())
    await pipeline.note(conv_id, "Card 4242 flagged as fraud", meta={"follow_up": True})
    packet = await build_packet(store, await store.get_conversation(conv_id))
    for agent in (None, "Sam"):
        short = packet.short_text(agent=agent)
        assert len(short) <= SHORT_LIMIT
        assert short.startswith("Hi Ana — I see you were texting us about “My refund really")
        assert "4242" not in short and "fraud" not in short and "García" not in short
        assert "+1415" not in short
    assert packet.short_text(agent="Sam").endswith("Connecting you to Sam.")


async def test_no_name_and_no_words_still_make_a_greeting(store: TimelineStore) -> None:
    conv_id = await conversation(store, "", name=None)
    packet = await build_packet(store, await store.get_conversation(conv_id))
    assert packet.short_text() == "Hi — I see you were texting us."


def test_claims_are_found_in_free_text() -> None:
    found = dict(
        find_claims(
            "Reach me at Ana.Lima@Example.com or (415) 555-0100.\n-- \nAna, +44 20 7946 0958"
        )
    )
    assert set(found) == {
        Identity("email", "ana.lima@example.com"),
        Identity("phone", "+14155550100"),
        Identity("phone", "+442079460958"),
    }
    assert "Reach me at" in found[Identity("email", "ana.lima@example.com")]
    assert find_claims("order 1234, call me tomorrow") == []
