"""``ingest``: one inbound message, planned here, stored by the store as one unit of work.

The plan (a generator, see :mod:`hub.timeline.work`) reads what it needs and
decides; the store runs it and writes the outcome atomically::

    sender ─► policies.resolve ─► customer (known, or new with this identity)
           ─► thread: conversation_id proof → in_reply_to → policies.route
                      → same-channel open conversation → a new one
           ─► policies.extras (handoff card, suggestions) ─► the event

Only events of conversational kinds (messages, calls, voicemails) open a
conversation, and only from a person: anything else (a status record, or an
inbound message marked ``meta.automated`` — an auto-reply, a bounce) that
threads to none is stored on the customer's timeline without one.
"""

from __future__ import annotations

import functools
from typing import Any

from hub.connectors.base import InboundMessage, IngestResult
from hub.payloads import check_storable, check_timestamp, sanitise_html
from hub.pipeline.amend import amended
from hub.pipeline.base import PipelineBase
from hub.pipeline.types import IngestContext, Step
from hub.timeline.content import AMENDING, content_to_doc
from hub.timeline.fold import CONVERSATIONAL, is_robot
from hub.timeline.model import Conversation, Event, EventKind, new_id, utcnow
from hub.timeline.work import (
    FindEvent,
    GetConversation,
    Head,
    NewCustomer,
    OpenConversation,
    Plan,
    Sender,
    ThreadParent,
    Writes,
)

__all__ = ["Inbound"]


class Inbound(PipelineBase):
    """The inbound half of the pipeline."""

    async def ingest(self, message: InboundMessage) -> IngestResult:
        """Store one inbound message (or echo) on its customer's timeline.

        Idempotent on ``(channel, external_id)``: the same message again
        returns the stored event with ``created=False``, and nothing is published.
        Once a new message is stored, each ``on_ingested`` hook gets the outcome (on
        the one instance that stored it).
        Raises :class:`~hub.errors.InvalidInput` (``meta``, ``timestamp``) for data
        a store could not keep or read back (see :mod:`hub.payloads`).
        """
        check_storable(_meta(message), "meta")
        check_timestamp(message.occurred_at, "timestamp")
        if isinstance(message.content, AMENDING):
            applied = await self._amend(message)
            if applied is not None:
                return applied
        outcome = await self.store.run(functools.partial(self.plan_ingest, message))
        assert outcome.event is not None
        if outcome.created:
            self.publish_outcome(outcome)
            for then in self.on_ingested:
                await then(outcome)
        return IngestResult(outcome.event, outcome.created)

    async def _amend(self, message: InboundMessage) -> IngestResult | None:
        """Apply a reaction, edit or deletion to its target (see :mod:`hub.pipeline.amend`)."""
        target_id = getattr(message.content, "target", "")
        if not target_id:
            return None
        target = await self.store.find_event(message.channel, target_id)
        if target is None:
            target = await self.store.find_event_by_provider_id(message.channel, target_id)
        if target is None:
            return None
        sender = await self.store.find_customer(message.identity)
        if sender is None or sender.id != target.customer_id:
            return None
        updated = await self.store.amend_event(target.id, functools.partial(amended, message))
        if updated is None:
            return IngestResult(await self.store.get_event(target.id), created=False)
        self.publish_updated(updated)
        return IngestResult(updated, created=True)

    def plan_ingest(self, message: InboundMessage) -> Plan:
        """The unit of work that ingests ``message`` (see the module docstring)."""
        sender = yield Sender(message.identity)
        ctx = IngestContext(message=message, sender=sender, now=utcnow())
        for policy in self.policies:
            yield from policy.resolve(ctx)
        new_customer: NewCustomer | None = None
        set_name = None
        if ctx.customer_id is None:
            if sender.customer is not None:
                ctx.customer_id = sender.customer.id
                set_name = None if sender.customer.named else message.customer_name
            else:
                new_customer = NewCustomer(new_id("cus"), message.identity, message.customer_name)
                ctx.customer_id = new_customer.id
                ctx.new_customer = True
        elif message.customer_name and ctx.link is not None:
            set_name = message.customer_name
        conversation, opened = yield from self._thread(ctx)
        ctx.conversation, ctx.new_conversation = conversation, opened
        for policy in self.policies:
            yield from policy.extras(ctx)
        event = self._inbound_event(message, ctx.customer_id, conversation)
        event.meta.update(ctx.event_meta)
        if ctx.record_as is not None:
            event.kind = EventKind.STATUS
            event.meta = {**event.meta, **ctx.record_as}
        return Writes(
            customer_id=ctx.customer_id,
            events=[*ctx.extra_events, event],
            new_customer=new_customer,
            set_name=set_name,
            link=ctx.link,
            new_conversation=conversation if opened else None,
            suggestions=ctx.suggestions,
            read=[conversation] if conversation is not None and not opened else [],
        )

    def _thread(self, ctx: IngestContext) -> Step[tuple[Conversation | None, bool]]:
        message, customer_id = ctx.message, ctx.customer_id
        assert customer_id is not None
        known = not ctx.new_customer or ctx.link is not None
        if known and message.conversation_id:
            conv = yield GetConversation(message.conversation_id)
            if conv is not None and conv.customer_id == customer_id:
                ctx.routed_by = "conversation_id"
                return conv, False
        if known and message.in_reply_to:
            parent = yield ThreadParent(tuple(message.in_reply_to))
            if parent is not None and parent.conversation_id:
                conv = yield GetConversation(parent.conversation_id)
                if conv is not None and conv.customer_id == customer_id:
                    ctx.routed_by = "thread"
                    return conv, False
        if known:
            ctx.head = yield Head(customer_id)
            for policy in self.policies:
                routed = yield from policy.route(ctx)
                if routed is not None:
                    ctx.routed_by = policy.name
                    return routed, False
            if not message.new_thread and not is_robot(message.direction, message.meta):
                conv = yield OpenConversation(customer_id, message.channel)
                if conv is not None:
                    ctx.routed_by = "same_channel"
                    return conv, False
        if message.kind not in CONVERSATIONAL or is_robot(message.direction, message.meta):
            ctx.routed_by = "none"
            return None, False
        if known:
            # A replay must not open a second conversation before it finds itself.
            replay = yield FindEvent(message.channel, message.external_id)
            if replay is not None:
                ctx.routed_by = "replay"
                return None, False
        ctx.routed_by = "new"
        opened = Conversation.opened(
            customer_id,
            message.channel,
            subject=message.subject,
            open_key=self._open_key(ctx),
            at=message.occurred_at or ctx.now,
        )
        return opened, True

    @staticmethod
    def _open_key(ctx: IngestContext) -> str:
        """What makes opening this conversation happen once.

        A message that starts a topic of its own opens its own conversation, keyed
        by its dedupe key (a replay finds it). Any other opens "the customer's next
        conversation after their current one": two messages racing on two hub
        instances compute the same key, and the store lets one of them open it.
        """
        message = ctx.message
        if message.new_thread:
            return f"{message.channel}\x1f{message.external_id}"
        head = ctx.head
        after = f"{head.id}@{head.last_activity_at.isoformat()}" if head is not None else "-"
        return f"{ctx.customer_id}\x1fnext\x1f{after}"

    @staticmethod
    def _inbound_event(
        message: InboundMessage, customer_id: str, conversation: Conversation | None
    ) -> Event:
        now = utcnow()
        return Event(
            id=new_id("evt"),
            customer_id=customer_id,
            conversation_id=conversation.id if conversation is not None else None,
            channel=message.channel,
            direction=message.direction,
            kind=message.kind,
            author=message.author,
            text=message.text,
            html=sanitise_html(message.html) if message.html else None,
            subject=message.subject,
            attachments=list(message.attachments),
            external_id=message.external_id,
            thread_ref=message.thread_ref,
            identity=message.identity,
            occurred_at=message.occurred_at or now,
            received_at=now,
            meta=_meta(message),
        )


def _meta(message: InboundMessage) -> dict[str, Any]:
    meta = dict(message.meta)
    if message.content is not None:
        meta["content"] = content_to_doc(message.content)
    return meta
