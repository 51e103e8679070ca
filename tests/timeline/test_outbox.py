"""Store contract: the outbox (claims under a lease, delivery records)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from hub.timeline.model import DeliveryStatus, Event, utcnow
from hub.timeline.store import DeliveryUpdate, TimelineStore
from tests.timeline.factories import close, event, outbound

LEASE = 30.0


async def _queued(store: TimelineStore, count: int = 1) -> tuple[datetime, list[Event]]:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="sms")
    due = utcnow()
    stored = []
    for i in range(count):
        record, _ = await store.append_event(
            outbound(ana.id, conv.id, due=due + timedelta(milliseconds=i), text=f"r{i}")
        )
        stored.append(record)
    return due, stored


async def test_claim_marks_sending_under_a_lease(store: TimelineStore) -> None:
    due, [queued] = await _queued(store)
    assert queued.delivery is not None
    assert queued.delivery.status is DeliveryStatus.QUEUED
    now = due + timedelta(seconds=1)
    [claimed] = await store.claim_outbound(now=now, lease_seconds=LEASE)
    assert claimed.id == queued.id
    delivery = claimed.delivery
    assert delivery is not None
    assert delivery.status is DeliveryStatus.SENDING
    assert delivery.attempts == 1
    assert delivery.lease_token
    assert close(delivery.lease_until, now + timedelta(seconds=LEASE))
    assert close(delivery.updated_at, now)
    stored = (await store.get_event(queued.id)).delivery
    assert stored is not None
    assert stored.status is DeliveryStatus.SENDING
    assert stored.lease_token == delivery.lease_token


async def test_claims_only_due_outbound_events(store: TimelineStore) -> None:
    due, [queued] = await _queued(store)
    ana = queued.customer_id
    await store.append_event(event(ana, text="inbound, never claimed"))
    await store.append_event(outbound(ana, due=due + timedelta(hours=1), text="later"))
    assert await store.claim_outbound(now=due - timedelta(seconds=1), lease_seconds=LEASE) == []
    claimed = await store.claim_outbound(now=due, lease_seconds=LEASE)
    assert [e.id for e in claimed] == [queued.id]


async def test_claims_oldest_first_up_to_the_limit(store: TimelineStore) -> None:
    due, queued = await _queued(store, 5)
    now = due + timedelta(seconds=1)
    first = await store.claim_outbound(now=now, lease_seconds=LEASE, limit=2)
    second = await store.claim_outbound(now=now, lease_seconds=LEASE, limit=10)
    assert [e.id for e in first] == [e.id for e in queued[:2]]
    assert [e.id for e in second] == [e.id for e in queued[2:]]


async def test_a_claimed_event_is_not_claimed_twice(store: TimelineStore) -> None:
    due, _ = await _queued(store)
    now = due + timedelta(seconds=1)
    assert len(await store.claim_outbound(now=now, lease_seconds=LEASE)) == 1
    assert await store.claim_outbound(now=now, lease_seconds=LEASE) == []
    before_expiry = now + timedelta(seconds=LEASE - 1)
    assert await store.claim_outbound(now=before_expiry, lease_seconds=LEASE) == []


async def test_concurrent_claimants_split_the_work(store: TimelineStore) -> None:
    due, queued = await _queued(store, 6)
    now = due + timedelta(seconds=1)
    batches = await asyncio.gather(
        *(store.claim_outbound(now=now, lease_seconds=LEASE, limit=6) for _ in range(3))
    )
    ids = [e.id for batch in batches for e in batch]
    assert sorted(ids) == sorted(e.id for e in queued)


async def test_expired_lease_is_reclaimed_and_the_old_holder_cannot_reschedule(
    store: TimelineStore,
) -> None:
    due, [queued] = await _queued(store)
    now = due + timedelta(seconds=1)
    [first] = await store.claim_outbound(now=now, lease_seconds=LEASE)
    assert first.delivery is not None
    stale = first.delivery.lease_token

    later = now + timedelta(seconds=LEASE + 1)
    [second] = await store.claim_outbound(now=later, lease_seconds=LEASE)
    assert second.id == queued.id
    assert second.delivery is not None
    assert second.delivery.attempts == 2
    assert second.delivery.lease_token != stale

    retry = DeliveryUpdate(DeliveryStatus.QUEUED, error="timeout", next_attempt_at=later)
    assert await store.record_delivery(queued.id, retry, lease_token=stale) is None
    current = (await store.get_event(queued.id)).delivery
    assert current is not None
    assert current.status is DeliveryStatus.SENDING
    assert current.lease_token == second.delivery.lease_token


async def test_the_outcome_of_a_send_whose_lease_ran_out_is_still_recorded(
    store: TimelineStore,
) -> None:
    """The provider took the message: that stays true after the lease expired, and the
    holder of the new lease cannot turn it back."""
    due, [queued] = await _queued(store)
    now = due + timedelta(seconds=1)
    [first] = await store.claim_outbound(now=now, lease_seconds=LEASE)
    assert first.delivery is not None
    later = now + timedelta(seconds=LEASE + 1)
    [second] = await store.claim_outbound(now=later, lease_seconds=LEASE)
    assert second.delivery is not None

    late = await store.record_delivery(
        queued.id,
        DeliveryUpdate(DeliveryStatus.SENT, provider_id="late"),
        lease_token=first.delivery.lease_token,
    )
    assert late is not None and late.delivery is not None
    assert late.delivery.status is DeliveryStatus.SENT
    assert late.delivery.provider_id == "late"
    assert late.delivery.lease_token is None

    again = DeliveryUpdate(DeliveryStatus.QUEUED, error="x", next_attempt_at=later)
    assert (
        await store.record_delivery(queued.id, again, lease_token=second.delivery.lease_token)
        is None
    )
    current = (await store.get_event(queued.id)).delivery
    assert current is not None and current.status is DeliveryStatus.SENT
    assert await store.claim_outbound(now=later + timedelta(hours=1), lease_seconds=LEASE) == []


async def test_a_claim_whose_last_allowed_attempt_never_finished_fails(
    store: TimelineStore,
) -> None:
    due, [queued] = await _queued(store)
    now = due + timedelta(seconds=1)
    for attempt in range(1, 3):
        [claimed] = await store.claim_outbound(now=now, lease_seconds=LEASE, max_attempts=2)
        assert claimed.delivery is not None and claimed.delivery.attempts == attempt
        now += timedelta(seconds=LEASE + 1)
    [gave_up] = await store.claim_outbound(now=now, lease_seconds=LEASE, max_attempts=2)
    assert gave_up.id == queued.id
    assert gave_up.delivery is not None
    assert gave_up.delivery.status is DeliveryStatus.FAILED
    assert gave_up.delivery.attempts == 2
    assert "never finished" in (gave_up.delivery.error or "")
    assert await store.claim_outbound(now=now + timedelta(hours=1), lease_seconds=LEASE) == []


async def test_a_renewed_lease_keeps_the_claim(store: TimelineStore) -> None:
    due, [queued] = await _queued(store)
    now = due + timedelta(seconds=1)
    [claimed] = await store.claim_outbound(now=now, lease_seconds=LEASE)
    assert claimed.delivery is not None and claimed.delivery.lease_token is not None
    token = claimed.delivery.lease_token
    assert await store.renew_lease(queued.id, token, until=now + timedelta(seconds=3 * LEASE))
    assert (
        await store.claim_outbound(now=now + timedelta(seconds=2 * LEASE), lease_seconds=LEASE)
        == []
    )
    assert not await store.renew_lease(queued.id, "not-the-token", until=now)


async def test_record_with_the_lease_token_ends_the_claim(store: TimelineStore) -> None:
    due, [queued] = await _queued(store)
    now = due + timedelta(seconds=1)
    [claimed] = await store.claim_outbound(now=now, lease_seconds=LEASE)
    assert claimed.delivery is not None
    token = claimed.delivery.lease_token
    sent_at = now + timedelta(seconds=2)
    recorded = await store.record_delivery(
        queued.id,
        DeliveryUpdate(DeliveryStatus.SENT, provider_id="SM42", at=sent_at, meta={"segments": 2}),
        lease_token=token,
    )
    assert recorded is not None
    delivery = recorded.delivery
    assert delivery is not None
    assert delivery.status is DeliveryStatus.SENT
    assert delivery.provider_id == "SM42"
    assert delivery.lease_token is None
    assert delivery.lease_until is None
    assert close(delivery.updated_at, sent_at)
    assert recorded.meta == {"segments": 2}

    found = await store.find_event_by_provider_id("sms", "SM42")
    assert found is not None
    assert found.id == queued.id
    assert await store.find_event_by_provider_id("whatsapp", "SM42") is None

    again = await store.record_delivery(
        queued.id, DeliveryUpdate(DeliveryStatus.FAILED), lease_token=token
    )
    assert again is None
    far_later = now + timedelta(days=1)
    assert await store.claim_outbound(now=far_later, lease_seconds=LEASE) == []


async def test_a_retry_is_claimable_when_due_again(store: TimelineStore) -> None:
    due, [queued] = await _queued(store)
    now = due + timedelta(seconds=1)
    [claimed] = await store.claim_outbound(now=now, lease_seconds=LEASE)
    assert claimed.delivery is not None
    retry_at = now + timedelta(minutes=5)
    recorded = await store.record_delivery(
        queued.id,
        DeliveryUpdate(DeliveryStatus.QUEUED, error="429 slow down", next_attempt_at=retry_at),
        lease_token=claimed.delivery.lease_token,
    )
    assert recorded is not None
    assert recorded.delivery is not None
    assert recorded.delivery.status is DeliveryStatus.QUEUED
    assert recorded.delivery.error == "429 slow down"
    assert close(recorded.delivery.next_attempt_at, retry_at)

    assert (
        await store.claim_outbound(now=retry_at - timedelta(seconds=1), lease_seconds=LEASE) == []
    )
    [retried] = await store.claim_outbound(now=retry_at, lease_seconds=LEASE)
    assert retried.delivery is not None
    assert retried.delivery.attempts == 2


async def test_callbacks_only_move_the_status_forward(store: TimelineStore) -> None:
    due, [queued] = await _queued(store)
    now = due + timedelta(seconds=1)
    [claimed] = await store.claim_outbound(now=now, lease_seconds=LEASE)
    assert claimed.delivery is not None
    await store.record_delivery(
        queued.id,
        DeliveryUpdate(DeliveryStatus.SENT, provider_id="SM7"),
        lease_token=claimed.delivery.lease_token,
    )
    read = await store.record_delivery(
        queued.id, DeliveryUpdate(DeliveryStatus.READ, meta={"read_by": "ana"})
    )
    assert read is not None
    assert read.delivery is not None
    assert read.delivery.status is DeliveryStatus.READ

    late = await store.record_delivery(queued.id, DeliveryUpdate(DeliveryStatus.DELIVERED))
    assert late is None
    same = await store.record_delivery(queued.id, DeliveryUpdate(DeliveryStatus.READ))
    assert same is None
    stored = await store.get_event(queued.id)
    assert stored.delivery is not None
    assert stored.delivery.status is DeliveryStatus.READ
    assert stored.delivery.provider_id == "SM7"
    assert stored.meta == {"read_by": "ana"}


async def test_a_callback_can_report_failure_after_sent(store: TimelineStore) -> None:
    due, [queued] = await _queued(store)
    [claimed] = await store.claim_outbound(now=due, lease_seconds=LEASE)
    assert claimed.delivery is not None
    await store.record_delivery(
        queued.id, DeliveryUpdate(DeliveryStatus.SENT), lease_token=claimed.delivery.lease_token
    )
    failed = await store.record_delivery(
        queued.id, DeliveryUpdate(DeliveryStatus.FAILED, error="30003 unreachable")
    )
    assert failed is not None
    assert failed.delivery is not None
    assert failed.delivery.status is DeliveryStatus.FAILED
    assert failed.delivery.error == "30003 unreachable"
    delivered = await store.record_delivery(queued.id, DeliveryUpdate(DeliveryStatus.DELIVERED))
    assert delivered is not None


async def test_a_callback_does_not_touch_the_lease(store: TimelineStore) -> None:
    due, [queued] = await _queued(store)
    [claimed] = await store.claim_outbound(now=due, lease_seconds=LEASE)
    assert claimed.delivery is not None
    token = claimed.delivery.lease_token
    early = await store.record_delivery(
        queued.id, DeliveryUpdate(DeliveryStatus.DELIVERED, provider_id="SM9")
    )
    assert early is not None
    assert early.delivery is not None
    assert early.delivery.lease_token == token
    assert early.delivery.provider_id == "SM9"


async def test_meta_is_merged_shallowly(store: TimelineStore) -> None:
    ana = await store.create_customer()
    record = outbound(ana.id, due=utcnow())
    record.meta = {"template": {"name": "a"}, "keep": 1}
    await store.append_event(record)
    [claimed] = await store.claim_outbound(now=utcnow(), lease_seconds=LEASE)
    assert claimed.delivery is not None
    recorded = await store.record_delivery(
        record.id,
        DeliveryUpdate(DeliveryStatus.SENT, meta={"template": {"id": "x"}}),
        lease_token=claimed.delivery.lease_token,
    )
    assert recorded is not None
    assert recorded.meta == {"template": {"id": "x"}, "keep": 1}
    assert (await store.get_event(record.id)).meta == {"template": {"id": "x"}, "keep": 1}


async def test_record_delivery_on_events_without_delivery(store: TimelineStore) -> None:
    ana = await store.create_customer()
    inbound, _ = await store.append_event(event(ana.id))
    update = DeliveryUpdate(DeliveryStatus.DELIVERED)
    assert await store.record_delivery(inbound.id, update) is None
    assert await store.record_delivery("evt_missing", update) is None
    assert await store.record_delivery("evt_missing", update, lease_token="t") is None
