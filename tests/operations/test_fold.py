"""An automated message (an acknowledgement, a closing warning) is not a reply: the
customer is still waiting and the first-response clock still runs (both stores)."""

from __future__ import annotations

from hub.timeline.model import utcnow
from hub.timeline.store import TimelineStore
from tests.operations.kit import FakeClock, make_hub


async def test_an_automated_message_does_not_answer_the_customer(store: TimelineStore) -> None:
    hub = make_hub(store, FakeClock(utcnow()), {"enabled": True})
    event = await hub.ingest("m1", "Is my order on its way?")
    conv_id = event.conversation_id
    assert conv_id is not None
    await hub.pipeline.send(conv_id, text="We got your message.", meta={"automated": True})
    conv = await store.get_conversation(conv_id)
    assert conv.waiting_since == event.occurred_at and conv.first_response_at is None
    reply = await hub.pipeline.send(conv_id, text="It ships today.", author="Sam")
    conv = await store.get_conversation(conv_id)
    assert conv.waiting_since is None and conv.first_response_at == reply.occurred_at
