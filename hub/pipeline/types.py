"""What the pipeline's callers and hooks see: hook stages, contexts, reply options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hub.errors import InvalidInput

if TYPE_CHECKING:
    from datetime import datetime

    from hub.connectors.base import InboundMessage
    from hub.timeline.model import Conversation, Customer, Event, Identity
    from hub.timeline.store import TimelineStore

__all__ = ["HUB_CHANNEL", "IngestContext", "IngestHook", "ReplyOption", "SendRejected"]

HUB_CHANNEL = "hub"
"""The channel of events the hub itself writes (notes, merges, handoff cards)."""


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
    """What a hook sees while a message is being ingested.

    ``routed_by`` says how the conversation was chosen: ``"conversation_id"``
    (the connector's proof), ``"thread"`` (``in_reply_to``), ``"hook"`` (an
    :meth:`IngestHook.route`), ``"same_channel"`` (the customer's open
    conversation on this channel) or ``"new"``. ``new_customer`` is true when
    this message's sender was first seen by this ingest.
    """

    message: InboundMessage
    customer: Customer
    store: TimelineStore
    conversation: Conversation | None = None
    new_conversation: bool = False
    routed_by: str = "new"
    new_customer: bool = False
    extra_events: list[Event] = field(default_factory=list)


class IngestHook:
    """Extension point inside ``ingest`` (the handoff module implements it).

    Stages, in order, each a no-op by default:

    * ``before_resolve(message)`` — before the sender's identity is resolved to
      a customer, outside the customer lock (may link identities on verified
      evidence);
    * ``route(ctx)`` — may pick the conversation after the message's own
      threading evidence (``conversation_id``, ``in_reply_to``) and before the
      default same-channel threading;
    * ``before_append(ctx)`` — may add events (e.g. a handoff card) to
      ``ctx.extra_events``, appended just before the message itself.
    """

    async def before_resolve(self, message: InboundMessage) -> None:
        """Runs before identity resolution."""

    async def route(self, ctx: IngestContext) -> Conversation | None:
        """The conversation to use, or ``None`` to fall through."""
        return None

    async def before_append(self, ctx: IngestContext) -> None:
        """Add extra events to ``ctx.extra_events``."""
