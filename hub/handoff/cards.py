"""The events the continuity policy writes: handoff cards, carried promises, the record
closing a superseded conversation, and the question about a shared address.

All are internal (agents only): ``handoff`` cards carry the context packet
(``meta.card``), the others are ``note`` / ``status`` events whose ``meta`` says
what they are.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.pipeline.types import HUB_CHANNEL
from hub.timeline.model import (
    ConversationStatus,
    Direction,
    Event,
    EventKind,
    new_id,
    utcnow,
)

if TYPE_CHECKING:
    from hub.handoff.context import Excerpt
    from hub.timeline.model import Conversation, Identity

__all__ = [
    "SHARED_NUMBER",
    "SUPERSEDED_BY",
    "carried_promise",
    "handoff_event",
    "shared_question",
    "superseded",
]

SUPERSEDED_BY = "superseded_by"
"""``meta`` key of the ``status`` event closing a conversation a newer one took over."""
SHARED_NUMBER = "shared_number"
"""``meta`` key of a message from a shared address: who shares it, whom it went to."""

_VIA_TEXT = {
    "link": "opened a continuation link",
    "continuity": "wrote again within the continuity window",
    "thread": "replied to our message",
    "conversation_id": "continued from the conversation",
    "earlier": "came back after the continuity window; the earlier conversation is linked",
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


def carried_promise(
    conv: Conversation, earlier: Conversation, promise: Excerpt, *, at: datetime
) -> Event:
    """A promise of ``earlier`` not kept, carried into ``conv`` (a ``follow_up`` note the
    side panel lists until it is fulfilled); ``earlier`` is then closed."""
    return Event(
        id=new_id("evt"),
        customer_id=conv.customer_id,
        conversation_id=conv.id,
        channel=HUB_CHANNEL,
        direction=Direction.INTERNAL,
        kind=EventKind.NOTE,
        author="handoff",
        text=f"Promise carried over from the earlier conversation: {promise.text}",
        occurred_at=at,
        received_at=at,
        meta={
            "follow_up": True,
            "carried_from": promise.event_id,
            "earlier_conversation_id": earlier.id,
        },
    )


def shared_question(
    conv: Conversation, identity: Identity, shared: dict[str, Any], at: datetime
) -> Event:
    """The agent's question on a message from a shared address: which person is it?
    (``meta.shared_question``: the people and whom it was routed to; agents only.)"""
    people = shared["people"]
    names = [p["name"] or p["customer_id"] for p in people]
    routed = next(
        (p["name"] or p["customer_id"] for p in people if p["customer_id"] == shared["routed_to"]),
        "",
    )
    why = "we wrote to them there last" if shared["why"] == "texted_last" else "it is theirs"
    return Event(
        id=new_id("evt"),
        customer_id=conv.customer_id,
        conversation_id=conv.id,
        channel=HUB_CHANNEL,
        direction=Direction.INTERNAL,
        kind=EventKind.NOTE,
        author="handoff",
        text=(
            f"{identity} is shared by {' and '.join(names)}. This message went to {routed} "
            f"({why}). Which person is it?"
        ),
        occurred_at=at,
        received_at=at,
        meta={"shared_question": shared, "identity": str(identity)},
    )


def superseded(earlier: Conversation, conv: Conversation, *, carried: int, at: datetime) -> Event:
    """The record closing ``earlier``: the customer came back in ``conv`` (the hub then
    resolves ``earlier``, see :meth:`hub.handoff.Handoff.close_superseded`)."""
    moved = f"; {carried} open promise(s) moved there" if carried else ""
    return Event(
        id=new_id("evt"),
        customer_id=earlier.customer_id,
        conversation_id=earlier.id,
        channel=HUB_CHANNEL,
        direction=Direction.INTERNAL,
        kind=EventKind.STATUS,
        author="handoff",
        text=f"Closed: the customer came back in conversation {conv.id}{moved}",
        occurred_at=at,
        received_at=at,
        meta={SUPERSEDED_BY: conv.id, "status": ConversationStatus.RESOLVED.value},
    )
