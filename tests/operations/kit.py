"""A hub's write path with operations on, a clock the test moves, and helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hub.bus import Bus, BusMessage, Subscription
from hub.connectors.base import Capabilities, Channel, InboundMessage
from hub.operations import ALERT, Operations, OperationsSettings
from hub.pipeline import Pipeline
from hub.timeline.model import Agent, Event, Identity
from hub.timeline.store import TimelineStore

T = TypeVar("T")

ANA = Identity("email", "ana@example.com")
CHANNELS = [
    Channel("email", "email", Capabilities()),
    Channel("sms", "phone", Capabilities(text_limit=1600)),
    Channel(
        "whatsapp",
        "phone",
        Capabilities(reply_window=timedelta(hours=24), window_escape="template"),
    ),
]
FRIDAY = datetime(2026, 12, 4, 16, 40, tzinfo=UTC)
"""A Friday, 20 minutes before the default business day (Mon-Fri 09:00-17:00 UTC) ends."""


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class OpsHub:
    """One hub instance's write path with operations on."""

    store: TimelineStore
    pipeline: Pipeline
    ops: Operations
    clock: FakeClock
    online: set[str] = field(default_factory=set)
    alerts: Subscription | None = None

    async def ingest(self, external_id: str, text: str, **kw: Any) -> Event:
        fields: dict[str, Any] = {"channel": "email", "identity": ANA, "occurred_at": self.clock()}
        fields.update(kw)
        result = await self.pipeline.ingest(
            InboundMessage(external_id=external_id, text=text, **fields)
        )
        return result.event

    def alerts_now(self) -> list[dict[str, Any]]:
        assert self.alerts is not None
        out = []
        while not self.alerts._queue.empty():
            item = self.alerts._queue.get_nowait()
            if isinstance(item, BusMessage):
                out.append(item.data)
        return out


DEFAULT_CONFIG: dict[str, Any] = {
    "enabled": True,
    "check_seconds": 3600,
    "teams": {
        "billing": {"lead": "lee@example.com", "skill": "billing"},
        "access": {"lead": "lee@example.com"},
    },
    "staff": {"sam@example.com": {"skills": ["billing"], "capacity": 2}},
    "lead": "lee@example.com",
}


def make_hub(
    store: TimelineStore, clock: FakeClock, config: dict[str, Any] | None = None
) -> OpsHub:
    bus = Bus()
    pipeline = Pipeline(store, bus, channels={c.name: c for c in CHANNELS})
    online: set[str] = set()
    settings = OperationsSettings.model_validate(config or DEFAULT_CONFIG)
    ops = Operations(pipeline, settings, clock=clock, online=lambda: online)
    hub = OpsHub(store, pipeline, ops, clock, online)
    hub.alerts = bus.subscribe(lambda m: m.topic == ALERT)
    return hub


async def agents(store: TimelineStore) -> tuple[Agent, Agent]:
    """Sam (billing skill) and Lee (the team lead)."""
    sam = await store.create_agent(email="sam@example.com", name="Sam", password_hash="not-a-hash")
    lee = await store.create_agent(email="lee@example.com", name="Lee", password_hash="not-a-hash")
    return sam, lee


async def until(check: Callable[[], Awaitable[T | None]], seconds: float = 10.0) -> T:
    """Wait for ``check`` to return something truthy (polling), failing after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("state not reached in time")
        await asyncio.sleep(0.02)


async def decisions(store: TimelineStore, conversation_id: str, what: str) -> list[Event]:
    page = await store.events(conversation_id=conversation_id, limit=200)
    return [e for e in page.items if e.meta.get("operations") == what]
