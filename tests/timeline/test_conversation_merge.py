"""Store contract: merging one customer's conversations, and undoing it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.errors import Conflict
from hub.timeline.model import ConversationStatus, Direction, utcnow
from hub.timeline.store import TimelineStore
from tests.timeline.factories import event


async def test_merge_moves_events_refolds_and_unmerges(store: TimelineStore) -> None:
    ana = await store.create_customer(name="Ana")
    start = utcnow() - timedelta(hours=2)
    first = await store.open_conversation(ana.id, channel="email")
    second = await store.open_conversation(ana.id, channel="sms")
    await store.append_event(event(ana.id, first.id, channel="email", text="one", at=start))
    reply = event(ana.id, first.id, channel="email", direction=Direction.OUT, text="ok")
    reply.occurred_at = start + timedelta(minutes=1)
    await store.append_event(reply)
    await store.append_event(event(ana.id, second.id, text="two", at=start + timedelta(hours=1)))

    merged = await store.merge_conversations(first.id, second.id)
    assert merged.id == second.id and sorted(merged.channels) == ["email", "sms"]
    assert merged.last_channel == "sms" and merged.last_message_preview == "two"
    assert merged.waiting_since is not None
    page = await store.events(conversation_id=second.id, limit=10)
    assert [e.text for e in page.items] == ["one", "ok", "two"]
    assert {e.meta.get("merged_from") for e in page.items} == {first.id, None}
    assert (await store.get_conversation(first.id)).status is ConversationStatus.RESOLVED
    assert (await store.events(conversation_id=first.id, limit=10)).items == []

    # Folding keeps working after the refold (MongoDB's $min needs absent, not null).
    reply = event(ana.id, second.id, direction=Direction.OUT, text="answered")
    await store.append_event(reply)
    later = event(ana.id, second.id, text="again", at=utcnow())
    await store.append_event(later)
    assert (await store.get_conversation(second.id)).waiting_since is not None

    restored = await store.unmerge_conversation(first.id)
    assert [c.id for c in restored] == [first.id, second.id]
    back = await store.events(conversation_id=first.id, limit=10)
    assert [e.text for e in back.items] == ["one", "ok"]
    assert all("merged_from" not in e.meta for e in back.items)
    assert restored[0].status is ConversationStatus.OPEN
    assert [e.text for e in (await store.events(conversation_id=second.id, limit=10)).items] == [
        "two",
        "answered",
        "again",
    ]
    with pytest.raises(Conflict):
        await store.unmerge_conversation(first.id)


async def test_merge_refuses_two_customers(store: TimelineStore) -> None:
    ana = await store.create_customer(name="Ana")
    ben = await store.create_customer(name="Ben")
    one = await store.open_conversation(ana.id, channel="sms")
    two = await store.open_conversation(ben.id, channel="sms")
    with pytest.raises(Conflict):
        await store.merge_conversations(one.id, two.id)
    with pytest.raises(Conflict):
        await store.merge_conversations(one.id, one.id)
