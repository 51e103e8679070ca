"""``send``, reply options, notes and delivery reports: the outbound half."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from hub.errors import NotFound
from hub.pipeline.base import PipelineBase
from hub.pipeline.types import (
    HUB_CHANNEL,
    SHARED,
    SHARED_REPLY_HOURS,
    ReplyOption,
    SendRejected,
    Step,
)
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
from hub.timeline.work import (
    Expectation,
    GetConversation,
    GetCustomer,
    LastInbound,
    Plan,
    SharedOf,
    SharedWith,
    Writes,
    drive,
)

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

        ``channel`` defaults to the channel the customer was last on in the
        conversation. ``to`` overrides the address (the handoff module sends "text
        me instead" to a number the customer asked for). ``client_ref`` makes the
        call idempotent (the same ref returns the already queued event).
        ``meta.follow_up = True`` marks a promise the context packet tracks until
        fulfilled. Raises :class:`SendRejected` before queueing when the channel
        cannot take it. One unit of work: the checks read the same state the
        write is made on.
        """
        if not text and not attachments:
            raise SendRejected("text", "a reply needs text or an attachment")

        def plan() -> Plan:
            conv = yield GetConversation(conversation_id)
            if conv is None:
                raise NotFound(f"no conversation {conversation_id!r}")
            event = yield from self._reply(
                conv, text, html, subject, attachments, channel, to, author, client_ref, meta
            )
            expect = None
            if event.identity is not None and (yield SharedWith(event.identity)):
                # Several customers use this address: its reply is this customer's.
                expect = Expectation(
                    event.identity,
                    conv.customer_id,
                    conv.id,
                    utcnow() + timedelta(hours=SHARED_REPLY_HOURS),
                    SHARED,
                )
            return Writes(conv.customer_id, [event], read=[conv], expect=expect)

        outcome = await self.store.run(plan)
        stored = outcome.event
        assert stored is not None
        if outcome.created:
            self.publish_outcome(outcome)
            for wake in self.on_queued:
                wake(stored)
        return stored

    def _reply(
        self,
        conv: Conversation,
        text: str | None,
        html: str | None,
        subject: str | None,
        attachments: Sequence[Attachment],
        channel: str | None,
        to: Identity | None,
        author: str | None,
        client_ref: str | None,
        meta: Mapping[str, Any] | None,
    ) -> Step[Event]:
        channel = channel or self._default_channel(conv)
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
        option = yield from self._option(conv, info)
        to = to or option.to
        if to is None:
            raise SendRejected("channel", f"the customer has no address on {channel}")
        if option.needs and not (meta or {}).get(option.needs):
            assert option.window_closes_at is not None or option.needs
            closed = (
                f"closed at {option.window_closes_at:%Y-%m-%d %H:%M} UTC"
                if option.window_closes_at
                else "is closed"
            )
            raise SendRejected(
                option.needs, f"the reply window on {channel} {closed}; a {option.needs} is needed"
            )
        now = utcnow()
        return Event(
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

    @staticmethod
    def _default_channel(conv: Conversation) -> str | None:
        for candidate in (conv.customer_channel, conv.last_channel):
            if candidate and candidate != HUB_CHANNEL:
                return candidate
        return None

    async def reply_options(self, conversation_id: str) -> list[ReplyOption]:
        """Every running channel, with the customer's address on it (if any), its
        limits and whether its reply window is open — what a composer shows."""
        conv = await self.store.get_conversation(conversation_id)
        return [
            await drive(self.store, self._option(conv, info)) for info in self.channels.values()
        ]

    def _option(self, conv: Conversation, info: Channel) -> Step[ReplyOption]:
        last_in = yield LastInbound(conv.customer_id, info.name)
        customer = yield GetCustomer(conv.customer_id)
        shared = yield SharedOf(conv.customer_id)
        identities = [*(customer.identities if customer is not None else []), *shared]
        to = last_in.identity if last_in is not None else None
        if to not in identities:
            # Replies go only to the customer's own addresses, never to one that wrote
            # in unproved (an answer from a second address waits for an agent's link).
            to = next(
                (
                    i
                    for i in identities
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
        """Record a provider's status callback; a status never moves backwards.

        A status for a message whose provider id is not recorded yet (the callback
        beat the provider's answer to our send) is kept and applied once the
        outbox records that id, for every connector alike.
        """
        updated = await self.store.report_status(
            channel, provider_id, DeliveryUpdate(status=status, error=error)
        )
        if updated is None:
            log.info(
                "delivery report for %s message %s kept until it is known", channel, provider_id
            )
            return None
        self.publish_updated(updated)
        return updated
