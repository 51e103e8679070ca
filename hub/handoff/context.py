"""The context packet: what travels with a customer from one channel to another.

Built from the timeline (:func:`build_packet`) and rendered three ways:

* :meth:`ContextPacket.agent_card` — structured JSON for the agent view::

      {"customer": {"id", "name"},
       "from_channel": "chat" | None, "to_channel": "sms" | None,
       "conversations": [{"id", "subject", "status", "priority", "channels",
                          "last_channel", "assignee", "last_activity_at"}],
       "first_message": {"event_id", "channel", "direction", "text", "at"} | None,
       "latest": [{"event_id", "channel", "direction", "text", "at", "author"}],
       "promises": [{"event_id", "channel", "kind", "text", "at", "author"}],
       "last_agent": "sam@acme.test" | None,
       "last_contact_at": ISO time | None, "since_last_contact_seconds": int | None}

* :meth:`ContextPacket.short_text` — at most 160 characters for SMS and the
  voice greeting; nothing but the customer's first name, their own words (the
  subject or first message) and the agent's name;
* :meth:`ContextPacket.email_header` — a plain-text block to put above an email.

Promises are outbound messages and notes with ``meta.follow_up`` true that no
later event fulfils (``meta.fulfils = <event id>``) while the conversation is
not resolved; a "call me back" is kept once the customer answered the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.pipeline.types import HUB_CHANNEL, UNVERIFIED_FROM, Step
from hub.timeline.model import (
    Conversation,
    ConversationStatus,
    Customer,
    DeliveryStatus,
    Direction,
    Event,
    EventKind,
    utcnow,
)
from hub.timeline.work import (
    ConversationEvents,
    CustomerConversations,
    GetCustomer,
    Reader,
    drive,
)

__all__ = ["ContextPacket", "Excerpt", "build_packet", "packet_step", "promises_of"]

SHORT_LIMIT = 160
LATEST = 6
_VERBS = {
    "chat": "chatting with us",
    "email": "emailing us",
    "sms": "texting us",
    "voice": "on the phone with us",
    "whatsapp": "messaging us on WhatsApp",
    "messenger": "messaging us on Messenger",
    "instagram": "messaging us on Instagram",
    "telegram": "messaging us on Telegram",
}
_SPOKEN = (EventKind.MESSAGE, EventKind.CALL, EventKind.VOICEMAIL)


@dataclass(frozen=True, slots=True)
class Excerpt:
    """One event as the packet shows it."""

    event_id: str
    channel: str
    direction: str
    kind: str
    text: str
    at: datetime
    author: str | None = None

    @classmethod
    def of(cls, event: Event, limit: int = 280) -> Excerpt:
        notice = event.meta.get("notice")
        shown = notice if isinstance(notice, str) else (event.text or event.subject or "")
        text = " ".join(shown.split())
        if len(text) > limit:
            text = text[: limit - 1].rstrip() + "…"
        return cls(
            event.id,
            event.channel,
            event.direction.value,
            event.kind.value,
            text,
            event.occurred_at,
            event.author,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "channel": self.channel,
            "direction": self.direction,
            "kind": self.kind,
            "text": self.text,
            "at": self.at.isoformat(),
            "author": self.author,
        }


@dataclass(slots=True)
class ContextPacket:
    """Everything an agent (or a channel) needs to pick a conversation up."""

    customer: Customer
    conversation: Conversation
    open_conversations: list[Conversation]
    first_message: Excerpt | None
    latest: list[Excerpt]
    promises: list[Excerpt]
    last_agent: str | None
    last_contact_at: datetime | None
    from_channel: str | None = None
    to_channel: str | None = None
    built_at: datetime = field(default_factory=utcnow)

    @property
    def since_last_contact_seconds(self) -> int | None:
        if self.last_contact_at is None:
            return None
        return max(0, int((self.built_at - self.last_contact_at).total_seconds()))

    customer_subject: str | None = None

    @property
    def topic(self) -> str | None:
        """What the issue is about, in the customer's own words: the subject of their
        first email, else their first message. Never the conversation's subject, tags
        or notes, which agents write."""
        if self.customer_subject:
            return self.customer_subject
        return self.first_message.text if self.first_message else None

    def agent_card(self) -> dict[str, Any]:
        """The card for the agent view (shape in the module docstring)."""
        conversations = [self.conversation] + [
            c for c in self.open_conversations if c.id != self.conversation.id
        ]
        return {
            "customer": {"id": self.customer.id, "name": self.customer.name},
            "from_channel": self.from_channel,
            "to_channel": self.to_channel,
            "conversations": [
                {
                    "id": c.id,
                    "subject": c.subject,
                    "status": c.status.value,
                    "priority": c.priority.value,
                    "channels": list(c.channels),
                    "last_channel": c.last_channel,
                    "assignee": c.assignee,
                    "last_activity_at": c.last_activity_at.isoformat(),
                }
                for c in conversations
            ],
            "first_message": self.first_message.as_json() if self.first_message else None,
            "latest": [e.as_json() for e in self.latest],
            "promises": [e.as_json() for e in self.promises],
            "last_agent": self.last_agent,
            "last_contact_at": self.last_contact_at.isoformat() if self.last_contact_at else None,
            "since_last_contact_seconds": self.since_last_contact_seconds,
        }

    def short_text(self, *, agent: str | None = None) -> str:
        """≤ 160 characters: "Hi Ana — I see you were chatting with us about your
        refund. Connecting you to Sam." Only the first name, the customer's own
        words and the agent's name; never addresses, notes or agents' words."""
        first = (self.customer.name or "").split()
        hello = f"Hi {first[0]} — " if first else "Hi — "
        channel = self.from_channel or self.conversation.last_channel or ""
        verb = _VERBS.get(channel, "in touch with us")
        tail = f" Connecting you to {agent}." if agent else ""
        head = f"{hello}I see you were {verb}"
        topic = " ".join((self.topic or "").split()).rstrip(".!?")
        if not topic:
            return _cut(f"{head}.{tail}")
        room = SHORT_LIMIT - len(head) - len(" about “”.") - len(tail)
        if room < 8:
            return _cut(f"{head}.{tail}")
        if len(topic) > room:
            topic = topic[: room - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
        return _cut(f"{head} about “{topic}”.{tail}")

    def email_header(self) -> str:
        """A plain-text block summarising the conversation, for the top of an email."""
        lines = ["-- Your conversation so far " + "-" * 32]
        if self.customer_subject:
            lines.append(f"Subject: {self.customer_subject}")
        if self.first_message:
            f = self.first_message
            lines.append(f'Started on {f.channel}, {f.at:%d %b %Y %H:%M} UTC: "{f.text}"')
        for e in self.latest[-3:]:
            who = "You" if e.direction == Direction.IN.value else "Us"
            lines.append(f'{who} ({e.channel}, {e.at:%d %b %H:%M}): "{e.text}"')
        for p in self.promises:
            if p.direction == Direction.OUT.value:
                lines.append(f'We said we would: "{p.text}"')
        lines.append("-" * 60)
        return "\n".join(lines)


def _cut(text: str) -> str:
    return text if len(text) <= SHORT_LIMIT else text[: SHORT_LIMIT - 1] + "…"


def promises_of(events: list[Event]) -> list[Event]:
    """Follow-ups (outbound messages or notes with ``meta.follow_up``) not yet fulfilled."""
    fulfilled = {str(e.meta.get("fulfils")) for e in events if e.meta.get("fulfils")}
    return [
        e
        for e in events
        if e.meta.get("follow_up")
        and e.id not in fulfilled
        and (e.direction is Direction.OUT or e.kind is EventKind.NOTE)
        and not _answered_callback(e)
    ]


def _answered_callback(event: Event) -> bool:
    """A "call me back" keeps its promise once the customer answered the call."""
    return (
        event.channel == "voice"
        and event.delivery is not None
        and event.delivery.status in (DeliveryStatus.DELIVERED, DeliveryStatus.READ)
    )


PACKET_EVENTS = 1000
"""How many of the conversation's latest events a packet reads."""


def packet_step(
    conversation: Conversation,
    *,
    from_channel: str | None = None,
    to_channel: str | None = None,
    now: datetime | None = None,
) -> Step[ContextPacket]:
    """The packet for ``conversation``, as a step of reads (usable inside a unit of work)."""
    customer = yield GetCustomer(conversation.customer_id)
    if customer is None:
        customer = Customer(id=conversation.customer_id)
    events: list[Event] = yield ConversationEvents(conversation.id, PACKET_EVENTS)
    spoken = [
        e
        for e in events
        if e.kind in _SPOKEN and e.channel != HUB_CHANNEL and not e.meta.get(UNVERIFIED_FROM)
    ]
    first_in = next((e for e in spoken if _own_words(e)), None)
    subject_in = next((e for e in spoken if e.direction is Direction.IN and e.subject), None)
    latest = [Excerpt.of(e) for e in spoken[-LATEST:]]
    resolved = conversation.status is ConversationStatus.RESOLVED
    promises = [] if resolved else [Excerpt.of(e) for e in promises_of(events)]
    last_agent = conversation.assignee or next(
        (e.author for e in reversed(events) if e.direction is Direction.OUT and e.author),
        None,
    )
    last_contact = max((e.occurred_at for e in spoken), default=None)
    listing: list[Conversation] = yield CustomerConversations(customer.id, 10, open_only=True)
    others = [c for c in listing if c.id != conversation.id]
    return ContextPacket(
        customer=customer,
        conversation=conversation,
        open_conversations=others,
        first_message=Excerpt.of(first_in) if first_in else None,
        latest=latest,
        promises=promises,
        last_agent=last_agent,
        last_contact_at=last_contact,
        from_channel=from_channel,
        to_channel=to_channel,
        built_at=now or utcnow(),
        customer_subject=_own_subject(subject_in),
    )


def _own_words(event: Event) -> bool:
    """The customer's own words: a message they wrote, or a voicemail transcript (never
    a call's status line such as "Incoming call")."""
    if event.direction is not Direction.IN or not event.text:
        return False
    if event.kind is EventKind.MESSAGE:
        return True
    return (
        event.kind is EventKind.VOICEMAIL
        and bool(event.meta.get("transcript_of"))
        and (event.text != "Voicemail transcription failed")
    )


def _own_subject(event: Event | None) -> str | None:
    if event is None or not event.subject:
        return None
    subject = " ".join(event.subject.split())
    while subject[:3].lower() in ("re:", "fw:") or subject[:4].lower() == "fwd:":
        subject = subject.split(":", 1)[1].strip()
    return subject or None


async def build_packet(
    store: Reader,
    conversation: Conversation,
    *,
    from_channel: str | None = None,
    to_channel: str | None = None,
) -> ContextPacket:
    """The packet for ``conversation`` as of now."""
    return await drive(
        store, packet_step(conversation, from_channel=from_channel, to_channel=to_channel)
    )
