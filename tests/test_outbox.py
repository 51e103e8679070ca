"""The outbox delivers through the real ``api`` connector to a real HTTP receiver."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.bus import Bus, BusMessage, Topic
from hub.connectors.api import ApiConnector, ApiSettings, sign
from hub.connectors.base import ConnectorContext, InboundMessage
from hub.outbox import Outbox, backoff_delay
from hub.pipeline import Pipeline
from hub.settings import OutboxSettings
from hub.timeline.blobs import FileBlobStore
from hub.timeline.model import DeliveryStatus, Event, Identity, utcnow
from hub.timeline.store import TimelineStore
from tests.servers import serve

SECRET = "s3cret-for-callbacks-0123456789"
FAST = OutboxSettings(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05, max_attempts=3)


@dataclass
class Receiver:
    """An integration's callback endpoint: records requests, answers as told."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event | None = None
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    async def endpoint(self, request: Request) -> JSONResponse:
        body = await request.body()
        self.requests.append((dict(request.headers), body))
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.answers:
            status, headers = self.answers.pop(0)
            return JSONResponse({"error": "slow down"}, status_code=status, headers=headers)
        status = self.statuses.pop(0) if self.statuses else 200
        return JSONResponse({"id": f"rcv-{len(self.requests)}"}, status_code=status)

    @property
    def keys(self) -> list[str]:
        return [h["idempotency-key"] for h, _ in self.requests]


@dataclass
class Rig:
    pipeline: Pipeline
    connector: ApiConnector
    receiver: Receiver

    def outbox(self, settings: OutboxSettings = FAST, **kw: object) -> Outbox:
        return Outbox(
            self.pipeline.store,
            self.pipeline,
            {"api": self.connector},
            settings,
            **kw,  # type: ignore[arg-type]
        )

    async def queue_reply(self, text: str = "Your refund is on its way") -> Event:
        first = await self.pipeline.ingest(
            InboundMessage(
                channel="api",
                external_id="in-1",
                identity=Identity("email", "ana@example.com"),
                text="Where is my refund?",
            )
        )
        return await self.pipeline.send(first.event.conversation_id or "", text=text)


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Rig]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/callback", receiver.endpoint, methods=["POST"])])
    async with serve(app) as url:
        bus = Bus()
        pipeline = Pipeline(store, bus)
        context = ConnectorContext(
            ingest=pipeline.ingest,
            report_delivery=pipeline.report_delivery,
            blobs=FileBlobStore(tmp_path / "blobs"),
            checkpoints=None,  # type: ignore[arg-type]
            public_url="http://hub.test",
            max_body_bytes=1 << 20,
            logger=logging.getLogger("test"),
        )
        settings = ApiSettings(secret=SECRET, callback_url=f"{url}/callback")  # type: ignore[arg-type]
        connector = ApiConnector(settings, context)
        pipeline.channels = {c.name: c for c in ApiConnector.channel_specs()}
        await connector.start()
        try:
            yield Rig(pipeline, connector, receiver)
        finally:
            if receiver.gate is not None:
                receiver.gate.set()
            await connector.stop()


@contextlib.asynccontextmanager
async def outcome(bus: Bus, event_id: str) -> AsyncIterator[asyncio.Future[Event]]:
    """A future resolved with the event once the outbox is done with it."""
    sub = bus.subscribe(lambda m: m.topic == Topic.EVENT_UPDATED and m.event is not None)
    done: asyncio.Future[Event] = asyncio.get_running_loop().create_future()

    async def watch() -> None:
        async for m in sub:
            assert isinstance(m, BusMessage) and m.event is not None
            if m.event.id == event_id and m.event.delivery and m.event.delivery.status.final:
                done.set_result(m.event)
                return

    task = asyncio.create_task(watch())
    try:
        yield done
    finally:
        task.cancel()
        sub.close()


async def test_reply_is_delivered_signed_and_marked_sent(rig: Rig) -> None:
    outbox = rig.outbox()
    await outbox.start()
    try:
        event = await rig.queue_reply()
        async with outcome(rig.pipeline.bus, event.id) as done:
            sent = await asyncio.wait_for(done, 10)
    finally:
        await outbox.stop()
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    assert sent.delivery.provider_id == "rcv-1"
    [(headers, body)] = rig.receiver.requests
    assert headers["idempotency-key"] == event.id
    assert headers["x-omnihub-signature"] == sign(SECRET, headers["x-omnihub-timestamp"], body)
    assert b"Your refund is on its way" in body


async def test_worker_cancelled_mid_delivery_delivers_exactly_once(rig: Rig) -> None:
    rig.receiver.gate = asyncio.Event()
    first = rig.outbox()
    worker = asyncio.create_task(first.run())
    event = await rig.queue_reply()
    await asyncio.wait_for(rig.receiver.arrived.wait(), 10)

    worker.cancel()  # the worker dies while the callback is in flight
    with contextlib.suppress(asyncio.CancelledError):
        await worker
    async with outcome(rig.pipeline.bus, event.id) as done:
        rig.receiver.gate.set()
        await asyncio.wait_for(done, 10)

    second = rig.outbox()  # a restarted worker finds nothing left to send
    assert await second.run_once() == 0
    await second.drain()
    stored = await rig.pipeline.store.get_event(event.id)
    assert stored.delivery is not None and stored.delivery.status is DeliveryStatus.SENT
    assert rig.receiver.keys == [event.id]


async def test_send_cut_off_by_a_crash_is_retried_with_the_same_idempotency_key(
    rig: Rig,
) -> None:
    rig.receiver.gate = asyncio.Event()
    crashed = rig.outbox()
    await crashed.start()
    event = await rig.queue_reply()
    await asyncio.wait_for(rig.receiver.arrived.wait(), 10)
    await crashed.stop(grace=0)  # in-flight send cancelled: no outcome recorded
    rig.receiver.gate.set()

    stuck = await rig.pipeline.store.get_event(event.id)
    assert stuck.delivery is not None and stuck.delivery.status is DeliveryStatus.SENDING
    later = rig.outbox(clock=lambda: utcnow() + timedelta(minutes=5))  # the lease has expired
    async with outcome(rig.pipeline.bus, event.id) as done:
        assert await later.run_once() == 1
        sent = await asyncio.wait_for(done, 10)
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    assert sent.delivery.attempts == 2
    assert rig.receiver.keys == [event.id, event.id]


async def test_transient_failure_is_retried_then_sent(rig: Rig) -> None:
    rig.receiver.statuses = [503, 429]
    outbox = rig.outbox()
    await outbox.start()
    try:
        event = await rig.queue_reply()
        async with outcome(rig.pipeline.bus, event.id) as done:
            sent = await asyncio.wait_for(done, 10)
    finally:
        await outbox.stop()
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    assert sent.delivery.attempts == 3
    assert rig.receiver.keys == [event.id] * 3


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_retry_after_is_honoured_as_seconds_or_an_http_date(rig: Rig, form: str) -> None:
    wait = timedelta(minutes=10)
    header = (
        str(int(wait.total_seconds()))
        if form == "seconds"
        else email.utils.format_datetime(utcnow() + wait, usegmt=True)
    )
    rig.receiver.answers = [(429, {"Retry-After": header})]
    event = await rig.queue_reply()
    assert await rig.outbox().run_once() == 1

    async def retried() -> Event:
        while True:
            found = await rig.pipeline.store.get_event(event.id)
            delivery = found.delivery
            if delivery is not None and delivery.attempts == 1 and delivery.lease_token is None:
                return found
            await asyncio.sleep(0.02)

    later = await asyncio.wait_for(retried(), 10)
    assert later.delivery is not None and later.delivery.status is DeliveryStatus.QUEUED
    assert later.delivery.next_attempt_at is not None
    assert later.delivery.next_attempt_at >= utcnow() + wait - timedelta(minutes=1)


async def test_permanent_failure_is_recorded_with_the_reason(rig: Rig) -> None:
    rig.receiver.statuses = [400]
    outbox = rig.outbox()
    await outbox.start()
    try:
        event = await rig.queue_reply()
        async with outcome(rig.pipeline.bus, event.id) as done:
            failed = await asyncio.wait_for(done, 10)
    finally:
        await outbox.stop()
    assert failed.delivery is not None and failed.delivery.status is DeliveryStatus.FAILED
    assert "400" in (failed.delivery.error or "")
    assert len(rig.receiver.requests) == 1


async def test_gives_up_after_max_attempts(rig: Rig) -> None:
    rig.receiver.statuses = [503] * 10
    outbox = rig.outbox()
    await outbox.start()
    try:
        event = await rig.queue_reply()
        async with outcome(rig.pipeline.bus, event.id) as done:
            failed = await asyncio.wait_for(done, 10)
    finally:
        await outbox.stop()
    assert failed.delivery is not None and failed.delivery.status is DeliveryStatus.FAILED
    assert (failed.delivery.error or "").startswith("gave up after 3 attempts")
    assert len(rig.receiver.requests) == 3


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    s = OutboxSettings(backoff_base=2, backoff_cap=60)
    assert [backoff_delay(n, s, lambda: 1.0) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert [backoff_delay(n, s, lambda: 0.0) for n in (1, 2, 3)] == [1, 2, 4]
    assert backoff_delay(20, s, lambda: 1.0) == 60
