"""Store contract: conversations and inbox listings."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from hub.errors import NotFound
from hub.timeline.model import Conversation, ConversationStatus, Direction, Priority, utcnow
from hub.timeline.store import (
    ConversationUpdate,
    InboxFilter,
    InvalidCursor,
    TimelineStore,
    encode_cursor,
)
from tests.timeline.factories import close, event

ANY_STATUS = InboxFilter(status=())


async def test_open_conversation(store: TimelineStore) -> None:
    ana = await store.create_customer(name="Ana")
    before = utcnow()
    conv = await store.open_conversation(ana.id, channel="email", subject="Refund")
    assert conv.customer_id == ana.id
    assert conv.origin_customer_id == ana.id
    assert conv.status is ConversationStatus.OPEN
    assert conv.subject == "Refund"
    assert conv.channels == ["email"]
    assert conv.last_channel == "email"
    assert conv.priority is Priority.NORMAL
    assert conv.waiting_since is None
    assert conv.opened_at >= before - timedelta(milliseconds=1)

    fetched = await store.get_conversation(conv.id)
    assert fetched.id == conv.id
    assert fetched.subject == "Refund"
    assert fetched.channels == ["email"]
    assert close(fetched.opened_at, conv.opened_at)
    assert close(fetched.last_activity_at, conv.last_activity_at)


async def test_get_missing_conversation(store: TimelineStore) -> None:
    with pytest.raises(NotFound):
        await store.get_conversation("con_missing")
    with pytest.raises(NotFound):
        await store.update_conversation("con_missing", ConversationUpdate(subject="x"))


async def test_open_key_makes_opening_idempotent(store: TimelineStore) -> None:
    ana = await store.create_customer()
    first = await store.open_conversation(ana.id, channel="sms", open_key="sms\x1fm1")
    again = await store.open_conversation(ana.id, channel="sms", open_key="sms\x1fm1")
    other = await store.open_conversation(ana.id, channel="sms", open_key="sms\x1fm2")
    assert again.id == first.id
    assert other.id != first.id


async def test_open_key_under_concurrency(store: TimelineStore) -> None:
    ana = await store.create_customer()
    opened = await asyncio.gather(
        *(store.open_conversation(ana.id, channel="chat", open_key="chat\x1fk") for _ in range(4))
    )
    assert len({c.id for c in opened}) == 1
    page = await store.list_conversations(InboxFilter(customer_id=ana.id))
    assert [c.id for c in page.items] == [opened[0].id]


async def test_update_conversation_fields(store: TimelineStore) -> None:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="sms", subject="Old")
    snooze = utcnow() + timedelta(hours=2)
    updated = await store.update_conversation(
        conv.id,
        ConversationUpdate(
            status=ConversationStatus.SNOOZED,
            subject="New",
            assignee="agent-1",
            priority=Priority.HIGH,
            tags=["billing", "vip"],
            snoozed_until=snooze,
        ),
    )
    assert updated.status is ConversationStatus.SNOOZED
    assert updated.subject == "New"
    assert updated.assignee == "agent-1"
    assert updated.priority is Priority.HIGH
    assert updated.tags == ["billing", "vip"]
    assert close(updated.snoozed_until, snooze)

    fetched = await store.get_conversation(conv.id)
    assert fetched.subject == "New"
    assert fetched.tags == ["billing", "vip"]
    assert close(fetched.snoozed_until, snooze)

    untouched = await store.update_conversation(conv.id, ConversationUpdate(subject="Newer"))
    assert untouched.assignee == "agent-1"
    assert untouched.status is ConversationStatus.SNOOZED
    assert untouched.tags == ["billing", "vip"]

    cleared = await store.update_conversation(
        conv.id, ConversationUpdate(assignee=None, snoozed_until=None)
    )
    assert cleared.assignee is None
    assert cleared.snoozed_until is None
    assert cleared.subject == "Newer"


async def test_resolving_stamps_resolved_at_and_reopening_clears_it(store: TimelineStore) -> None:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="sms")
    before = utcnow()
    resolved = await store.update_conversation(
        conv.id, ConversationUpdate(status=ConversationStatus.RESOLVED)
    )
    assert resolved.status is ConversationStatus.RESOLVED
    assert resolved.resolved_at is not None
    assert resolved.resolved_at >= before - timedelta(milliseconds=1)
    assert (await store.get_conversation(conv.id)).resolved_at is not None

    pending = await store.update_conversation(
        conv.id, ConversationUpdate(status=ConversationStatus.PENDING)
    )
    assert pending.status is ConversationStatus.PENDING
    assert pending.resolved_at is None
    assert (await store.get_conversation(conv.id)).resolved_at is None


async def test_find_open_conversation(store: TimelineStore) -> None:
    ana = await store.create_customer()
    assert await store.find_open_conversation(ana.id) is None
    t0 = utcnow()
    sms = await store.open_conversation(ana.id, channel="sms")
    email = await store.open_conversation(ana.id, channel="email")
    await store.append_event(event(ana.id, sms.id, channel="sms", at=t0 + timedelta(minutes=1)))
    await store.append_event(event(ana.id, email.id, channel="email", at=t0 + timedelta(minutes=2)))

    latest = await store.find_open_conversation(ana.id)
    assert latest is not None
    assert latest.id == email.id
    on_sms = await store.find_open_conversation(ana.id, channel="sms")
    assert on_sms is not None
    assert on_sms.id == sms.id
    assert await store.find_open_conversation(ana.id, channel="whatsapp") is None

    await store.update_conversation(email.id, ConversationUpdate(status=ConversationStatus.PENDING))
    pending = await store.find_open_conversation(ana.id)
    assert pending is not None
    assert pending.id == email.id

    await store.update_conversation(
        email.id, ConversationUpdate(status=ConversationStatus.RESOLVED)
    )
    still_open = await store.find_open_conversation(ana.id)
    assert still_open is not None
    assert still_open.id == sms.id

    await store.update_conversation(sms.id, ConversationUpdate(status=ConversationStatus.RESOLVED))
    assert await store.find_open_conversation(ana.id) is None


async def _inbox(store: TimelineStore) -> dict[str, Conversation]:
    """Five conversations with distinct activity times and attributes."""
    ana = await store.create_customer(name="Ana")
    ben = await store.create_customer(name="Ben")
    t0 = utcnow()
    convs: dict[str, Conversation] = {}
    for i, (name, customer, channel) in enumerate(
        [
            ("a", ana.id, "sms"),
            ("b", ana.id, "email"),
            ("c", ben.id, "chat"),
            ("d", ben.id, "sms"),
            ("e", ben.id, "email"),
        ]
    ):
        conv = await store.open_conversation(customer, channel=channel, subject=name)
        await store.append_event(
            event(customer, conv.id, channel=channel, at=t0 + timedelta(minutes=i + 1))
        )
        convs[name] = conv
    await store.update_conversation(
        convs["b"].id, ConversationUpdate(assignee="agent-1", priority=Priority.HIGH)
    )
    await store.update_conversation(convs["c"].id, ConversationUpdate(assignee="agent-2"))
    await store.update_conversation(
        convs["d"].id, ConversationUpdate(status=ConversationStatus.RESOLVED)
    )
    await store.update_conversation(
        convs["e"].id, ConversationUpdate(status=ConversationStatus.SNOOZED)
    )
    return convs


def subjects(items: list[Conversation]) -> list[str | None]:
    return [c.subject for c in items]


async def test_list_conversations_filters(store: TimelineStore) -> None:
    convs = await _inbox(store)
    ana_id = convs["a"].customer_id

    default = await store.list_conversations(InboxFilter())
    assert subjects(default.items) == ["c", "b", "a"]  # open and pending, latest first
    assert default.next is None

    everything = await store.list_conversations(ANY_STATUS)
    assert subjects(everything.items) == ["e", "d", "c", "b", "a"]

    resolved = await store.list_conversations(InboxFilter(status=(ConversationStatus.RESOLVED,)))
    assert subjects(resolved.items) == ["d"]

    mine = await store.list_conversations(InboxFilter(status=(), assignee="agent-1"))
    assert subjects(mine.items) == ["b"]

    unassigned = await store.list_conversations(InboxFilter(status=(), unassigned=True))
    assert subjects(unassigned.items) == ["e", "d", "a"]

    urgent = await store.list_conversations(InboxFilter(status=(), priority=Priority.HIGH))
    assert subjects(urgent.items) == ["b"]

    by_sms = await store.list_conversations(InboxFilter(status=(), channel="sms"))
    assert subjects(by_sms.items) == ["d", "a"]

    anas = await store.list_conversations(InboxFilter(status=(), customer_id=ana_id))
    assert subjects(anas.items) == ["b", "a"]


async def test_channel_filter_sees_every_channel_a_conversation_used(
    store: TimelineStore,
) -> None:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="chat")
    await store.append_event(event(ana.id, conv.id, channel="email"))
    for channel in ("chat", "email"):
        page = await store.list_conversations(InboxFilter(channel=channel))
        assert [c.id for c in page.items] == [conv.id]
    assert (await store.list_conversations(InboxFilter(channel="sms"))).items == []


async def test_list_conversations_pages_by_last_activity(store: TimelineStore) -> None:
    await _inbox(store)
    seen: list[str | None] = []
    cursor = None
    pages = 0
    while True:
        page = await store.list_conversations(ANY_STATUS, cursor=cursor, limit=2)
        pages += 1
        seen.extend(subjects(page.items))
        if page.next is None:
            break
        cursor = page.next
    assert seen == ["e", "d", "c", "b", "a"]
    assert pages == 3


async def test_last_activity_ties_break_by_id_descending(store: TimelineStore) -> None:
    ana = await store.create_customer()
    at = utcnow() + timedelta(minutes=5)
    ids = []
    for _ in range(5):
        conv = await store.open_conversation(ana.id, channel="sms")
        await store.append_event(event(ana.id, conv.id, at=at))
        ids.append(conv.id)
    expected = sorted(ids, reverse=True)
    first = await store.list_conversations(ANY_STATUS, limit=3)
    assert first.next is not None
    rest = await store.list_conversations(ANY_STATUS, limit=3, cursor=first.next)
    assert [c.id for c in first.items + rest.items] == expected
    assert rest.next is None


async def test_waiting_sort_lists_longest_waiting_first(store: TimelineStore) -> None:
    ana = await store.create_customer()
    t0 = utcnow()
    answered = await store.open_conversation(ana.id, channel="sms", subject="answered")
    recent = await store.open_conversation(ana.id, channel="sms", subject="recent")
    oldest = await store.open_conversation(ana.id, channel="sms", subject="oldest")
    silent = await store.open_conversation(ana.id, channel="sms", subject="silent")
    assert silent.waiting_since is None
    await store.append_event(event(ana.id, oldest.id, at=t0 + timedelta(minutes=1)))
    await store.append_event(event(ana.id, answered.id, at=t0 + timedelta(minutes=2)))
    await store.append_event(event(ana.id, recent.id, at=t0 + timedelta(minutes=3)))
    await store.append_event(event(ana.id, oldest.id, at=t0 + timedelta(minutes=4)))
    await store.append_event(
        event(ana.id, answered.id, direction=Direction.OUT, at=t0 + timedelta(minutes=5))
    )

    page = await store.list_conversations(ANY_STATUS, sort="waiting")
    assert subjects(page.items) == ["oldest", "recent"]
    assert page.next is None

    first = await store.list_conversations(ANY_STATUS, sort="waiting", limit=1)
    assert subjects(first.items) == ["oldest"]
    assert first.next is not None
    second = await store.list_conversations(ANY_STATUS, sort="waiting", limit=1, cursor=first.next)
    assert subjects(second.items) == ["recent"]
    assert second.next is None


async def test_list_conversations_rejects_foreign_cursors(store: TimelineStore) -> None:
    for bad in ("garbage!", encode_cursor(1), encode_cursor("not a time", "con_x")):
        with pytest.raises(InvalidCursor):
            await store.list_conversations(ANY_STATUS, cursor=bad)
