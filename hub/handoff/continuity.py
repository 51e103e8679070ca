"""Continuity inside ``pipeline.ingest``: one conversation across channels.

:class:`HandoffHook` is the pipeline's :class:`~hub.pipeline.IngestHook`:

* ``before_resolve`` — a reply from an address the customer asked us to use
  ("text me instead") links that address to them when it belongs to nobody
  yet (the reply proves control of it; the request came from the customer). If
  it belongs to someone else it only becomes a suggested link.
* ``route`` — a message on channel B joins the customer's conversation that
  was active within the window (default 7 days, open or not) on channel A,
  unless continuity is off for the channel / inbox (``[handoff.rules]``) or
  the message starts a topic of its own (``new_thread``, e.g. a new email).
* ``before_append`` — when the customer's previous message in that
  conversation came on another channel, a ``handoff`` event carrying the
  context packet is appended just before the message; claims typed into the
  message (an email address, a phone number) become suggested links, and so
  does a new email customer named like a customer at the same email domain
  (:mod:`.names`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.errors import InvalidIdentity, NotFound
from hub.handoff.context import build_packet
from hub.handoff.identity import SIGNATURE_SCORE, TYPED_SCORE, Identities, find_claims
from hub.handoff.names import suggest_same_name_and_domain
from hub.pipeline.types import HUB_CHANNEL, IngestContext, IngestHook
from hub.timeline.model import (
    Conversation,
    Direction,
    Event,
    EventKind,
    Identity,
    new_id,
    normalise_identity,
    to_json,
    utcnow,
)
from hub.timeline.store import InboxFilter, TimelineStore

if TYPE_CHECKING:
    from hub.connectors.base import InboundMessage
    from hub.settings import HandoffSettings

__all__ = ["EXPECT", "HandoffHook", "handoff_event", "last_active"]

EXPECT = "handoff"
"""Checkpoint namespace for expected replies (``expect:<identity>``)."""
_CLAIM_CHANNELS_SIGNATURE = ("email",)


_VIA_TEXT = {
    "link": "opened a continuation link",
    "hook": "wrote again within the continuity window",
    "thread": "replied to our message",
    "conversation_id": "continued from the conversation",
}
"""How the customer came over, in words for the card's text (``meta.via`` keeps the code)."""


def handoff_event(
    conversation: Conversation,
    *,
    from_channel: str | None,
    to_channel: str,
    via: str,
    packet: dict[str, Any],
    short: str,
    at: datetime | None = None,
) -> Event:
    """The ``handoff`` event (the agent's card); ``meta.card`` is the agent card JSON."""
    now = at or utcnow()
    text = (
        f"Customer moved from {from_channel} to {to_channel}"
        if from_channel
        else (f"Customer continued on {to_channel}")
    )
    how = _VIA_TEXT.get(via)
    return Event(
        id=new_id("evt"),
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        channel=HUB_CHANNEL,
        direction=Direction.INTERNAL,
        kind=EventKind.HANDOFF,
        author="handoff",
        text=f"{text} ({how})" if how else text,
        occurred_at=now,
        received_at=now,
        meta={
            "from": from_channel,
            "to": to_channel,
            "via": via,
            "card": packet,
            "short": short,
        },
    )


async def last_active(store: TimelineStore, conversation: Conversation) -> datetime:
    """When something last happened in ``conversation`` (its latest events' own times,
    so a message dated in the past does not make an old conversation look recent)."""
    page = await store.events(conversation_id=conversation.id, limit=20)
    if not page.items:
        return conversation.last_activity_at
    return max(e.occurred_at for e in page.items)


class HandoffHook(IngestHook):
    """Continuity, handoff cards and claim suggestions inside ingest."""

    def __init__(self, identities: Identities, settings: HandoffSettings) -> None:
        self.identities = identities
        self.store = identities.store
        self.settings = settings

    # -- expected replies ("text me instead") ---------------------------------------
    async def expect_reply(
        self, identity: Identity, *, customer_id: str, conversation_id: str, hours: float
    ) -> None:
        """Remember that a message from ``identity`` answers our offer in ``conversation_id``."""
        until = utcnow() + timedelta(hours=hours)
        await self.store.set_checkpoint(
            EXPECT,
            f"expect:{identity}",
            {
                "customer_id": customer_id,
                "conversation_id": conversation_id,
                "until": until.isoformat(),
            },
        )

    async def _expected(self, identity: Identity) -> dict[str, Any] | None:
        raw = await self.store.get_checkpoint(EXPECT, f"expect:{identity}")
        if not raw or datetime.fromisoformat(raw["until"]) < utcnow():
            return None
        return raw

    async def before_resolve(self, message: InboundMessage) -> None:
        if message.direction is not Direction.IN:
            return
        expected = await self._expected(message.identity)
        if expected is None:
            return
        owner = await self.store.find_customer(message.identity)
        if owner is None:
            await self.identities.link_verified(
                expected["customer_id"],
                message.identity,
                by="handoff",
                evidence=f"replied on {message.channel} to the offer the customer asked for",
            )
        elif owner.id != expected["customer_id"]:
            await self.identities.suggest(
                expected["customer_id"],
                message.identity,
                score=0.9,
                evidence={
                    "kind": "text_me_reply",
                    "detail": f"replied on {message.channel} to the offer the customer asked for",
                    "channel": message.channel,
                },
            )

    # -- routing -------------------------------------------------------------------------
    def _rule_window(self, message: InboundMessage) -> timedelta | None:
        if not self.settings.continuity or message.direction is not Direction.IN:
            return None
        inbox = message.meta.get("inbox")
        rule = self.settings.rules.get(f"{message.channel}:{inbox}") if inbox else None
        rule = rule or self.settings.rules.get(message.channel)
        if rule is not None and not rule.enabled:
            return None
        if message.new_thread and not (rule and rule.new_threads):
            return None
        hours = rule.window_hours if rule and rule.window_hours is not None else None
        return timedelta(hours=self.settings.window_hours if hours is None else hours)

    async def route(self, ctx: IngestContext) -> Conversation | None:
        message = ctx.message
        expected = await self._expected(message.identity)
        if expected is not None:
            try:
                conv = await self.store.get_conversation(expected["conversation_id"])
            except NotFound:
                conv = None
            if conv is not None and conv.customer_id == ctx.customer.id:
                return conv
        window = self._rule_window(message)
        if window is None:
            return None
        page = await self.store.list_conversations(
            InboxFilter(status=(), customer_id=ctx.customer.id), limit=1
        )
        if not page.items:
            return None
        recent = page.items[0]
        if await last_active(self.store, recent) < utcnow() - window:
            return None
        return recent

    # -- handoff card ------------------------------------------------------------------
    async def before_append(self, ctx: IngestContext) -> None:
        message, conv = ctx.message, ctx.conversation
        if conv is None or message.direction is not Direction.IN:
            return
        if not ctx.new_conversation:
            previous = await self._previous_channel(conv, message.channel)
            if previous is not None and previous != message.channel:
                packet = await build_packet(
                    self.store, conv, from_channel=previous, to_channel=message.channel
                )
                ctx.extra_events.append(
                    handoff_event(
                        conv,
                        from_channel=previous,
                        to_channel=message.channel,
                        via=ctx.routed_by,
                        packet=to_json(packet.agent_card()),
                        short=packet.short_text(),
                    )
                )
        await self._suggest_from(ctx)
        if ctx.new_customer:
            await suggest_same_name_and_domain(
                self.identities,
                ctx.customer,
                message.identity,
                self.settings,
                channel=message.channel,
            )

    async def _previous_channel(self, conv: Conversation, channel: str) -> str | None:
        """The channel of the customer's last message here, or ``None`` if the move to
        ``channel`` was announced already (a handoff card since)."""
        page = await self.store.events(conversation_id=conv.id, limit=100)
        for event in reversed(page.items):
            if event.kind is EventKind.HANDOFF and event.meta.get("to") == channel:
                return None
            if event.direction is Direction.IN and event.channel != HUB_CHANNEL:
                return event.channel
        return None

    async def _suggest_from(self, ctx: IngestContext) -> None:
        claimed = ctx.message.meta.get("claimed_email")
        if isinstance(claimed, str):
            try:
                identity: Identity | None = normalise_identity("email", claimed)
            except InvalidIdentity:
                identity = None
            if identity is not None:
                await self.identities.suggest(
                    ctx.customer.id,
                    identity,
                    score=TYPED_SCORE,
                    evidence={
                        "kind": f"left_on_{ctx.message.channel}",
                        "detail": f"left {claimed} to be contacted",
                        "channel": ctx.message.channel,
                        "external_id": ctx.message.external_id,
                    },
                )
        text = ctx.message.text
        if not text or ctx.message.kind is not EventKind.MESSAGE:
            return
        signature = ctx.message.channel in _CLAIM_CHANNELS_SIGNATURE
        for identity, words in find_claims(text[:20_000])[:5]:
            if identity == ctx.message.identity:
                continue
            await self.identities.suggest(
                ctx.customer.id,
                identity,
                score=SIGNATURE_SCORE if signature else TYPED_SCORE,
                evidence={
                    "kind": "signature" if signature else f"typed_in_{ctx.message.channel}",
                    "detail": words,
                    "channel": ctx.message.channel,
                    "external_id": ctx.message.external_id,
                },
            )
