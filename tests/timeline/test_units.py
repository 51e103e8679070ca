"""Units of work, on both stores: atomic, idempotent, and never passed by a reader.

These drive :meth:`Pipeline.ingest` / :meth:`Pipeline.send` (the plans) against
each adapter, including the races a second hub instance would bring.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hub.bus import Bus
from hub.connectors.base import Capabilities, Channel, InboundMessage
from hub.pipeline import Pipeline
from hub.timeline.model import Delivery, DeliveryStatus, Direction, Event, EventKind, Identity
from hub.timeline.mongo import MongoStore
from hub.timeline.sqlite import SQLiteStore
from hub.timeline.sqlite import units as sqlite_units
from hub.timeline.store import DeliveryUpdate, InboxFilter, TimelineStore
from tests.timeline.factories import event

ANA = Identity("email", "ana@example.com")
TIMEOUT = 60


@pytest.fixture
def pipeline(store: TimelineStore) -> Pipeline:
    channels = [Channel("api", None, Capabilities()), Channel("sms", "phone", Capabilities())]
    return Pipeline(store, Bus(), channels={c.name: c for c in channels})


def msg(external_id: str, *, identity: Identity = ANA, text: str = "hello") -> InboundMessage:
    return InboundMessage(channel="api", external_id=external_id, identity=identity, text=text)


class PausedInserts:
    """Hold the next event insert of a store half-way through its unit until released."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self._release_async = asyncio.Event()
        self._release_thread = threading.Event()
        self._armed = True

    def release(self) -> None:
        self._release_async.set()
        self._release_thread.set()

    def take(self) -> bool:
        armed, self._armed = self._armed, False
        return armed


@contextlib.contextmanager
def pause_next_insert(store: TimelineStore) -> Iterator[PausedInserts]:
    """After the unit read where its event goes, before it inserts it."""
    paused = PausedInserts()
    loop = asyncio.get_running_loop()
    if isinstance(store, SQLiteStore):
        original = sqlite_units.insert_event

        def held(conn: Any, record: Event) -> int | None:
            if paused.take():
                loop.call_soon_threadsafe(paused.reached.set)
                paused._release_thread.wait(TIMEOUT)
            return original(conn, record)

        sqlite_units.insert_event = held  # type: ignore[assignment]
        try:
            yield paused
        finally:
            sqlite_units.insert_event = original  # type: ignore[assignment]
    else:
        assert isinstance(store, MongoStore)
        inner = store._insert_chained

        async def held_async(record: Event, after: int) -> None:
            if paused.take():
                paused.reached.set()
                await paused._release_async.wait()
            await inner(record, after)

        store._insert_chained = held_async  # type: ignore[method-assign]
        try:
            yield paused
        finally:
            del store._insert_chained


async def test_a_reader_never_passes_an_event_whose_unit_has_not_committed(
    pipeline: Pipeline,
) -> None:
    store = pipeline.store
    first = await pipeline.ingest(msg("m0"))
    customer_id = first.event.customer_id
    start = (await store.events(customer_id=customer_id)).newer
    seen: list[str] = []
    cursor = start

    async def read_once() -> None:
        nonlocal cursor
        page = await store.events(customer_id=customer_id, cursor=cursor, direction="newer")
        seen.extend(e.id for e in page.items)
        cursor = page.newer

    with pause_next_insert(store) as paused:
        slow = asyncio.create_task(pipeline.ingest(msg("m-slow", text="slow")))
        await asyncio.wait_for(paused.reached.wait(), TIMEOUT)
        fast = asyncio.create_task(pipeline.ingest(msg("m-fast", text="fast")))
        reader = asyncio.create_task(read_once())
        if isinstance(store, MongoStore):  # both run while the slow unit waits
            await asyncio.wait_for(asyncio.gather(fast, reader), TIMEOUT)
        paused.release()
        results = await asyncio.wait_for(asyncio.gather(slow, fast), TIMEOUT)
        await reader
    await read_once()
    timeline = await store.events(customer_id=customer_id, cursor=start, direction="newer")
    assert sorted(seen) == sorted(r.event.id for r in results)
    assert seen == [e.id for e in timeline.items]
    seqs = [e.seq for e in timeline.items]
    assert seqs == sorted(seqs) and len(set(seqs)) == 2


async def test_a_replayed_message_is_one_event_however_the_replays_race(
    pipeline: Pipeline,
) -> None:
    results = await asyncio.gather(*(pipeline.ingest(msg("m1")) for _ in range(5)))
    assert sum(r.created for r in results) == 1
    assert len({r.event.id for r in results}) == 1
    customer = await pipeline.store.find_customer(ANA)
    assert customer is not None
    page = await pipeline.store.events(customer_id=customer.id)
    assert [e.external_id for e in page.items] == ["m1"]
    convs = await pipeline.store.list_conversations(InboxFilter(status=(), customer_id=customer.id))
    assert len(convs.items) == 1


async def test_a_new_customer_s_first_messages_at_once_make_one_customer_and_conversation(
    pipeline: Pipeline,
) -> None:
    results = await asyncio.gather(*(pipeline.ingest(msg(f"first-{i}")) for i in range(4)))
    assert all(r.created for r in results)
    assert len({r.event.customer_id for r in results}) == 1
    assert len({r.event.conversation_id for r in results}) == 1
    customer = await pipeline.store.find_customer(ANA)
    assert customer is not None and customer.id == results[0].event.customer_id
    convs = await pipeline.store.list_conversations(InboxFilter(status=(), customer_id=customer.id))
    assert [c.id for c in convs.items] == [results[0].event.conversation_id]
    page = await pipeline.store.events(customer_id=customer.id)
    assert sorted(e.external_id or "" for e in page.items) == [f"first-{i}" for i in range(4)]


async def test_a_replay_that_would_add_a_handoff_card_writes_nothing(pipeline: Pipeline) -> None:
    from hub.handoff.continuity import HandoffPolicy
    from hub.settings import HandoffSettings

    pipeline.policies.append(HandoffPolicy(HandoffSettings()))
    phone = Identity("phone", "+14155550100")
    first = await pipeline.ingest(msg("m1", identity=phone))
    customer_id = first.event.customer_id
    sms = InboundMessage(channel="sms", external_id="s1", identity=phone, text="by text")
    assert (await pipeline.ingest(sms)).created
    before = await pipeline.store.events(customer_id=customer_id)
    assert [e.kind for e in before.items] == [
        EventKind.MESSAGE,
        EventKind.HANDOFF,
        EventKind.MESSAGE,
    ]
    again = await pipeline.ingest(sms)
    assert not again.created
    after = await pipeline.store.events(customer_id=customer_id)
    assert [e.id for e in after.items] == [e.id for e in before.items]


async def test_a_status_that_beats_the_send_s_answer_is_applied_once_the_id_is_known(
    store: TimelineStore,
) -> None:
    customer = await store.create_customer(identities=(Identity("phone", "+14155550100"),))
    conv = await store.open_conversation(customer.id, channel="sms")
    reply = event(customer.id, conv.id, direction=Direction.OUT)
    reply.delivery = Delivery()
    stored, _ = await store.append_event(reply)
    # Due at its delivery's next_attempt_at, made a moment after occurred_at.
    due = stored.delivery.next_attempt_at if stored.delivery else None
    [claimed] = await store.claim_outbound(now=due or stored.occurred_at, lease_seconds=60)
    assert claimed.delivery is not None

    early = await store.report_status(
        "sms", "SM-early", DeliveryUpdate(DeliveryStatus.FAILED, error="30003: unreachable")
    )
    assert early is None
    recorded = await store.record_delivery(
        stored.id,
        DeliveryUpdate(DeliveryStatus.SENT, provider_id="SM-early"),
        lease_token=claimed.delivery.lease_token,
    )
    assert recorded is not None and recorded.delivery is not None
    assert recorded.delivery.status is DeliveryStatus.FAILED
    assert recorded.delivery.error == "30003: unreachable"
    current = (await store.get_event(stored.id)).delivery
    assert current is not None and current.status is DeliveryStatus.FAILED
    later = await store.report_status("sms", "SM-early", DeliveryUpdate(DeliveryStatus.SENT))
    assert later is None


async def test_statuses_reported_before_and_after_the_id_keep_moving_forward(
    store: TimelineStore,
) -> None:
    customer = await store.create_customer(identities=(Identity("phone", "+14155550101"),))
    conv = await store.open_conversation(customer.id, channel="sms")
    reply = event(customer.id, conv.id, direction=Direction.OUT)
    reply.delivery = Delivery()
    stored, _ = await store.append_event(reply)
    # Due at its delivery's next_attempt_at, made a moment after occurred_at.
    due = stored.delivery.next_attempt_at if stored.delivery else None
    [claimed] = await store.claim_outbound(now=due or stored.occurred_at, lease_seconds=60)
    assert claimed.delivery is not None
    await store.report_status("sms", "SM-2", DeliveryUpdate(DeliveryStatus.DELIVERED))
    await store.report_status("sms", "SM-2", DeliveryUpdate(DeliveryStatus.SENT))
    recorded = await store.record_delivery(
        stored.id,
        DeliveryUpdate(DeliveryStatus.SENT, provider_id="SM-2"),
        lease_token=claimed.delivery.lease_token,
    )
    assert recorded is not None and recorded.delivery is not None
    assert recorded.delivery.status is DeliveryStatus.DELIVERED
    read = await store.report_status("sms", "SM-2", DeliveryUpdate(DeliveryStatus.READ))
    assert read is not None and read.delivery is not None
    assert read.delivery.status is DeliveryStatus.READ


async def test_two_first_events_of_a_customer_at_once_are_read_in_order(
    pipeline: Pipeline,
) -> None:
    store = pipeline.store
    customer = await store.create_customer(identities=(Identity("phone", "+14155550109"),))
    seen: list[str] = []

    async def read_all() -> None:
        page = await store.events(customer_id=customer.id, direction="newer")
        seen.extend(e.id for e in page.items)

    with pause_next_insert(store) as paused:
        slow = asyncio.create_task(store.append_event(event(customer.id, text="slow")))
        await asyncio.wait_for(paused.reached.wait(), TIMEOUT)
        fast = asyncio.create_task(store.append_event(event(customer.id, text="fast")))
        reader = asyncio.create_task(read_all())
        if isinstance(store, MongoStore):
            await asyncio.wait_for(asyncio.gather(fast, reader), TIMEOUT)
        paused.release()
        (first, _), (second, _) = await asyncio.wait_for(asyncio.gather(slow, fast), TIMEOUT)
        await reader
    timeline = await store.events(customer_id=customer.id, direction="newer")
    ids = [e.id for e in timeline.items]
    assert sorted(ids) == sorted([first.id, second.id])
    assert seen == ids[: len(seen)]
    assert [e.seq for e in timeline.items] == sorted({e.seq for e in timeline.items})
