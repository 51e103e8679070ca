"""What the pipeline's callers and hooks see: hook stages, contexts, reply options."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from hub.errors import InvalidInput

if TYPE_CHECKING:
    from hub.connectors.base import InboundMessage
    from hub.timeline.handoff import LinkSuggestion
    from hub.timeline.model import Conversation, Event, Identity
    from hub.timeline.work import Read, SenderInfo

__all__ = [
    "HUB_CHANNEL",
    "SHARED",
    "SHARED_ANSWERED",
    "SHARED_REPLY_HOURS",
    "UNVERIFIED_FROM",
    "IngestContext",
    "IngestPolicy",
    "ReplyOption",
    "SendRejected",
    "Step",
]

T = TypeVar("T")

HUB_CHANNEL = "hub"
"""The channel of events the hub itself writes (notes, merges, handoff cards)."""

SHARED = "shared"
"""Purpose of the reply we expect from an address several customers share, after we
wrote to it for one of them (the one texted last gets the reply)."""
SHARED_ANSWERED = "shared_answered"
"""Purpose of that expectation once an agent said which person the address is."""
SHARED_REPLY_HOURS = 7 * 24

UNVERIFIED_FROM = "unverified_from"
"""``meta`` key of a message filed on a customer from an address nobody has proved
theirs (its value is that address): agents see it in place, customer surfaces never."""


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
    """What a policy sees, and may decide, while ``ingest`` plans one message.

    ``sender`` is who owns the message's identity (and any reply we expect
    from it). A policy's ``resolve`` may choose the customer (``customer_id``)
    and attach the sender's identity to them (``link``, verified evidence, with
    a ``link`` event in ``extra_events``). ``customer_id`` is then set (a new
    customer's id when ``new_customer``), ``conversation`` chosen:
    ``routed_by`` says how — ``"conversation_id"`` (the connector's proof),
    ``"thread"`` (``in_reply_to``), a policy's ``name`` (its :meth:`route`),
    ``"same_channel"`` (the customer's open conversation on this channel) or
    ``"new"``. ``head`` is the customer's most recently active conversation
    (read before ``route``; ``None`` for a new customer). ``extras`` may add
    events appended just before the message (a handoff card) and suggestions.
    ``now`` is the time the plan runs. ``event_meta`` is merged into the stored
    event's ``meta``: a policy that files a message from an address nobody has proved
    on a customer (an answer to our email from a second address) sets
    ``unverified_from`` there, and customer surfaces never show such an event.
    ``now`` is the time the plan runs. ``record_as`` (set by a policy) stores the
    message as a ``status`` event with that added to its ``meta`` — an answer to
    something we asked (a survey's "4"), which must not reopen the conversation.
    """

    message: InboundMessage
    sender: SenderInfo
    now: datetime
    customer_id: str | None = None
    new_customer: bool = False
    link: Identity | None = None
    head: Conversation | None = None
    conversation: Conversation | None = None
    new_conversation: bool = False
    routed_by: str = "new"
    extra_events: list[Event] = field(default_factory=list)
    suggestions: list[LinkSuggestion] = field(default_factory=list)
    event_meta: dict[str, Any] = field(default_factory=dict)
    record_as: dict[str, Any] | None = None


Step = Generator["Read", Any, T]
"""A policy step: yields reads (see :mod:`hub.timeline.work`), returns a ``T``."""


class IngestPolicy:
    """Rules ``ingest`` consults while it plans (the handoff module's continuity and
    identity rules are one). Each stage is a generator that may ``yield`` reads
    (:mod:`hub.timeline.work`) and must not do anything else — it may run on the
    store's thread, and more than once — and returns its decision:

    * ``resolve(ctx)`` — before the customer is chosen: may set ``ctx.customer_id``
      (and ``ctx.link``) on verified evidence, or add suggestions;
    * ``route(ctx)`` — after the message's own threading evidence
      (``conversation_id``, ``in_reply_to``) and before same-channel threading:
      the conversation to join, or ``None`` (``name`` says how it was chosen);
    * ``extras(ctx)`` — once the conversation is chosen: may add events to
      ``ctx.extra_events`` (appended just before the message) and suggestions.
    """

    name = "policy"

    def resolve(self, ctx: IngestContext) -> Step[None]:
        """Runs before the customer is chosen."""
        return None
        yield  # pragma: no cover

    def route(self, ctx: IngestContext) -> Step[Conversation | None]:
        """The conversation to use, or ``None`` to fall through."""
        return None
        yield  # pragma: no cover

    def extras(self, ctx: IngestContext) -> Step[None]:
        """Add events and suggestions."""
        return None
        yield  # pragma: no cover
