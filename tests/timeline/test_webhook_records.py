"""The webhook queue behind the store port, one contract on both stores."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hub.timeline.model import utcnow
from hub.timeline.store import TimelineStore
from hub.timeline.webhooks import WebhookDelivery, WebhookStatus


def delivery(key: str, sub: str = "crm") -> WebhookDelivery:
    d = WebhookDelivery(
        subscription=sub,
        key=key,
        event_type="message.created",
        payload={"n": key},
        id=f"whd_{sub}_{key}",
    )
    d.next_attempt_at = utcnow() - timedelta(seconds=1)
    return d


async def test_a_key_is_queued_once_per_subscription(store: TimelineStore) -> None:
    assert await store.enqueue_webhook(delivery("e1"))
    assert not await store.enqueue_webhook(delivery("e1"))
    assert await store.enqueue_webhook(delivery("e1", sub="erp"))
    found = await store.webhook_deliveries()
    assert sorted((d.subscription, d.key) for d in found) == [("crm", "e1"), ("erp", "e1")]
    assert [d.key for d in await store.webhook_deliveries(subscription="erp")] == ["e1"]


async def test_concurrent_claims_take_each_delivery_once(store: TimelineStore) -> None:
    for n in range(12):
        await store.enqueue_webhook(delivery(f"e{n}"))
    now = utcnow()
    claimed: list[WebhookDelivery] = []
    for _ in range(20):  # rounds of 4 racing claimants until nothing is due
        batches = await asyncio.gather(
            *(store.claim_webhooks(now=now, lease_seconds=60, limit=5) for _ in range(4))
        )
        found = [d for batch in batches for d in batch]
        if not found:
            break
        claimed += found
    assert sorted(d.key for d in claimed) == sorted(f"e{n}" for n in range(12))  # each once
    assert all(d.status is WebhookStatus.SENDING and d.attempts == 1 for d in claimed)
    assert len({d.lease_token for d in claimed}) == 12


async def test_a_lapsed_lease_is_taken_over_and_the_old_token_cannot_record(
    store: TimelineStore,
) -> None:
    await store.enqueue_webhook(delivery("e1"))
    now = utcnow()
    (first,) = await store.claim_webhooks(now=now, lease_seconds=5, limit=10)
    assert (
        await store.claim_webhooks(now=now + timedelta(seconds=1), lease_seconds=5, limit=10) == []
    )
    (second,) = await store.claim_webhooks(
        now=now + timedelta(seconds=6), lease_seconds=5, limit=10
    )
    assert second.attempts == 2 and second.lease_token != first.lease_token
    assert first.lease_token is not None and second.lease_token is not None
    entry = {"at": now.isoformat(), "attempt": 1, "status_code": 200}
    assert not await store.record_webhook(
        first.id, first.lease_token, status=WebhookStatus.DELIVERED, entry=entry
    )
    retry_at = now + timedelta(minutes=5)
    failed = {"at": now.isoformat(), "attempt": 2, "status_code": 503, "error": "HTTP 503"}
    assert await store.record_webhook(
        second.id,
        second.lease_token,
        status=WebhookStatus.QUEUED,
        entry=failed,
        next_attempt_at=retry_at,
    )
    (logged,) = await store.webhook_deliveries()
    assert logged.status is WebhookStatus.QUEUED and logged.last_error == "HTTP 503"
    assert logged.log == [failed] and logged.lease_token is None
    assert (
        await store.claim_webhooks(now=now + timedelta(minutes=4), lease_seconds=5, limit=10) == []
    )
    (again,) = await store.claim_webhooks(now=retry_at, lease_seconds=5, limit=10)
    assert again.attempts == 3 and again.payload == {"n": "e1"}
