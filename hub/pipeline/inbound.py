"""``ingest``: dedupe → resolve identity → thread → hooks → append → publish."""

from __future__ import annotations

from hub.connectors.base import InboundMessage, IngestResult
from hub.errors import NotFound
from hub.pipeline.base import PipelineBase
from hub.pipeline.types import IngestContext
from hub.timeline.model import Conversation, Customer, Event, new_id, utcnow

__all__ = ["Inbound"]


class Inbound(PipelineBase):
    """The inbound half of the pipeline."""

    async def ingest(self, message: InboundMessage) -> IngestResult:
        """Store one inbound message (or echo) on its customer's timeline.

        Idempotent on ``(channel, external_id)``: the same message again
        returns the stored event with ``created=False``, and nothing is published.
        """
        existing = await self.store.find_event(message.channel, message.external_id)
        if existing is not None:
            return IngestResult(existing, created=False)

        for hook in self.hooks:
            await hook.before_resolve(message)
        customer, new_customer = await self.store.get_or_create_customer(
            message.identity, name=message.customer_name
        )
        if message.customer_name and not customer.name:
            customer = await self.store.update_customer(customer.id, name=message.customer_name)

        async with self._lock(customer.id):
            raced = await self.store.find_event(message.channel, message.external_id)
            if raced is not None:
                return IngestResult(raced, created=False)
            ctx = IngestContext(
                message=message, customer=customer, store=self.store, new_customer=new_customer
            )
            ctx.conversation, ctx.new_conversation = await self._thread(ctx)
            for hook in self.hooks:
                await hook.before_append(ctx)
            event = self._inbound_event(message, customer, ctx.conversation)
            created_events: list[Event] = []
            for extra in ctx.extra_events:
                stored_extra, created = await self.store.append_event(extra)
                if created:
                    created_events.append(stored_extra)
            stored, created = await self.store.append_event(event)
            if created:
                created_events.append(stored)

        self.publish_created(created_events, stored.conversation_id)
        return IngestResult(stored, created)

    async def _thread(self, ctx: IngestContext) -> tuple[Conversation, bool]:
        message, customer = ctx.message, ctx.customer
        if message.conversation_id:
            conv = await self._own_conversation(message.conversation_id, customer.id)
            if conv is not None:
                ctx.routed_by = "conversation_id"
                return conv, False
        if message.in_reply_to:
            parent = await self.store.find_event_by_thread_ref(list(message.in_reply_to))
            if parent is not None and parent.conversation_id:
                conv = await self._own_conversation(parent.conversation_id, customer.id)
                if conv is not None:
                    ctx.routed_by = "thread"
                    return conv, False
        for hook in self.hooks:
            routed = await hook.route(ctx)
            if routed is not None:
                ctx.routed_by = "hook"
                return routed, False
        if not message.new_thread:
            conv = await self.store.find_open_conversation(customer.id, channel=message.channel)
            if conv is not None:
                ctx.routed_by = "same_channel"
                return conv, False
        key = f"{message.channel}\x1f{message.external_id}"
        conv = await self.store.open_conversation(
            customer.id, channel=message.channel, subject=message.subject, open_key=key
        )
        ctx.routed_by = "new"
        return conv, True

    async def _own_conversation(
        self, conversation_id: str, customer_id: str
    ) -> Conversation | None:
        try:
            conv = await self.store.get_conversation(conversation_id)
        except NotFound:
            return None
        return conv if conv.customer_id == customer_id else None

    @staticmethod
    def _inbound_event(
        message: InboundMessage, customer: Customer, conversation: Conversation
    ) -> Event:
        now = utcnow()
        return Event(
            id=new_id("evt"),
            customer_id=customer.id,
            conversation_id=conversation.id,
            channel=message.channel,
            direction=message.direction,
            kind=message.kind,
            author=message.author,
            text=message.text,
            html=message.html,
            subject=message.subject,
            attachments=list(message.attachments),
            external_id=message.external_id,
            thread_ref=message.thread_ref,
            identity=message.identity,
            occurred_at=message.occurred_at or now,
            received_at=now,
            meta=dict(message.meta),
        )
