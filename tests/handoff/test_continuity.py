"""Continuity inside ``pipeline.ingest`` on both stores: which conversation a message on
another channel joins, when a handoff card is added, and what can switch it off."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from hub.bus import Bus
from hub.connectors.base import InboundMessage
from hub.handoff import Handoff
from hub.pipeline import Pipeline
from hub.settings import HandoffSettings
from hub.signing import Signer
from hub.timeline.model import ConversationStatus, Event, EventKind, Identity, utcnow
from hub.timeline.store import ConversationUpdate, TimelineStore

PHONE = Identity("phone", "+14155550100")
Make = Callable[..., Pipeline]


@pytest.fixture
async def make(store: TimelineStore) -> AsyncIterator[Make]:
    bus = Bus()

    def build(**settings: Any) -> Pipeline:
        pipeline = Pipeline(store, bus)
        Handoff(
            pipeline,
            Signer(b"continuity-tests-key-0123456789"),
            HandoffSettings(**settings),
            public_url="https://hub.example.com",
        )
        return pipeline

    yield build
    bus.close()


async def say(pipeline: Pipeline, channel: str, ref: str, text: str = "hello", **kw: Any) -> Event:
    result = await pipeline.ingest(
        InboundMessage(channel=channel, external_id=ref, identity=PHONE, text=text, **kw)
    )
    return result.event


async def kinds(store: TimelineStore, conversation_id: str | None) -> list[tuple[str, str]]:
    assert conversation_id is not None
    page = await store.events(conversation_id=conversation_id, limit=100)
    return [(e.channel, e.kind.value) for e in page.items]


async def test_another_channel_joins_the_conversation_with_one_handoff_card(make: Make) -> None:
    pipeline = make()
    first = await say(pipeline, "whatsapp", "w1", "My order 1234 is late")
    second = await say(pipeline, "sms", "s1", "texting instead")
    third = await say(pipeline, "sms", "s2", "still me")
    back = await say(pipeline, "whatsapp", "w2", "back on WhatsApp")
    assert first.conversation_id == second.conversation_id == third.conversation_id
    assert back.conversation_id == first.conversation_id
    assert await kinds(pipeline.store, first.conversation_id) == [
        ("whatsapp", "message"),
        ("hub", "handoff"),
        ("sms", "message"),
        ("sms", "message"),
        ("hub", "handoff"),
        ("whatsapp", "message"),
    ]
    page = await pipeline.store.events(conversation_id=first.conversation_id, limit=100)
    card = page.items[1].meta
    assert (card["from"], card["to"], card["via"]) == ("whatsapp", "sms", "continuity")
    assert card["card"]["first_message"]["text"] == "My order 1234 is late"
    assert len(card["short"]) <= 160


async def test_outside_the_window_a_new_conversation_opens(make: Make) -> None:
    pipeline = make(window_hours=1)
    old = await say(pipeline, "whatsapp", "w1", occurred_at=utcnow() - timedelta(hours=2))
    new = await say(pipeline, "sms", "s1")
    assert new.conversation_id != old.conversation_id
    # …starting with a card that points at the earlier one.
    assert await kinds(pipeline.store, new.conversation_id) == [
        ("hub", "handoff"),
        ("sms", "message"),
    ]
    [card, _] = (await pipeline.store.events(conversation_id=new.conversation_id)).items
    assert card.meta["via"] == "earlier"
    assert card.meta["earlier_conversation_id"] == old.conversation_id
    assert card.meta["card"]["conversations"][0]["id"] == old.conversation_id


async def test_a_resolved_conversation_within_the_window_is_joined_and_reopened(
    make: Make,
) -> None:
    pipeline = make()
    first = await say(pipeline, "whatsapp", "w1")
    assert first.conversation_id is not None
    await pipeline.store.update_conversation(
        first.conversation_id, ConversationUpdate(status=ConversationStatus.RESOLVED)
    )
    again = await say(pipeline, "sms", "s1")
    assert again.conversation_id == first.conversation_id
    conv = await pipeline.store.get_conversation(first.conversation_id)
    assert conv.status is ConversationStatus.OPEN


@pytest.mark.parametrize(
    "rules",
    [{"sms": {"enabled": False}}, {"sms:Support": {"enabled": False}}],
)
async def test_continuity_can_be_switched_off_per_channel_or_inbox(
    make: Make, rules: dict[str, Any]
) -> None:
    pipeline = make(rules=rules)
    first = await say(pipeline, "whatsapp", "w1")
    other = await say(pipeline, "sms", "s1", meta={"inbox": "Support"})
    assert other.conversation_id != first.conversation_id


async def test_an_inbox_rule_leaves_other_inboxes_alone(make: Make) -> None:
    pipeline = make(rules={"sms:Sales": {"enabled": False}})
    first = await say(pipeline, "whatsapp", "w1")
    other = await say(pipeline, "sms", "s1", meta={"inbox": "Support"})
    assert other.conversation_id == first.conversation_id


async def test_a_new_thread_keeps_its_own_conversation_unless_the_rule_allows(
    make: Make,
) -> None:
    pipeline = make()
    first = await say(pipeline, "whatsapp", "w1")
    mail = await say(pipeline, "email", "e1", new_thread=True, subject="Another topic")
    assert mail.conversation_id != first.conversation_id

    joining = make(rules={"email": {"new_threads": True}})
    joined = await say(joining, "email", "e2", new_thread=True, subject="Same topic")
    assert joined.conversation_id == mail.conversation_id  # the most recent one


async def test_continuity_off_keeps_conversations_per_channel(make: Make) -> None:
    pipeline = make(continuity=False)
    first = await say(pipeline, "whatsapp", "w1")
    other = await say(pipeline, "sms", "s1")
    assert other.conversation_id != first.conversation_id
    assert EventKind.HANDOFF.value not in {
        k for _, k in await kinds(pipeline.store, other.conversation_id)
    }
