"""The pipeline's shared state: store, bus, channels, policies, appending, publishing."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hub.bus import Bus, BusMessage, Topic
from hub.pipeline.types import HUB_CHANNEL, IngestPolicy
from hub.timeline.model import Conversation, Direction, Event, EventKind, new_id, utcnow
from hub.timeline.store import TimelineStore
from hub.timeline.work import Outcome, Writes, writes_only

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
        policies: Sequence[IngestPolicy] = (),
    ) -> None:
        self.store = store
        self.bus = bus
        self.channels: dict[str, Channel] = dict(channels or {})
        self.policies = list(policies)
        self.on_queued: list[Callable[[Event], None]] = []
        self.on_ingested: list[Callable[[Outcome], Awaitable[None]]] = []
        self.observers: list[Callable[[str, Event], None]] = []
        """Called with ``("created", event)`` for each event this instance stored,
        ``("attempt", event)`` for the outcome of each send its outbox made and
        ``("updated", event)`` for each other delivery change it recorded (``/metrics``)."""

    async def append(self, events: Sequence[Event]) -> Outcome:
        """Append ``events`` of one customer as one unit and announce them."""
        customer_id = events[0].customer_id
        outcome = await self.store.run(
            functools.partial(writes_only, Writes(customer_id, list(events)))
        )
        self.publish_outcome(outcome)
        return outcome

    def publish_outcome(self, outcome: Outcome) -> None:
        """Announce what a unit appended and the conversations it changed."""
        for event in outcome.created_events:
            self.bus.publish(BusMessage(Topic.EVENT_CREATED, event.customer_id, event=event))
            for observe in self.observers:
                observe("created", event)
        for conv in outcome.conversations:
            self.bus.publish(
                BusMessage(
                    Topic.CONVERSATION_UPDATED,
                    conv.customer_id,
                    conversation=conv,
                    data={"conversation_id": conv.id},
                )
            )

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
        outcome = await self.append([event])
        assert outcome.event is not None
        return outcome.event

    def conversation_changed(self, conv: Conversation, **data: Any) -> None:
        """Tell subscribers a conversation changed outside ingest/send (assign, status);
        ``data`` adds to the message's ``data`` (who changed it)."""
        self.bus.publish(
            BusMessage(
                Topic.CONVERSATION_UPDATED,
                conv.customer_id,
                conversation=conv,
                data={"conversation_id": conv.id, **data},
            )
        )

    def publish_updated(self, event: Event, *, attempt: bool = False) -> None:
        """Tell subscribers an event changed (a delivery status); ``attempt``: the
        outcome of this instance's own send (not a provider's later report)."""
        self.bus.publish(BusMessage(Topic.EVENT_UPDATED, event.customer_id, event=event))
        for observe in self.observers:
            observe("attempt" if attempt else "updated", event)
