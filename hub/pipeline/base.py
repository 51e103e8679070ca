"""The pipeline's shared state: store, bus, channels, hooks, per-customer locks, publishing."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hub.bus import Bus, BusMessage, Topic
from hub.pipeline.types import HUB_CHANNEL, IngestHook
from hub.timeline.model import Conversation, Direction, Event, EventKind, new_id, utcnow
from hub.timeline.store import TimelineStore

if TYPE_CHECKING:
    from hub.connectors.base import Channel

__all__ = ["PipelineBase"]


class PipelineBase:
    """State every part of the pipeline shares."""

    def __init__(
        self,
        store: TimelineStore,
        bus: Bus,
        *,
        channels: Mapping[str, Channel] | None = None,
        hooks: Sequence[IngestHook] = (),
    ) -> None:
        self.store = store
        self.bus = bus
        self.channels: dict[str, Channel] = dict(channels or {})
        self.hooks = list(hooks)
        self.on_queued: list[Callable[[Event], None]] = []
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def internal_event(
        self,
        customer_id: str,
        conversation_id: str | None,
        kind: EventKind,
        text: str,
        *,
        author: str | None = None,
        meta: dict[str, Any] | None = None,
        channel: str = HUB_CHANNEL,
    ) -> Event:
        """Append and publish an internal event (a note, merge, link or handoff card).

        Internal events are never sent to anyone and do not change whom the
        conversation is waiting on.
        """
        now = utcnow()
        event = Event(
            id=new_id("evt"),
            customer_id=customer_id,
            conversation_id=conversation_id,
            channel=channel,
            direction=Direction.INTERNAL,
            kind=kind,
            author=author,
            text=text,
            occurred_at=now,
            received_at=now,
            meta=dict(meta or {}),
        )
        stored, _ = await self.store.append_event(event)
        self.publish_created([stored], conversation_id)
        return stored

    def publish_created(self, events: list[Event], conversation_id: str | None) -> None:
        """Announce newly stored events (and that their conversation changed)."""
        for event in events:
            self.bus.publish(BusMessage(Topic.EVENT_CREATED, event.customer_id, event=event))
        if events and conversation_id:
            self.bus.publish(
                BusMessage(
                    Topic.CONVERSATION_UPDATED,
                    events[-1].customer_id,
                    data={"conversation_id": conversation_id},
                )
            )

    def conversation_changed(self, conv: Conversation) -> None:
        """Tell subscribers a conversation changed outside ingest/send (assign, status)."""
        self.bus.publish(
            BusMessage(
                Topic.CONVERSATION_UPDATED,
                conv.customer_id,
                conversation=conv,
                data={"conversation_id": conv.id},
            )
        )

    def publish_updated(self, event: Event) -> None:
        """Tell subscribers an event changed (a delivery status)."""
        self.bus.publish(BusMessage(Topic.EVENT_UPDATED, event.customer_id, event=event))
