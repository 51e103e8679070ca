"""The delivery worker: claim queued outbound events, send them, record the outcome.

The event is the outbox (``Event.delivery``). The worker claims due events
under a lease, calls the channel's connector, and records ``sent`` (or a
retry with exponential backoff and jitter, or ``failed``) with the lease token,
so a claim that expired and was taken over cannot overwrite the new owner.

Deliveries run as their own tasks: cancelling the worker's loop never cuts a
send in half; the send finishes and its outcome is recorded, so a message is
delivered once. While a send runs its lease is renewed, so a slow provider
never has the message claimed again; a send that takes longer than
``send_timeout`` is abandoned as a transient failure and retried. If the
process dies mid-send, the lease expires and another worker sends again with
the same ``OutboundMessage.event_id`` (the idempotency key connectors pass to
the provider) — unless that was the last allowed attempt: then the delivery
fails. The outcome of a send is recorded even when its lease ran out (the
provider's answer is still true), unless another outcome was recorded since.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from hub.connectors.base import Connector, OutboundMessage
from hub.errors import PermanentError, TransientError
from hub.pipeline import Pipeline
from hub.settings import OutboxSettings
from hub.timeline.model import DeliveryStatus, Event, utcnow
from hub.timeline.store import DeliveryUpdate, TimelineStore

__all__ = ["Outbox", "backoff_delay"]

log = logging.getLogger("hub.outbox")


def backoff_delay(
    attempt: int, settings: OutboxSettings, rng: Callable[[], float] = random.random
) -> float:
    """Seconds before retry number ``attempt`` (1-based): capped exponential, equal jitter."""
    ceiling = min(settings.backoff_cap, settings.backoff_base * 2.0 ** (attempt - 1))
    return ceiling / 2 + rng() * ceiling / 2


class Outbox:
    """Delivers outbound events through their channel's connector."""

    def __init__(
        self,
        store: TimelineStore,
        pipeline: Pipeline,
        connectors: Mapping[str, Connector],
        settings: OutboxSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.connectors = connectors
        self.settings = settings
        self.clock = clock
        self.rng = rng
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        pipeline.on_queued.append(lambda _event: self.wake())

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    async def start(self) -> None:
        if self.running:
            return
        self._loop_task = asyncio.create_task(self.run(), name="omnihub-outbox")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming, let in-flight sends finish (up to ``grace`` s), then cancel them."""
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending)

    async def run(self) -> None:
        """The worker loop: claim, deliver, wait for a wake-up or the poll interval.

        ``start`` runs it as a task; cancelling it leaves deliveries in flight
        to finish and record their outcome.
        """
        while True:
            self._wake.clear()
            try:
                claimed = await self.run_once()
            except Exception:
                log.exception("outbox claim failed")
                claimed = 0
            if claimed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)

    async def run_once(self) -> int:
        """Claim one batch and start delivering it; returns how many were claimed."""
        free = self.settings.concurrency - len(self._inflight)
        if free <= 0:
            return 0
        events = await self.store.claim_outbound(
            now=self.clock(),
            lease_seconds=self.settings.lease_seconds,
            limit=free,
            max_attempts=self.settings.max_attempts,
        )
        for event in events:
            task = asyncio.create_task(self._deliver(event), name=f"omnihub-send-{event.id}")
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return len(events)

    async def drain(self) -> None:
        """Wait for the deliveries in flight (tests, shutdown)."""
        while self._inflight:
            await asyncio.wait(set(self._inflight))

    async def _deliver(self, event: Event) -> None:
        assert event.delivery is not None
        if event.delivery.status is DeliveryStatus.FAILED:  # its last attempt never finished
            log.warning("delivery of %s failed: %s", event.id, event.delivery.error)
            self.pipeline.publish_updated(event, attempt=True)
            return
        token = event.delivery.lease_token
        assert token is not None
        sent = asyncio.Event()
        keeper = asyncio.create_task(self._keep_lease(event.id, token, sent))
        try:
            update = await self._attempt(event)
        finally:
            # A renewal still in flight must land before the outcome: on a store that
            # applies an update as read-then-write it would otherwise put `sending` back.
            sent.set()
            await keeper
        recorded = await self.store.record_delivery(event.id, update, lease_token=token)
        if recorded is None:
            log.warning("lease on %s lost before its outcome was recorded", event.id)
            return
        self.pipeline.publish_updated(recorded, attempt=True)
        if update.status is DeliveryStatus.QUEUED:
            log.info("delivery of %s will retry: %s", event.id, update.error)

    async def _keep_lease(self, event_id: str, token: str, sent: asyncio.Event) -> None:
        """Renew the claim every third of a lease until the send has an outcome."""
        lease = self.settings.lease_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sent.wait(), lease / 3)
                return
            try:
                held = await self.store.renew_lease(
                    event_id, token, until=self.clock() + timedelta(seconds=lease)
                )
            except Exception:
                log.exception("could not renew the lease on %s", event_id)
                continue
            if not held:
                log.warning("lease on %s lost while its send runs", event_id)
                return

    async def _attempt(self, event: Event) -> DeliveryUpdate:
        assert event.delivery is not None
        attempt = event.delivery.attempts
        connector = self.connectors.get(event.channel)
        if connector is None:
            return DeliveryUpdate(
                DeliveryStatus.FAILED, error=f"no connector runs channel {event.channel!r}"
            )
        if event.identity is None:
            return DeliveryUpdate(DeliveryStatus.FAILED, error="no recipient address")
        message = OutboundMessage(
            event_id=event.id,
            channel=event.channel,
            to=event.identity,
            customer_id=event.customer_id,
            conversation_id=event.conversation_id,
            text=event.text,
            html=event.html,
            subject=event.subject,
            attachments=tuple(event.attachments),
            in_reply_to=await self._thread_refs(event),
            attempt=attempt,
            meta=dict(event.meta),
        )
        try:
            async with asyncio.timeout(self.settings.send_timeout):
                result = await connector.send(message)
        except TimeoutError:
            return self._retry(
                attempt, f"the send took longer than {self.settings.send_timeout:g} s", None
            )
        except PermanentError as exc:
            return DeliveryUpdate(DeliveryStatus.FAILED, error=exc.reason)
        except TransientError as exc:
            return self._retry(attempt, exc.reason, exc.retry_after)
        except Exception as exc:  # a connector bug must not kill the worker
            log.exception("connector %s raised unexpectedly", connector.name)
            return self._retry(attempt, f"{type(exc).__name__}: {exc}", None)
        meta = {"thread_ref": result.thread_ref} if result.thread_ref else {}
        return DeliveryUpdate(result.status, provider_id=result.provider_id, meta=meta)

    def _retry(self, attempt: int, reason: str, retry_after: float | None) -> DeliveryUpdate:
        if attempt >= self.settings.max_attempts:
            return DeliveryUpdate(
                DeliveryStatus.FAILED, error=f"gave up after {attempt} attempts: {reason}"
            )
        delay = backoff_delay(attempt, self.settings, self.rng)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return DeliveryUpdate(
            DeliveryStatus.QUEUED,
            error=reason,
            next_attempt_at=self.clock() + timedelta(seconds=delay),
        )

    async def _thread_refs(self, event: Event) -> tuple[str, ...]:
        channel = self.pipeline.channels.get(event.channel)
        if event.conversation_id is None or channel is None or not channel.capabilities.threads:
            return ()
        page = await self.store.events(conversation_id=event.conversation_id, limit=50)
        refs = [e.thread_ref for e in page.items if e.thread_ref and e.channel == event.channel]
        return tuple(refs[-20:])
