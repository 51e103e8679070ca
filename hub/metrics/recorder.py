"""Resolutions on the timeline when operations are off.

Reopen rate, first-contact resolution and time to the last resolution need each
resolution on the timeline; operations records them (``meta.operations =
"resolved"``). Without operations this recorder writes the same record, under the
same key (``ops:<conv>:resolved:<resolved_at>``), so each resolution is stored once
however many instances hear of it — and never twice if operations are turned on later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from hub.bus import BusMessage, Resync, Subscription, Topic
from hub.pipeline import HUB_CHANNEL, Pipeline
from hub.timeline.model import ConversationStatus, Direction, Event, EventKind, new_id, utcnow

__all__ = ["ResolutionRecorder"]

log = logging.getLogger("hub.metrics")


class ResolutionRecorder:
    """Records a person's resolution of a conversation as a ``status`` event."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            sub = self.pipeline.bus.subscribe(
                lambda m: m.topic == Topic.CONVERSATION_UPDATED, maxsize=10_000
            )
            self._task = asyncio.create_task(self._consume(sub), name="metrics-resolutions")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _consume(self, sub: Subscription) -> None:
        while True:
            with sub:
                async for message in sub:
                    if isinstance(message, Resync):
                        break
                    try:
                        await self.handle(message)
                    except Exception:
                        log.exception("recording a resolution failed")
            sub = self.pipeline.bus.subscribe(
                lambda m: m.topic == Topic.CONVERSATION_UPDATED, maxsize=10_000
            )

    async def handle(self, message: BusMessage) -> Event | None:
        """Record the resolution ``message`` announces (a person's change); the event
        if this call stored it."""
        conv, by = message.conversation, message.data.get("by")
        before = message.data.get("before") or {}
        if conv is None or not by or conv.status is not ConversationStatus.RESOLVED:
            return None
        if before.get("status") == "resolved" or conv.resolved_at is None:
            return None
        at = conv.resolved_at
        event = Event(
            id=new_id("evt"),
            customer_id=conv.customer_id,
            conversation_id=conv.id,
            channel=HUB_CHANNEL,
            direction=Direction.INTERNAL,
            kind=EventKind.STATUS,
            author=str(by),
            text=f"Resolved by {by}",
            external_id=f"ops:{conv.id}:resolved:{at.isoformat()}",
            occurred_at=at,
            received_at=utcnow(),
            meta={"operations": "resolved", "rule": None, "by": str(by)},
        )
        outcome = await self.pipeline.append([event])
        return outcome.event if outcome.created else None
