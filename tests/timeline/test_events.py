"""Store contract: appending events, folding them into conversations, timeline pages."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from hub.errors import NotFound
from hub.timeline.model import (
    Attachment,
    ConversationStatus,
    Direction,
    EventKind,
    Identity,
    utcnow,
)
from hub.timeline.store import ConversationUpdate, InvalidCursor, TimelineStore, encode_cursor
from tests.timeline.factories import close, event

ANA = Identity("phone", "+14155550100")


async def test_append_assigns_seq_and_origin(store: TimelineStore) -> None:
    ana = await store.create_customer()
    first, created = await store.append_event(event(ana.id, text="one"))
    second, _ = await store.append_event(event(ana.id, text="two"))
    assert created
    assert 0 < first.seq < second.seq
    assert first.origin_customer_id == ana.id
    assert first.text == "one"


async def test_append_roundtrips_every_field(store: TimelineStore) -> None:
    ana = await store.create_customer(identities=(ANA,))
    conv = await store.open_conversation(ana.id, channel="mms")
    at = utcnow() - timedelta(minutes=3)
    record = event(
        ana.id,
        conv.id,
        channel="mms",
        text="see photo",
        at=at,
        external_id="SM123",
        thread_ref="thread-1",
    )
    record.author = "Ana"
    record.html = "<p>see photo</p>"
    record.subject = "Photo"
    record.identity = ANA
    record.attachments = [Attachment("sha256-" + "a" * 64, "cat.jpg", "image/jpeg", 1234)]
    record.meta = {"num_media": 1, "nested": {"k": ["v"]}}
    stored, _ = await store.append_event(record)
    fetched = await store.get_event(record.id)
    for got in (stored, fetched):
        assert got.id == record.id
        assert got.customer_id == ana.id
        assert got.conversation_id == conv.id
        assert got.channel == "mms"
        assert got.direction is Direction.IN
        assert got.kind is EventKind.MESSAGE
        assert got.author == "Ana"
        assert got.text == "see photo"
        assert got.html == "<p>see photo</p>"
        assert got.subject == "Photo"
        assert got.attachments == record.attachments
        assert got.external_id == "SM123"
        assert got.thread_ref == "thread-1"
        assert got.identity == ANA
        assert close(got.occurred_at, at)
        assert close(got.received_at, at)
        assert got.delivery is None
        assert got.meta == {"num_media": 1, "nested": {"k": ["v"]}}
        assert got.seq == stored.seq


async def test_get_missing_event(store: TimelineStore) -> None:
    with pytest.raises(NotFound):
        await store.get_event("evt_missing")


async def test_duplicate_external_id_returns_the_stored_event(store: TimelineStore) -> None:
    ana = await store.create_customer()
    first, created = await store.append_event(event(ana.id, external_id="m1", text="first"))
    again, created_again = await store.append_event(
        event(ana.id, external_id="m1", text="replayed")
    )
    assert created
    assert not created_again
    assert again.id == first.id
    assert again.text == "first"
    other_channel, created_other = await store.append_event(
        event(ana.id, channel="email", external_id="m1")
    )
    assert created_other
    assert other_channel.id != first.id


async def test_reappending_an_event_without_external_id_is_idempotent(
    store: TimelineStore,
) -> None:
    ana = await store.create_customer()
    record = event(ana.id, text="note")
    first, _ = await store.append_event(record)
    again, created = await store.append_event(record)
    assert not created
    assert again.seq == first.seq


async def test_concurrent_duplicates_store_one_event(store: TimelineStore) -> None:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="sms")
    results = await asyncio.gather(
        *(store.append_event(event(ana.id, conv.id, external_id="dup")) for _ in range(3))
    )
    assert [created for _, created in results].count(True) == 1
    assert len({stored.id for stored, _ in results}) == 1
    page = await store.events(conversation_id=conv.id)
    assert len(page.items) == 1


async def test_find_event(store: TimelineStore) -> None:
    ana = await store.create_customer()
    stored, _ = await store.append_event(event(ana.id, channel="email", external_id="<a@x>"))
    found = await store.find_event("email", "<a@x>")
    assert found is not None
    assert found.id == stored.id
    assert await store.find_event("sms", "<a@x>") is None
    assert await store.find_event("email", "<b@x>") is None


async def test_find_event_by_thread_ref_takes_the_latest(store: TimelineStore) -> None:
    ana = await store.create_customer()
    await store.append_event(event(ana.id, thread_ref="<one@x>"))
    latest, _ = await store.append_event(event(ana.id, thread_ref="<one@x>"))
    other, _ = await store.append_event(event(ana.id, thread_ref="<two@x>"))
    found = await store.find_event_by_thread_ref(["<one@x>"])
    assert found is not None
    assert found.id == latest.id
    either = await store.find_event_by_thread_ref(["<one@x>", "<two@x>", "<none@x>"])
    assert either is not None
    assert either.id == other.id
    assert await store.find_event_by_thread_ref(["<none@x>"]) is None
    assert await store.find_event_by_thread_ref([]) is None


# -- the fold into the conversation ----------------------------------------


async def test_inbound_message_folds_into_the_conversation(store: TimelineStore) -> None:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="sms")
    t1 = utcnow() + timedelta(minutes=1)
    await store.append_event(event(ana.id, conv.id, channel="email", text="x" * 200, at=t1))
    folded = await store.get_conversation(conv.id)
    assert folded.channels == ["sms", "email"]
    assert folded.last_channel == "email"
    assert folded.last_message_preview == "x" * 140
    assert close(folded.last_activity_at, t1)
    assert close(folded.waiting_since, t1)
    assert folded.first_response_at is None

    t2 = t1 + timedelta(minutes=1)
    await store.append_event(event(ana.id, conv.id, channel="sms", text="again", at=t2))
    folded = await store.get_conversation(conv.id)
    assert folded.channels == ["sms", "email"]
    assert folded.last_channel == "sms"
    assert folded.last_message_preview == "again"
    assert close(folded.waiting_since, t1)
    assert close(folded.last_activity_at, t2)


async def test_outbound_reply_stops_waiting_and_stamps_first_response(
    store: TimelineStore,
) -> None:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="sms")
    t0 = utcnow()
    await store.append_event(event(ana.id, conv.id, at=t0 + timedelta(minutes=1)))
    first_reply = t0 + timedelta(minutes=2)
    await store.append_event(
        event(ana.id, conv.id, direction=Direction.OUT, text="hi!", at=first_reply)
    )
    folded = await store.get_conversation(conv.id)
    assert folded.waiting_since is None
    assert close(folded.first_response_at, first_reply)
    assert folded.last_message_preview == "hi!"

    asked_again = t0 + timedelta(minutes=3)
    await store.append_event(event(ana.id, conv.id, at=asked_again))
    await store.append_event(
        event(ana.id, conv.id, direction=Direction.OUT, at=t0 + timedelta(minutes=4))
    )
    folded = await store.get_conversation(conv.id)
    assert folded.waiting_since is None
    assert close(folded.first_response_at, first_reply)


async def test_inbound_message_reopens_the_conversation(store: TimelineStore) -> None:
    ana = await store.create_customer()
    for status in (
        ConversationStatus.PENDING,
        ConversationStatus.SNOOZED,
        ConversationStatus.RESOLVED,
    ):
        conv = await store.open_conversation(ana.id, channel="sms")
        await store.update_conversation(
            conv.id,
            ConversationUpdate(status=status, snoozed_until=utcnow() + timedelta(hours=1)),
        )
        await store.append_event(event(ana.id, conv.id, kind=EventKind.VOICEMAIL, text=None))
        reopened = await store.get_conversation(conv.id)
        assert reopened.status is ConversationStatus.OPEN
        assert reopened.resolved_at is None
        assert reopened.snoozed_until is None
        assert reopened.waiting_since is not None


async def test_outbound_message_does_not_reopen(store: TimelineStore) -> None:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="sms")
    await store.update_conversation(conv.id, ConversationUpdate(status=ConversationStatus.RESOLVED))
    await store.append_event(event(ana.id, conv.id, direction=Direction.OUT))
    assert (await store.get_conversation(conv.id)).status is ConversationStatus.RESOLVED


async def test_notes_only_touch_last_activity(store: TimelineStore) -> None:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="sms")
    await store.update_conversation(conv.id, ConversationUpdate(status=ConversationStatus.RESOLVED))
    before = await store.get_conversation(conv.id)
    later = utcnow() + timedelta(minutes=10)
    await store.append_event(
        event(
            ana.id,
            conv.id,
            channel="hub",
            direction=Direction.INTERNAL,
            kind=EventKind.NOTE,
            text="customer is a VIP",
            at=later,
        )
    )
    after = await store.get_conversation(conv.id)
    assert close(after.last_activity_at, later)
    assert after.channels == before.channels == ["sms"]
    assert after.last_channel == "sms"
    assert after.last_message_preview is None
    assert after.waiting_since is None
    assert after.status is ConversationStatus.RESOLVED


async def test_inbound_non_message_kinds_do_not_reopen(store: TimelineStore) -> None:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="sms")
    await store.update_conversation(conv.id, ConversationUpdate(status=ConversationStatus.RESOLVED))
    await store.append_event(event(ana.id, conv.id, channel="whatsapp", kind=EventKind.STATUS))
    after = await store.get_conversation(conv.id)
    assert after.status is ConversationStatus.RESOLVED
    assert after.waiting_since is None
    assert after.channels == ["sms"]


async def test_last_activity_never_moves_back(store: TimelineStore) -> None:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="sms")
    late = utcnow() + timedelta(hours=1)
    await store.append_event(event(ana.id, conv.id, at=late))
    await store.append_event(event(ana.id, conv.id, at=late - timedelta(minutes=30)))
    assert close((await store.get_conversation(conv.id)).last_activity_at, late)


# -- timeline pages ------------------------------------------------------------


async def _timeline(store: TimelineStore, count: int) -> tuple[str, list[int]]:
    ana = await store.create_customer()
    seqs = []
    for i in range(count):
        stored, _ = await store.append_event(event(ana.id, text=f"m{i}"))
        seqs.append(stored.seq)
    return ana.id, seqs


async def test_pages_towards_the_past(store: TimelineStore) -> None:
    customer_id, seqs = await _timeline(store, 25)
    latest = await store.events(customer_id=customer_id, limit=10)
    assert [e.seq for e in latest.items] == seqs[15:]
    assert not latest.has_newer
    assert latest.older is not None

    middle = await store.events(customer_id=customer_id, cursor=latest.older, limit=10)
    assert [e.seq for e in middle.items] == seqs[5:15]
    assert middle.has_newer
    assert middle.older is not None

    oldest = await store.events(customer_id=customer_id, cursor=middle.older, limit=10)
    assert [e.seq for e in oldest.items] == seqs[:5]
    assert oldest.older is None
    assert oldest.has_newer

    back = await store.events(
        customer_id=customer_id, cursor=oldest.newer, direction="newer", limit=10
    )
    assert [e.seq for e in back.items] == seqs[5:15]


async def test_pages_towards_the_present_and_resumes(store: TimelineStore) -> None:
    customer_id, seqs = await _timeline(store, 25)
    seen: list[int] = []
    page = await store.events(customer_id=customer_id, direction="newer", limit=10)
    assert page.older is None
    while True:
        seen.extend(e.seq for e in page.items)
        if not page.has_newer:
            break
        page = await store.events(
            customer_id=customer_id, cursor=page.newer, direction="newer", limit=10
        )
        assert page.older is not None
    assert seen == seqs
    assert [e.text for e in page.items] == [f"m{i}" for i in range(20, 25)]

    caught_up = await store.events(customer_id=customer_id, cursor=page.newer, direction="newer")
    assert caught_up.items == []
    assert not caught_up.has_newer

    for i in range(3):
        await store.append_event(event(customer_id, text=f"late{i}"))
    resumed = await store.events(customer_id=customer_id, cursor=caught_up.newer, direction="newer")
    assert [e.text for e in resumed.items] == ["late0", "late1", "late2"]
    assert not resumed.has_newer


async def test_older_page_reports_newer_events_appended_since(store: TimelineStore) -> None:
    customer_id, _ = await _timeline(store, 3)
    page = await store.events(customer_id=customer_id)
    assert not page.has_newer
    await store.append_event(event(customer_id, text="new"))
    resumed = await store.events(customer_id=customer_id, cursor=page.newer, direction="newer")
    assert [e.text for e in resumed.items] == ["new"]


async def test_empty_timeline(store: TimelineStore) -> None:
    ana = await store.create_customer()
    for direction in ("older", "newer"):
        page = await store.events(customer_id=ana.id, direction=direction)
        assert page.items == []
        assert page.older is None
        assert not page.has_newer
        assert page.newer == encode_cursor(0)
    await store.append_event(event(ana.id, text="first"))
    resumed = await store.events(customer_id=ana.id, cursor=encode_cursor(0), direction="newer")
    assert [e.text for e in resumed.items] == ["first"]


async def test_conversation_timeline_holds_only_its_events(store: TimelineStore) -> None:
    ana = await store.create_customer()
    one = await store.open_conversation(ana.id, channel="sms")
    two = await store.open_conversation(ana.id, channel="email")
    await store.append_event(event(ana.id, one.id, text="a"))
    await store.append_event(event(ana.id, two.id, text="b"))
    await store.append_event(event(ana.id, None, text="c"))
    await store.append_event(event(ana.id, one.id, text="d"))
    assert [e.text for e in (await store.events(conversation_id=one.id)).items] == ["a", "d"]
    assert [e.text for e in (await store.events(conversation_id=two.id)).items] == ["b"]
    everything = await store.events(customer_id=ana.id)
    assert [e.text for e in everything.items] == ["a", "b", "c", "d"]


async def test_events_needs_exactly_one_scope(store: TimelineStore) -> None:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="sms")
    with pytest.raises(ValueError, match="exactly one"):
        await store.events()
    with pytest.raises(ValueError, match="exactly one"):
        await store.events(customer_id=ana.id, conversation_id=conv.id)


async def test_page_size_is_clamped(store: TimelineStore) -> None:
    customer_id, seqs = await _timeline(store, 3)
    for limit in (0, -5):
        page = await store.events(customer_id=customer_id, limit=limit)
        assert [e.seq for e in page.items] == seqs[-1:]
    page = await store.events(customer_id=customer_id, limit=10_000)
    assert [e.seq for e in page.items] == seqs


async def test_foreign_cursors_are_refused(store: TimelineStore) -> None:
    ana = await store.create_customer()
    for bad in ("%%%", encode_cursor(1, 2), encode_cursor("seven")):
        with pytest.raises(InvalidCursor):
            await store.events(customer_id=ana.id, cursor=bad)


async def test_page_size_is_at_most_500(store: TimelineStore) -> None:
    customer_id, seqs = await _timeline(store, 501)
    page = await store.events(customer_id=customer_id, limit=10_000)
    assert [e.seq for e in page.items] == seqs[1:]
    assert page.older is not None
