"""Waiting on what the hub announces: test rigs watch the bus instead of sleeping.

A rig dataclass derives from :class:`BusWatch` (its first field is the hub), opens
``async with rig.watching():`` around the test, then waits with ``until``,
``settled`` or ``reached`` — each bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hub.bus import BusMessage, Subscription, Topic

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.timeline.model import DeliveryStatus, Event

__all__ = ["BusWatch"]


@dataclass
class BusWatch:
    """Every event the bus announced (created or updated), latest version by id."""

    hub: Hub
    latest: dict[str, Event] = field(default_factory=dict, kw_only=True)
    changed: asyncio.Event = field(default_factory=asyncio.Event, kw_only=True)

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Record announcements while the block runs (subscribed before it starts)."""
        sub = self.hub.bus.subscribe(
            lambda m: m.topic in (Topic.EVENT_CREATED, Topic.EVENT_UPDATED)
        )
        task = asyncio.create_task(self._record(sub))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            sub.close()

    async def _record(self, sub: Subscription) -> None:
        async for message in sub:
            assert isinstance(message, BusMessage) and message.event is not None
            self.latest[message.event.id] = message.event
            self.changed.set()

    async def until(self, predicate: Callable[[], bool], within: float = 10) -> None:
        """Wait until ``predicate()`` holds, re-checked on each announcement."""
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    def delivery(self, event_id: str) -> DeliveryStatus | None:
        """The delivery status last announced for ``event_id``."""
        event = self.latest.get(event_id)
        return event.delivery.status if event and event.delivery else None

    async def settled(self, event_id: str) -> Event:
        """Wait for ``event_id`` to reach a final delivery status; return it."""
        await self.until(lambda: (s := self.delivery(event_id)) is not None and s.final)
        return self.latest[event_id]

    async def reached(self, event_id: str, status: DeliveryStatus) -> Event:
        """Wait for ``event_id`` to be announced with ``status``; return it."""
        await self.until(lambda: self.delivery(event_id) is status)
        return self.latest[event_id]
