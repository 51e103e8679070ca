"""The single write path: :meth:`Pipeline.ingest` for inbound, :meth:`Pipeline.send` for outbound.

Every connector's traffic passes here, so dedupe, identity, threading, the
handoff hook and publishing happen once, the same way for every channel::

    ingest: 1 dedupe → 2 resolve identity → 3 thread → 4 hooks → 5 append → 6 publish
    send:   check channel → append event (delivery = queued) → publish → wake the outbox
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from hub.bus import Bus, BusMessage, Topic
from hub.connectors.base import InboundMessage, IngestResult
from hub.errors import Conflict, InvalidInput, NotFound
from hub.timeline.model import (
    Attachment,
    Conversation,
    Customer,
    Delivery,
    DeliveryStatus,
    Direction,
    Event,
    EventKind,
    Identity,
    new_id,
    utcnow,
)
from hub.timeline.store import DeliveryUpdate, TimelineStore

if TYPE_CHECKING:
    from datetime import datetime

    from hub.connectors.base import Channel

__all__ = ["IngestContext", "IngestHook", "Pipeline", "ReplyOption", "SendRejected"]

log = logging.getLogger("hub.pipeline")

HUB_CHANNEL = "hub"


class SendRejected(InvalidInput):
    """A reply the channel cannot take (no such channel, no address, too long…).

    ``field`` names the input at fault; raised before anything is queued.
    """


@dataclass(frozen=True, slots=True)
class ReplyOption:
    """A channel an agent could answer on, and what it demands right now."""

    channel: str
    to: Identity | None
    text_limit: int | None
    attachments: bool
    window_closes_at: datetime | None
    needs: str | None

    @property
    def available(self) -> bool:
        return self.to is not None


@dataclass(slots=True)
class IngestContext:
    """What a hook sees while a message is being ingested."""

    message: InboundMessage
    customer: Customer
    store: TimelineStore
    conversation: Conversation | None = None
    new_conversation: bool = False
    extra_events: list[Event] = field(default_factory=list)


class IngestHook(Protocol):
    """Extension point inside ``ingest`` (the handoff module implements it).

    ``route`` may pick the conversation before the default threading does;
    ``before_append`` may add events (e.g. a handoff card) to
    ``ctx.extra_events``, appended just before the message itself.
    """

    async def route(self, ctx: IngestContext) -> Conversation | None: ...

    async def before_append(self, ctx: IngestContext) -> None: ...


class Pipeline:
    """Ingest and send, for every channel."""

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

    # -- inbound -----------------------------------------------------------
    async def ingest(self, message: InboundMessage) -> IngestResult:
        """Store one inbound message (or echo) on its customer's timeline.

        Idempotent on ``(channel, external_id)``: the same message again
        returns the stored event with ``created=False``, and nothing is published.
        """
        existing = await self.store.find_event(message.channel, message.external_id)
        if existing is not None:
            return IngestResult(existing, created=False)

        customer, _ = await self.store.get_or_create_customer(
            message.identity, name=message.customer_name
        )
        if message.customer_name and not customer.name:
            customer = await self.store.update_customer(customer.id, name=message.customer_name)

        async with self._lock(customer.id):
            raced = await self.store.find_event(message.channel, message.external_id)
            if raced is not None:
                return IngestResult(raced, created=False)
            ctx = IngestContext(message=message, customer=customer, store=self.store)
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

        self._publish_created(created_events, stored.conversation_id)
        return IngestResult(stored, created)

    async def _thread(self, ctx: IngestContext) -> tuple[Conversation, bool]:
        message, customer = ctx.message, ctx.customer
        if message.conversation_id:
            conv = await self._own_conversation(message.conversation_id, customer.id)
            if conv is not None:
                return conv, False
        if message.in_reply_to:
            parent = await self.store.find_event_by_thread_ref(list(message.in_reply_to))
            if parent is not None and parent.conversation_id:
                conv = await self._own_conversation(parent.conversation_id, customer.id)
                if conv is not None:
                    return conv, False
        for hook in self.hooks:
            routed = await hook.route(ctx)
            if routed is not None:
                return routed, False
        if not message.new_thread:
            conv = await self.store.find_open_conversation(customer.id, channel=message.channel)
            if conv is not None:
                return conv, False
        key = f"{message.channel}\x1f{message.external_id}"
        conv = await self.store.open_conversation(
            customer.id, channel=message.channel, subject=message.subject, open_key=key
        )
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

    # -- outbound ----------------------------------------------------------
    async def send(
        self,
        conversation_id: str,
        *,
        text: str | None = None,
        html: str | None = None,
        subject: str | None = None,
        attachments: Sequence[Attachment] = (),
        channel: str | None = None,
        author: str | None = None,
        client_ref: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Event:
        """Queue a reply in ``conversation_id``; the outbox delivers it.

        ``channel`` defaults to the channel of the customer's last inbound
        message in the conversation. ``client_ref`` makes the call idempotent
        (the same ref returns the already queued event). Raises
        :class:`SendRejected` before queueing when the channel cannot take it.
        """
        conv = await self.store.get_conversation(conversation_id)
        if not text and not attachments:
            raise SendRejected("text", "a reply needs text or an attachment")
        channel = channel or await self._last_inbound_channel(conv)
        if channel is None:
            raise SendRejected("channel", "no channel given and the customer never wrote in")
        info = self.channels.get(channel)
        if info is None:
            raise SendRejected("channel", f"no running connector for channel {channel!r}")
        limit = info.capabilities.text_limit
        if text and limit is not None and len(text) > limit:
            raise SendRejected("text", f"{channel} takes at most {limit} characters")
        if attachments and not info.capabilities.attachments:
            raise SendRejected("attachments", f"{channel} does not take attachments")
        option = await self._option(conv, info)
        if option.to is None:
            raise SendRejected("channel", f"the customer has no address on {channel}")
        if option.needs and not (meta or {}).get(option.needs):
            raise SendRejected(
                option.needs,
                f"the reply window on {channel} closed at {option.window_closes_at:%Y-%m-%d %H:%M} "
                f"UTC; a {option.needs} is needed",
            )
        to = option.to
        now = utcnow()
        event = Event(
            id=new_id("evt"),
            customer_id=conv.customer_id,
            conversation_id=conv.id,
            channel=channel,
            direction=Direction.OUT,
            kind=EventKind.MESSAGE,
            author=author,
            text=text,
            html=html,
            subject=subject,
            attachments=list(attachments),
            external_id=f"client:{client_ref}" if client_ref else None,
            identity=to,
            occurred_at=now,
            received_at=now,
            delivery=Delivery(status=DeliveryStatus.QUEUED, next_attempt_at=now, updated_at=now),
            meta=dict(meta or {}),
        )
        stored, created = await self.store.append_event(event)
        if created:
            self._publish_created([stored], stored.conversation_id)
            for wake in self.on_queued:
                wake(stored)
        return stored

    async def _last_inbound_channel(self, conv: Conversation) -> str | None:
        cursor: str | None = None
        for _ in range(10):
            page = await self.store.events(conversation_id=conv.id, cursor=cursor, limit=100)
            for event in reversed(page.items):
                if event.direction is Direction.IN and event.channel != HUB_CHANNEL:
                    return event.channel
            if page.older is None:
                break
            cursor = page.older
        return conv.last_channel if conv.last_channel != HUB_CHANNEL else None

    async def reply_options(self, conversation_id: str) -> list[ReplyOption]:
        """Every running channel, with the customer's address on it (if any), its
        limits and whether its reply window is open — what a composer shows."""
        conv = await self.store.get_conversation(conversation_id)
        return [await self._option(conv, info) for info in self.channels.values()]

    async def _option(self, conv: Conversation, info: Channel) -> ReplyOption:
        page = await self.store.events(customer_id=conv.customer_id, limit=200)
        last_in = next(
            (
                e
                for e in reversed(page.items)
                if e.channel == info.name and e.direction is Direction.IN and e.identity
            ),
            None,
        )
        to = last_in.identity if last_in else None
        if to is None:
            customer = await self.store.get_customer(conv.customer_id)
            to = next(
                (
                    i
                    for i in customer.identities
                    if info.identity_kind is None or i.kind == info.identity_kind
                ),
                None,
            )
        caps = info.capabilities
        closes = needs = None
        if caps.reply_window is not None:
            closes = last_in.occurred_at + caps.reply_window if last_in else None
            if closes is None or closes <= utcnow():
                needs = caps.window_escape or "template"
        return ReplyOption(
            channel=info.name,
            to=to,
            text_limit=caps.text_limit,
            attachments=caps.attachments,
            window_closes_at=closes,
            needs=needs,
        )

    async def note(self, conversation_id: str, text: str, *, author: str | None = None) -> Event:
        """Add an internal note (never sent to the customer)."""
        conv = await self.store.get_conversation(conversation_id)
        if not text.strip():
            raise SendRejected("text", "a note needs text")
        return await self._internal(conv.customer_id, conv.id, EventKind.NOTE, text, author, {})

    async def _internal(
        self,
        customer_id: str,
        conversation_id: str | None,
        kind: EventKind,
        text: str,
        author: str | None,
        meta: dict[str, Any],
    ) -> Event:
        now = utcnow()
        event = Event(
            id=new_id("evt"),
            customer_id=customer_id,
            conversation_id=conversation_id,
            channel=HUB_CHANNEL,
            direction=Direction.INTERNAL,
            kind=kind,
            author=author,
            text=text,
            occurred_at=now,
            received_at=now,
            meta=meta,
        )
        stored, _ = await self.store.append_event(event)
        self._publish_created([stored], conversation_id)
        return stored

    # -- delivery reports --------------------------------------------------
    async def report_delivery(
        self,
        channel: str,
        provider_id: str,
        status: DeliveryStatus,
        *,
        error: str | None = None,
    ) -> Event | None:
        """Record a provider's status callback; a status never moves backwards."""
        event = await self.store.find_event_by_provider_id(channel, provider_id)
        if event is None:
            log.info("delivery report for unknown %s message %s", channel, provider_id)
            return None
        updated = await self.store.record_delivery(
            event.id, DeliveryUpdate(status=status, error=error)
        )
        if updated is not None:
            self.publish_updated(updated)
        return updated

    # -- identities ----------------------------------------------------------
    async def merge(
        self, source_id: str, target_id: str, *, by: str, reason: str | None = None
    ) -> Customer:
        """Merge two customers (reversible) and record who did it and why."""
        if source_id == target_id:
            raise Conflict("cannot merge a customer into itself")
        target = await self.store.merge_customers(source_id, target_id)
        text = f"{by} merged customer {source_id} into {target_id}"
        meta = {"source": source_id, "target": target_id, "by": by, "reason": reason}
        await self._internal(target.id, None, EventKind.MERGE, text, by, meta)
        self.bus.publish(BusMessage(Topic.CUSTOMER_UPDATED, target.id))
        return target

    async def unmerge(self, source_id: str, *, by: str, reason: str | None = None) -> Customer:
        """Undo a merge: everything the customer brought goes back to it."""
        before = await self.store.get_customer(source_id)
        restored = await self.store.unmerge_customer(source_id)
        text = f"{by} unmerged customer {source_id} from {before.merged_into}"
        meta = {"source": source_id, "target": before.merged_into, "by": by, "reason": reason}
        await self._internal(restored.id, None, EventKind.UNMERGE, text, by, meta)
        if before.merged_into:
            self.bus.publish(BusMessage(Topic.CUSTOMER_UPDATED, before.merged_into))
        self.bus.publish(BusMessage(Topic.CUSTOMER_UPDATED, restored.id))
        return restored

    # -- publishing ----------------------------------------------------------
    def _publish_created(self, events: list[Event], conversation_id: str | None) -> None:
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
        self.bus.publish(BusMessage(Topic.EVENT_UPDATED, event.customer_id, event=event))
