"""The single write path: :meth:`Pipeline.ingest` for inbound, :meth:`Pipeline.send` for outbound.

Every connector's traffic passes here, so dedupe, identity, threading, the
handoff hook and publishing happen once, the same way for every channel::

    ingest: 1 dedupe → 2 hooks.before_resolve → 3 resolve identity → 4 thread
            (conversation_id, in_reply_to, hooks.route, same channel, new)
            → 5 hooks.before_append → 6 append → 7 publish
    send:   check channel → append event (delivery = queued) → publish → wake the outbox

Modules: ``types`` (hooks, contexts, reply options), ``base`` (shared state,
internal events, publishing), ``inbound`` (ingest), ``outbound`` (send,
notes, delivery reports); merges live here.
"""

from __future__ import annotations

from hub.bus import BusMessage, Topic
from hub.errors import Conflict
from hub.pipeline.inbound import Inbound
from hub.pipeline.outbound import Outbound
from hub.pipeline.types import HUB_CHANNEL, IngestContext, IngestHook, ReplyOption, SendRejected
from hub.timeline.model import Customer, EventKind

__all__ = [
    "HUB_CHANNEL",
    "IngestContext",
    "IngestHook",
    "Pipeline",
    "ReplyOption",
    "SendRejected",
]


class Pipeline(Inbound, Outbound):
    """Ingest and send, for every channel."""

    async def merge(
        self, source_id: str, target_id: str, *, by: str, reason: str | None = None
    ) -> Customer:
        """Merge two customers (reversible) and record who did it and why."""
        if source_id == target_id:
            raise Conflict("cannot merge a customer into itself")
        target = await self.store.merge_customers(source_id, target_id)
        text = f"{by} merged customer {source_id} into {target_id}"
        meta = {"source": source_id, "target": target_id, "by": by, "reason": reason}
        await self.internal_event(target.id, None, EventKind.MERGE, text, author=by, meta=meta)
        self.bus.publish(BusMessage(Topic.CUSTOMER_UPDATED, target.id))
        return target

    async def unmerge(self, source_id: str, *, by: str, reason: str | None = None) -> Customer:
        """Undo a merge: everything the customer brought goes back to it."""
        before = await self.store.get_customer(source_id)
        restored = await self.store.unmerge_customer(source_id)
        text = f"{by} unmerged customer {source_id} from {before.merged_into}"
        meta = {"source": source_id, "target": before.merged_into, "by": by, "reason": reason}
        await self.internal_event(restored.id, None, EventKind.UNMERGE, text, author=by, meta=meta)
        if before.merged_into:
            self.bus.publish(BusMessage(Topic.CUSTOMER_UPDATED, before.merged_into))
        self.bus.publish(BusMessage(Topic.CUSTOMER_UPDATED, restored.id))
        return restored
