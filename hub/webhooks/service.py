"""Webhook delivery: the bus feeds a store-backed queue; a worker drains it with retries.

Every instance hears every stored change on the bus and enqueues one delivery per
subscription under a deterministic id (subscription + the event's key), so the
store keeps it once however many instances, replays or restarts saw it. The
worker claims due deliveries under a lease (a crashed worker's claims are taken
over when it lapses), POSTs them, and records each attempt in the delivery's
log: 2xx delivered; 408, 429, 5xx and network errors retry with capped
exponential backoff and jitter (``Retry-After`` honoured); other 4xx fail.
Queued deliveries survive a restart; stopping lets the attempts in flight finish (a crashed
instance's are taken over when their lease lapses). A change whose instance stops between
storing it and enqueuing it (milliseconds) is not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from hub.bus import Bus, BusMessage, Resync, Subscription, Topic
from hub.connectors.api import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from hub.connectors.http import retry_after
from hub.settings import WebhooksSettings, WebhookSubscription
from hub.timeline.model import Direction, Event, EventKind, to_json, utcnow
from hub.timeline.store import TimelineStore
from hub.timeline.webhooks import WebhookDelivery, WebhookStatus

__all__ = ["Webhooks", "classify"]

log = logging.getLogger("hub.webhooks")
RETRY_CODES = {408, 429}


def classify(message: BusMessage) -> tuple[str, str, dict[str, Any]] | None:
    """``(type, key, data)`` for a bus message a subscriber may want, else None."""
    if message.topic == Topic.EVENT_CREATED and message.event is not None:
        event = message.event
        kind = _event_type(event)
        if kind is None:
            return None
        return kind, f"event:{event.id}", {"event": to_json(event)}
    conv = message.conversation
    if message.topic != Topic.CONVERSATION_UPDATED or conv is None:
        return None
    before = message.data.get("before")
    change = message.data.get("change")
    if not isinstance(before, dict) or not change or before.get("status") == conv.status.value:
        return None
    data = {"conversation": to_json(conv), "from": before.get("status"), "by": message.data["by"]}
    return "conversation.status", f"change:{change}", data


def _event_type(event: Event) -> str | None:
    if event.kind is EventKind.MESSAGE and event.direction is not Direction.INTERNAL:
        return "message.created"
    if event.meta.get("operations") == "sla_breach":
        return "sla.breach"
    if (
        event.kind is EventKind.STATUS
        and event.direction is Direction.IN
        and event.meta.get("survey")
    ):
        return "survey.answered"
    return None


def delivery_id(subscription: str, key: str) -> str:
    """The same delivery's id wherever and however often it is enqueued."""
    return "whd_" + hashlib.sha256(f"{subscription}\x1f{key}".encode()).hexdigest()[:26]


class Webhooks:
    """Enqueues subscribed changes and delivers them (start/stop with the hub)."""

    def __init__(
        self,
        store: TimelineStore,
        bus: Bus,
        settings: WebhooksSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.clock = clock
        self.rng = rng
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._batch: asyncio.Task[int] | None = None
        self._wake = asyncio.Event()
        self._subscriptions = {s.name: s for s in settings.subscriptions}

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def start(self) -> None:
        if self._tasks or not self._subscriptions:
            return
        self._client = httpx.AsyncClient(
            transport=self._transport, timeout=self.settings.timeout_seconds
        )
        sub = self.bus.subscribe(_wanted, maxsize=10_000)
        self._tasks = [
            asyncio.create_task(self._consume(sub), name="webhooks-bus"),
            asyncio.create_task(self._work(), name="webhooks-worker"),
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._batch is not None:  # attempts in flight finish and record their outcome
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._batch, self.settings.timeout_seconds + 5)
            self._batch = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def enqueue(self, message: BusMessage) -> int:
        """Queue ``message`` for each subscription that wants it; how many were new."""
        found = classify(message)
        if found is None:
            return 0
        kind, key, data = found
        new = 0
        for sub in self._subscriptions.values():
            if kind not in sub.events:
                continue
            did = delivery_id(sub.name, key)
            now = self.clock()
            payload = {"id": did, "type": kind, "created_at": now.isoformat(), "data": data}
            delivery = WebhookDelivery(
                subscription=sub.name, key=key, event_type=kind, payload=payload, id=did
            )
            delivery.created_at = delivery.updated_at = delivery.next_attempt_at = now
            if await self.store.enqueue_webhook(delivery):
                new += 1
        if new:
            self._wake.set()
        return new

    async def _consume(self, sub: Subscription) -> None:
        while True:
            with sub:
                async for message in sub:
                    if isinstance(message, Resync):
                        log.warning("webhooks fell behind the bus; some changes are not sent")
                        break
                    try:
                        await self.enqueue(message)
                    except Exception:
                        log.exception("could not queue a webhook for %s", message.topic)
            sub = self.bus.subscribe(_wanted, maxsize=10_000)

    async def _work(self) -> None:
        while True:
            self._wake.clear()
            try:
                self._batch = asyncio.create_task(self.run_once())
                done = await asyncio.shield(self._batch)
            except Exception:
                log.exception("webhook claim failed")
                done = 0
            if done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)

    async def run_once(self) -> int:
        """Claim due deliveries and attempt each; how many were attempted."""
        claimed = await self.store.claim_webhooks(
            now=self.clock(), lease_seconds=self.settings.lease_seconds, limit=20
        )
        await asyncio.gather(*(self._attempt(d) for d in claimed))
        return len(claimed)

    async def _attempt(self, delivery: WebhookDelivery) -> None:
        assert delivery.lease_token is not None
        sub = self._subscriptions.get(delivery.subscription)
        entry: dict[str, Any] = {"at": self.clock().isoformat(), "attempt": delivery.attempts}
        wait: float | None = None
        if sub is None:
            entry["error"] = "the subscription is no longer configured"
            status = WebhookStatus.FAILED
        else:
            status, wait = await self._post(sub, delivery, entry)
        next_at = None
        if status is WebhookStatus.QUEUED:
            if delivery.attempts >= self.settings.max_attempts:
                status = WebhookStatus.FAILED
                entry["error"] = f"gave up after {delivery.attempts} attempts: {entry['error']}"
            else:
                delay = self._backoff(delivery.attempts)
                next_at = self.clock() + timedelta(seconds=max(delay, wait or 0))
        recorded = await self.store.record_webhook(
            delivery.id, delivery.lease_token, status=status, entry=entry, next_attempt_at=next_at
        )
        if not recorded:
            log.warning("lease on webhook %s lost before its outcome was recorded", delivery.id)

    async def _post(
        self, sub: WebhookSubscription, delivery: WebhookDelivery, entry: dict[str, Any]
    ) -> tuple[WebhookStatus, float | None]:
        assert self._client is not None
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(sub.secret.get_secret_value(), stamp, body),
            "Idempotency-Key": delivery.id,
            "X-Omnihub-Event": delivery.event_type,
            "User-Agent": "omnihub-webhooks",
        }
        try:
            response = await self._client.post(sub.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"[:300]
            return WebhookStatus.QUEUED, None
        entry["status_code"] = response.status_code
        if response.is_success:
            return WebhookStatus.DELIVERED, None
        entry["error"] = f"HTTP {response.status_code}"
        if response.status_code in RETRY_CODES or response.status_code >= 500:
            return WebhookStatus.QUEUED, retry_after(response.headers.get("retry-after"))
        return WebhookStatus.FAILED, None

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.settings.backoff_cap, self.settings.backoff_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + self.rng() * ceiling / 2


def _wanted(message: BusMessage) -> bool:
    return message.topic in (Topic.EVENT_CREATED, Topic.CONVERSATION_UPDATED)
