"""``send``, reply options, notes and delivery reports: the outbound half."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hub.pipeline.base import PipelineBase
from hub.pipeline.types import HUB_CHANNEL, ReplyOption, SendRejected
from hub.timeline.model import (
    Attachment,
    Conversation,
    Delivery,
    DeliveryStatus,
    Direction,
    Event,
    EventKind,
    Identity,
    new_id,
    utcnow,
)
from hub.timeline.store import DeliveryUpdate

if TYPE_CHECKING:
    from hub.connectors.base import Channel

__all__ = ["Outbound"]

log = logging.getLogger("hub.pipeline")


class Outbound(PipelineBase):
    """Replies through the outbox, internal notes, provider status callbacks."""

    async def send(
        self,
        conversation_id: str,
        *,
        text: str | None = None,
        html: str | None = None,
        subject: str | None = None,
        attachments: Sequence[Attachment] = (),
        channel: str | None = None,
        to: Identity | None = None,
        author: str | None = None,
        client_ref: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Event:
        """Queue a reply in ``conversation_id``; the outbox delivers it.

        ``channel`` defaults to the channel of the customer's last inbound
        message in the conversation. ``to`` overrides the address (the handoff
        module sends "text me instead" to a number the customer asked for).
        ``client_ref`` makes the call idempotent (the same ref returns the
        already queued event). ``meta.follow_up = True`` marks a promise the
        context packet tracks until fulfilled. Raises :class:`SendRejected`
        before queueing when the channel cannot take it.
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
        if to is not None and info.identity_kind is not None and to.kind != info.identity_kind:
            raise SendRejected("to", f"{channel} reaches {info.identity_kind} identities, not {to}")
        option = await self._option(conv, info)
        to = to or option.to
        if to is None:
            raise SendRejected("channel", f"the customer has no address on {channel}")
        if option.needs and not (meta or {}).get(option.needs):
            raise SendRejected(
                option.needs,
                f"the reply window on {channel} closed at {option.window_closes_at:%Y-%m-%d %H:%M} "
                f"UTC; a {option.needs} is needed",
            )
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
            self.publish_created([stored], stored.conversation_id)
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

    async def note(
        self,
        conversation_id: str,
        text: str,
        *,
        author: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Event:
        """Add an internal note (never sent to the customer).

        ``meta.follow_up = True`` marks it as a promise ("I'll call the depot
        tomorrow"); ``meta.fulfils = <event id>`` marks that promise done.
        """
        conv = await self.store.get_conversation(conversation_id)
        if not text.strip():
            raise SendRejected("text", "a note needs text")
        return await self.internal_event(
            conv.customer_id, conv.id, EventKind.NOTE, text, author=author, meta=dict(meta or {})
        )

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
