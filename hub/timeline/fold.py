"""How an appended event changes its conversation's summary (both adapters follow it).

* Every event moves ``last_activity_at`` up to its ``occurred_at``.
* A ``handoff`` card moves ``customer_channel`` to the channel it announces.
* Conversational events — messages, calls, voicemails that are not internal —
  add their channel to ``channels``, set ``last_channel`` and the preview.
  From the customer (``in``) they start ``waiting_since`` if it is not running
  (or move it earlier), set ``customer_channel`` and re-open a pending, snoozed
  or resolved conversation. From us (``out``), a message or call stops
  ``waiting_since``; ``first_response_at`` is the earliest such reply. An
  automated one (``meta.automated``: an acknowledgement) is not a reply.
* An inbound event marked ``meta.automated`` (a robot wrote it: an
  out-of-office reply, a bounce) is not conversational: like anything else
  (status and merge records…) it only moves the activity time, so robots never
  re-open a conversation, change its preview or count as the customer waiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hub.timeline.model import Conversation, ConversationStatus, Direction, Event, EventKind

__all__ = [
    "CONVERSATIONAL",
    "PREVIEW_CHARS",
    "REOPENS",
    "REPLIES",
    "fold",
    "is_conversational",
    "is_reply",
    "is_robot",
    "preview",
    "refold",
]

PREVIEW_CHARS = 140


def preview(event: Event) -> str | None:
    """The inbox preview of ``event``: its text, else a summary of its content."""
    content = event.content
    text = event.text or (content.summary() if content is not None else None)
    return text[:PREVIEW_CHARS] if text else None


CONVERSATIONAL = (EventKind.MESSAGE, EventKind.CALL, EventKind.VOICEMAIL)
REPLIES = (EventKind.MESSAGE, EventKind.CALL)
REOPENS = (ConversationStatus.PENDING, ConversationStatus.SNOOZED, ConversationStatus.RESOLVED)


def is_robot(direction: Direction, meta: Mapping[str, Any]) -> bool:
    """Whether an event with ``direction`` and ``meta`` came in from a robot
    (``meta.automated`` on inbound: an auto-reply, a bounce), not the customer."""
    return direction is Direction.IN and bool(meta.get("automated"))


def is_conversational(event: Event) -> bool:
    """Whether ``event`` is part of the exchange (see the module rules)."""
    return (
        event.kind in CONVERSATIONAL
        and event.direction is not Direction.INTERNAL
        and not is_robot(event.direction, event.meta)
    )


def is_reply(event: Event) -> bool:
    """Whether outbound ``event`` answers the customer: a message or call that is not
    ``meta.automated`` (an acknowledgement or reminder the hub sent by itself)."""
    return event.kind in REPLIES and not event.meta.get("automated")


def fold(conv: Conversation, event: Event) -> None:
    """Fold ``event`` into the summary of ``conv`` (in place)."""
    at = event.occurred_at
    conv.last_activity_at = max(conv.last_activity_at, at)
    if event.kind is EventKind.HANDOFF and isinstance(event.meta.get("to"), str):
        conv.customer_channel = event.meta["to"]
    if not is_conversational(event):
        return
    if event.channel not in conv.channels:
        conv.channels.append(event.channel)
    conv.last_channel = event.channel
    shown = preview(event)
    if shown:
        conv.last_message_preview = shown
    if event.direction is Direction.IN:
        conv.customer_channel = event.channel
        conv.waiting_since = min(conv.waiting_since, at) if conv.waiting_since else at
        if conv.status in REOPENS:
            conv.status = ConversationStatus.OPEN
            conv.resolved_at = None
            conv.snoozed_until = None
    elif is_reply(event):
        conv.waiting_since = None
        first = conv.first_response_at
        conv.first_response_at = min(first, at) if first else at


def refold(conv: Conversation, events: Iterable[Event]) -> None:
    """Recompute the summary of ``conv`` from all its ``events`` in order (after events
    moved between conversations); status, assignee and the rest agents set are kept."""
    status, resolved_at, snoozed_until = conv.status, conv.resolved_at, conv.snoozed_until
    conv.channels = []
    conv.last_channel = conv.last_message_preview = conv.customer_channel = None
    conv.waiting_since = conv.first_response_at = None
    for event in events:
        conv.opened_at = min(conv.opened_at, event.occurred_at)
        fold(conv, event)
    conv.status, conv.resolved_at, conv.snoozed_until = status, resolved_at, snoozed_until
