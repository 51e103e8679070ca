"""The timeline model: customers, their identities, conversations and events.

Every value here is plain data (dataclasses). Stores persist them; the
pipeline creates them; the API serialises them with :func:`to_json`.
Times are timezone-aware UTC everywhere.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import email_validator
import phonenumbers

from hub.errors import InvalidIdentity
from hub.timeline.content import Content, content_from_doc

__all__ = [
    "Agent",
    "AgentRole",
    "ApiToken",
    "Attachment",
    "Conversation",
    "ConversationStatus",
    "Customer",
    "Delivery",
    "DeliveryStatus",
    "Direction",
    "Event",
    "EventKind",
    "Identity",
    "Priority",
    "ReadMark",
    "new_id",
    "normalise_identity",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, to the millisecond (what BSON keeps)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class _RandomHex(threading.local):
    """Hex digits from the OS's random source, read 2 KiB at a time (one call per
    ~200 ids instead of one each); each thread has its own buffer."""

    def __init__(self) -> None:
        self.buffer = ""
        self.at = 0

    def take(self, digits: int) -> str:
        if self.at + digits > len(self.buffer):
            self.buffer, self.at = secrets.token_hex(2048), 0
        out = self.buffer[self.at : self.at + digits]
        self.at += digits
        return out


_RANDOM = _RandomHex()


def new_id(prefix: str) -> str:
    """A new random id such as ``cus_3f9a…`` (prefix names the record type; 80 random bits)."""
    return f"{prefix}_{_RANDOM.take(20)}"


class Direction(enum.StrEnum):
    """Who an event came from: the customer (``in``), the business (``out``) or
    nobody outside (``internal``: notes, handoffs, merges)."""

    IN = "in"
    OUT = "out"
    INTERNAL = "internal"


class EventKind(enum.StrEnum):
    """What an event records: a ``message``, a ``call`` or ``voicemail``, an agent's
    ``note``, a channel ``handoff``, a ``status`` change, a ``merge``/``unmerge``
    of customers or an identity ``link``."""

    MESSAGE = "message"
    NOTE = "note"
    CALL = "call"
    VOICEMAIL = "voicemail"
    HANDOFF = "handoff"
    STATUS = "status"
    MERGE = "merge"
    UNMERGE = "unmerge"
    LINK = "link"


class ConversationStatus(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class DeliveryStatus(enum.StrEnum):
    """Where an outbound message is. Ordered: a status never moves backwards."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return _DELIVERY_RANK[self]

    @property
    def final(self) -> bool:
        """True once the outbox is done with the message (sent or beyond, or failed)."""
        return self not in (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


_DELIVERY_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENDING: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.FAILED: 3,  # "undelivered" after "sent" is a failure
    DeliveryStatus.DELIVERED: 4,
    DeliveryStatus.READ: 5,
}

# Identity kinds whose values are normalised specially; any other kind is an
# opaque provider id (``messenger:<PSID>``, ``chat:<visitor id>``…).
EMAIL = "email"
PHONE = "phone"


@dataclass(frozen=True, slots=True)
class Identity:
    """One way to reach a customer: ``kind:value``, already normalised.

    Build one with :func:`normalise_identity` or :meth:`parse`; the constructor
    trusts its arguments.
    """

    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    @classmethod
    def parse(cls, text: str, *, default_region: str | None = None) -> Identity:
        """Parse and normalise ``"kind:value"`` (e.g. ``"email:Ana@Example.com"``)."""
        kind, sep, value = text.partition(":")
        if not sep:
            raise InvalidIdentity("identity", "expected kind:value, e.g. email:ana@example.com")
        return normalise_identity(kind, value, default_region=default_region)


def normalise_identity(kind: str, value: str, *, default_region: str | None = None) -> Identity:
    """Normalise an identity: E.164 for phones, a validated address for emails.

    Raises :class:`~hub.errors.InvalidIdentity` naming what is wrong.
    """
    kind = kind.strip().lower()
    value = value.strip()
    if not kind or not kind.replace("_", "").isalnum():
        raise InvalidIdentity("identity.kind", f"invalid identity kind {kind!r}")
    if not value:
        raise InvalidIdentity("identity.value", "identity value is empty")
    if kind == PHONE:
        return Identity(PHONE, _normalise_phone(value, default_region))
    if kind == EMAIL:
        return Identity(EMAIL, _normalise_email(value))
    if len(value) > 256 or any(c.isspace() or not c.isprintable() for c in value):
        raise InvalidIdentity("identity.value", "identity value must be 1-256 printable characters")
    return Identity(kind, value)


@functools.lru_cache(maxsize=16_384)
def _normalise_phone(value: str, default_region: str | None) -> str:
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity("identity.value", f"not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentity("identity.value", "not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=16_384)
def _normalise_email(value: str) -> str:
    try:
        info = email_validator.validate_email(value, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise InvalidIdentity("identity.value", f"not an email address: {exc}") from None
    # Domains are case-insensitive; local parts are in practice too.
    return info.normalized.lower()


@dataclass(slots=True)
class Customer:
    """A person. ``merged_into`` points at the survivor once merged."""

    id: str
    name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    identities: list[Identity] = field(default_factory=list)
    merged_into: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class Conversation:
    """One issue a customer raised, possibly spanning several channels.

    The summary fields (``last_*``, ``waiting_since``, ``channels``,
    ``first_response_at``) are maintained by the store as events are appended.
    ``waiting_since`` is the time of the oldest inbound message not yet
    answered by an outbound one; ``None`` when the business spoke last.
    ``origin_customer_id`` is who opened it, kept so an unmerge can restore it.
    ``open_key`` makes opening idempotent (the dedupe key of the first message).
    ``customer_channel`` is the channel the customer was last on here (their
    latest message, or the channel a handoff card announced): a message on
    another channel is a channel switch.
    """

    id: str
    customer_id: str
    status: ConversationStatus = ConversationStatus.OPEN
    subject: str | None = None
    assignee: str | None = None
    priority: Priority = Priority.NORMAL
    tags: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    last_channel: str | None = None
    opened_at: datetime = field(default_factory=utcnow)
    last_activity_at: datetime = field(default_factory=utcnow)
    last_message_preview: str | None = None
    waiting_since: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    snoozed_until: datetime | None = None
    origin_customer_id: str | None = None
    open_key: str | None = None
    customer_channel: str | None = None

    @classmethod
    def opened(
        cls,
        customer_id: str,
        channel: str,
        *,
        subject: str | None = None,
        open_key: str | None = None,
        at: datetime | None = None,
    ) -> Conversation:
        """A conversation ``customer_id`` opens on ``channel`` (what stores insert).

        ``at`` is when its first event happened (default now): the conversation's
        activity counts from its events' own times.
        """
        now = utcnow()
        return cls(
            id=new_id("con"),
            customer_id=customer_id,
            subject=subject,
            channels=[channel],
            last_channel=channel,
            opened_at=now,
            last_activity_at=at or now,
            origin_customer_id=customer_id,
            open_key=open_key,
        )


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file on an event: metadata here, bytes in the blob store under ``blob_id``."""

    blob_id: str
    filename: str
    content_type: str
    size: int


@dataclass(slots=True)
class Delivery:
    """Delivery state of an outbound event; the event itself is the outbox entry."""

    status: DeliveryStatus = DeliveryStatus.QUEUED
    attempts: int = 0
    next_attempt_at: datetime | None = field(default_factory=utcnow)
    lease_until: datetime | None = None
    lease_token: str | None = None
    provider_id: str | None = None
    error: str | None = None
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class Event:
    """One append-only entry on a customer's timeline.

    ``seq`` is assigned by the store on append: a strictly increasing number
    that gives the timeline its stable total order (arrival order). ``dedupe_key``
    is unique per store: ``channel`` + ``external_id`` when the provider gave an
    id, otherwise the event id.
    """

    id: str
    customer_id: str
    conversation_id: str | None
    channel: str
    direction: Direction
    kind: EventKind = EventKind.MESSAGE
    author: str | None = None
    text: str | None = None
    html: str | None = None
    subject: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    external_id: str | None = None
    thread_ref: str | None = None
    identity: Identity | None = None
    occurred_at: datetime = field(default_factory=utcnow)
    received_at: datetime = field(default_factory=utcnow)
    delivery: Delivery | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    origin_customer_id: str | None = None

    @property
    def content(self) -> Content | None:
        """What the message carries besides text and files, typed (``meta["content"]``)."""
        return content_from_doc(self.meta.get("content"))

    @property
    def dedupe_key(self) -> str:
        if self.external_id is not None:
            return f"{self.channel}\x1f{self.external_id}"
        return f"id\x1f{self.id}"


@dataclass(slots=True)
class ApiToken:
    """A bearer token for the JSON API, stored only as a SHA-256 hash."""

    id: str
    name: str
    token_hash: str
    created_at: datetime = field(default_factory=utcnow)
    revoked_at: datetime | None = None


class AgentRole(enum.StrEnum):
    """What an agent may do: admins also manage agents and act on every conversation."""

    AGENT = "agent"
    ADMIN = "admin"


@dataclass(slots=True)
class Agent:
    """A person who signs in to the agent view.

    ``email`` is unique (stored lower-case). ``password_hash`` is a slow hash
    (see :mod:`hub.agent.passwords`), never the password. ``session_epoch``
    goes up when the password changes or the agent is disabled, which ends
    every session signed for an older epoch. ``failed_sign_ins`` counts
    failures since the last success; ``locked_until`` is set by the lockout.
    """

    id: str
    email: str
    name: str
    password_hash: str
    role: AgentRole = AgentRole.AGENT
    disabled: bool = False
    session_epoch: int = 0
    failed_sign_ins: int = 0
    locked_until: datetime | None = None
    last_sign_in_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role is AgentRole.ADMIN


@dataclass(frozen=True, slots=True)
class ReadMark:
    """How far an agent has read a conversation: the last event ``seq`` seen, and when."""

    agent_id: str
    conversation_id: str
    seq: int
    at: datetime


def to_json(value: Any) -> Any:
    """Serialise a model value for JSON (API responses, bus payloads)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if isinstance(value, Identity):
            return str(value)
        out = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Delivery):
            out.pop("lease_token", None)
        if isinstance(value, ApiToken):
            out.pop("token_hash", None)
        if isinstance(value, Agent):
            out.pop("password_hash", None)
        return out
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value
