"""The connector protocol: what a channel plugin is and what it may touch.

A connector turns a provider's traffic into :class:`InboundMessage` envelopes
that it hands to ``context.ingest`` (the hub's single write path), and turns
:class:`OutboundMessage` into a provider call in :meth:`Connector.send`. It
never touches the store. Routes it declares are mounted under
``/connectors/<name>/``.

Connectors are found through the ``omnihub.connectors`` entry-point group;
the built-in ones register there too.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from hub.errors import PermanentError
from hub.timeline.content import Content
from hub.timeline.model import (
    Attachment,
    DeliveryStatus,
    Direction,
    Event,
    EventKind,
    Identity,
)
from hub.timeline.quarantine import QuarantinedMessage

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection
    from starlette.routing import BaseRoute

    from hub.bus import Bus
    from hub.signing import Signer
    from hub.timeline.blobs import BlobStore
    from hub.timeline.model import Customer
    from hub.timeline.store import Direction as PageDirection
    from hub.timeline.store import EventPage

__all__ = [
    "ENTRY_POINT_GROUP",
    "Capabilities",
    "Channel",
    "ClientBudget",
    "Connector",
    "ConnectorContext",
    "ConnectorSettings",
    "IdentityLinker",
    "InboundMessage",
    "IngestResult",
    "OutboundMessage",
    "Quarantiner",
    "SendResult",
    "TimelineReader",
]

ENTRY_POINT_GROUP = "omnihub.connectors"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can do; the hub checks these before queueing a send."""

    text_limit: int | None = None
    attachments: bool = False
    max_attachment_bytes: int | None = None
    reply_window: timedelta | None = None
    """Free-form replies only this long after the customer's last message."""
    window_escape: str | None = None
    """The ``OutboundMessage.meta`` key that allows a send outside the window
    (``"tag"`` for Messenger's HUMAN_AGENT, ``"template"`` for WhatsApp)."""
    templates: bool = False
    typing: bool = False
    read_receipts: bool = False
    threads: bool = False
    """Replies carry the references of the conversation's earlier messages on this
    channel (``OutboundMessage.in_reply_to``), as email does."""


@dataclass(frozen=True, slots=True)
class Channel:
    """One channel a connector serves: its name, how customers are addressed on
    it, and what it can carry. A connector may serve several (Twilio: ``sms``
    and ``voice``; Meta: ``messenger``, ``instagram``, ``whatsapp``).

    ``shared`` lets another connector declare the same channel (``whatsapp``
    through Meta or through Twilio) when its declaration is shared too; the
    settings then decide which one serves it (:meth:`Connector.serves`)."""

    name: str
    identity_kind: str | None
    capabilities: Capabilities = Capabilities()
    shared: bool = False


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One normalised thing that happened on a channel, ready for ``ingest``.

    ``external_id`` is the provider's id for it (the dedupe key with
    ``channel``). ``direction`` is ``OUT`` for echoes of replies the business
    sent from another tool. ``thread_ref`` is this message's own threading id
    (an email Message-ID); ``in_reply_to`` the refs it answers.
    ``conversation_id`` is a conversation the connector holds proof of (a
    signed reply token); the pipeline honours it only for the same customer.
    ``new_thread`` says the message starts a topic of its own (an email with a
    new subject and no reply headers): it never joins the customer's open
    conversation by default. ``content`` is what the message carries besides
    text and files (a location, contact cards, a reaction, an edit…; see
    :mod:`hub.timeline.content`): set it rather than describing it in ``text``.
    """

    channel: str
    external_id: str
    identity: Identity
    text: str | None = None
    html: str | None = None
    subject: str | None = None
    kind: EventKind = EventKind.MESSAGE
    direction: Direction = Direction.IN
    author: str | None = None
    customer_name: str | None = None
    attachments: tuple[Attachment, ...] = ()
    occurred_at: datetime | None = None
    thread_ref: str | None = None
    in_reply_to: tuple[str, ...] = ()
    conversation_id: str | None = None
    new_thread: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    content: Content | None = None


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What ``ingest`` did: the stored event and whether it was new."""

    event: Event
    created: bool


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message the outbox asks a connector to deliver.

    ``event_id`` is stable across retries: pass it to the provider as an
    idempotency key where the provider supports one.
    """

    event_id: str
    channel: str
    to: Identity
    customer_id: str
    conversation_id: str | None
    text: str | None = None
    html: str | None = None
    subject: str | None = None
    attachments: tuple[Attachment, ...] = ()
    in_reply_to: tuple[str, ...] = ()
    attempt: int = 1
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    """A successful hand-over to the provider."""

    provider_id: str | None = None
    status: DeliveryStatus = DeliveryStatus.SENT
    thread_ref: str | None = None


class ConnectorSettings(BaseModel):
    """Base of every connector's settings model (one ``[connectors.<name>]`` table).

    Declare secrets as ``pydantic.SecretStr`` so they never reach ``repr`` or logs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class DeliveryReporter(Protocol):
    """``context.report_delivery``: record a provider's status callback for the
    outbound event it sent as ``provider_id``; a status never moves backwards.
    Answers the updated event, or ``None`` when no event has that id."""

    async def __call__(
        self,
        channel: str,
        provider_id: str,
        status: DeliveryStatus,
        *,
        error: str | None = None,
    ) -> Event | None: ...


class ClientBudget(Protocol):
    """``context.client_budget``: whether the client behind ``connection`` (its address;
    behind a configured trusted proxy, the address the proxy forwarded) may spend one unit
    of ``budget`` now, counted when it may. The hub's budgets (``security.*``):
    ``"new_visitor"`` (``visitors_per_client``) and ``"visitor_message"``
    (``visitor_messages_per_client``), per ``client_window_seconds``."""

    def __call__(self, budget: str, connection: HTTPConnection) -> bool: ...


class CheckpointStore(Protocol):
    """``context.checkpoints``: small JSON state the connector keeps across restarts
    (a mailbox's last UID, the last update id), scoped to this connector."""

    async def get(self, key: str) -> dict[str, Any] | None:
        """The value saved under ``key``, or ``None``."""
        ...

    async def set(self, key: str, value: dict[str, Any]) -> None:
        """Save ``value`` under ``key`` (replacing it)."""
        ...


class TimelineReader(Protocol):
    """Read-only access to the timeline (the store satisfies it). A connector
    that shows history to a customer scopes every read to that customer."""

    async def find_customer(self, identity: Identity) -> Customer | None: ...
    async def get_customer(self, customer_id: str) -> Customer: ...
    async def events(
        self,
        *,
        customer_id: str | None = None,
        conversation_id: str | None = None,
        cursor: str | None = None,
        direction: PageDirection = "older",
        limit: int = 50,
    ) -> EventPage: ...


class IdentityLinker(Protocol):
    """Attach ``identity`` to the customer owning ``verified`` (created if absent) on
    verified evidence (DESIGN.md "Trust and identity"); if ``identity`` belongs to
    another customer, that customer is merged into the owner. The link or merge is
    recorded on the timeline with ``by``. Call it only with proof that both
    identities are one person (e.g. a site-signed ``user_hash``)."""

    async def __call__(
        self,
        identity: Identity,
        verified: Identity,
        *,
        by: str,
        name: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Customer: ...


class Quarantiner(Protocol):
    """Records a message that cannot be ingested (``TimelineStore.quarantine``).

    Answers the stored record and whether it is new: the same message
    quarantined again (same ``channel`` and ``key``) counts one more attempt on
    the existing record instead of adding another."""

    async def __call__(self, message: QuarantinedMessage, /) -> tuple[QuarantinedMessage, bool]: ...


@dataclass(frozen=True, slots=True)
class ConnectorContext:
    """The part of the hub a connector may use.

    ``ingest`` is the single write path; ``report_delivery`` records a status
    callback (never backwards); ``checkpoints`` are scoped to this connector;
    ``public_url`` is the externally visible base URL (for signatures and
    callback URLs — never trust the request's own host behind a proxy);
    ``signer`` signs and verifies tokens under the hub's secret key (one
    ``purpose`` per use; see :mod:`hub.signing`).

    Optional, for connectors that talk to customers live (the chat widget):
    ``bus`` to watch timeline changes and publish ephemeral signals (typing,
    presence — never records); ``timeline`` read-only access to the store;
    ``link_verified`` links identities on verified evidence;
    ``agents_online`` answers the agents online on any hub instance (id → name),
    for a connector that starts, or resyncs, after they came online.

    ``quarantine`` records an inbound message the connector cannot ingest (its
    raw bytes already in ``blobs``) so its source can move on; agents list and
    retry such messages (see :meth:`Connector.retry_quarantined`).

    ``client_budget`` limits what one client address may do (anonymous visitors
    flooding the inbox); see :class:`ClientBudget`.
    """

    ingest: Callable[[InboundMessage], Awaitable[IngestResult]]
    report_delivery: DeliveryReporter
    blobs: BlobStore
    checkpoints: CheckpointStore
    public_url: str
    max_body_bytes: int
    logger: logging.Logger
    signer: Signer | None = None
    bus: Bus | None = None
    timeline: TimelineReader | None = None
    link_verified: IdentityLinker | None = None
    quarantine: Quarantiner | None = None
    client_budget: ClientBudget | None = None
    default_region: str | None = None
    """The hub's ``default_region`` (ISO 3166): how to read a national-format
    phone number a provider sends (``normalise_identity(..., default_region=)``)."""
    agents_online: Callable[[], Awaitable[dict[str, str]]] | None = None


class Connector(abc.ABC):
    """Base class of every channel plugin.

    Subclasses declare ``name``, ``identity_kind`` (the kind of identity it
    reaches customers by; ``None`` for any kind), ``capabilities`` and
    ``settings_model``, and implement :meth:`send`. A connector serving several
    channels lists them in ``channels`` (names inheriting the class's identity
    kind and capabilities, or :class:`Channel` specs); by default it serves one
    channel named ``name``. Override :meth:`routes`, :meth:`start` and
    :meth:`stop` as needed. ``enabled_by_default`` runs the connector without
    any settings (only for connectors that need none, like the chat widget);
    otherwise a connector runs once it has a ``[connectors.<name>]`` table.
    """

    name: ClassVar[str]
    identity_kind: ClassVar[str | None]
    channels: ClassVar[tuple[str | Channel, ...]] = ()
    capabilities: ClassVar[Capabilities] = Capabilities()
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    enabled_by_default: ClassVar[bool] = False

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.context = context

    @classmethod
    def channel_specs(cls) -> tuple[Channel, ...]:
        """Every channel this connector serves, as full specs."""
        declared = cls.channels or (cls.name,)
        return tuple(
            c if isinstance(c, Channel) else Channel(c, cls.identity_kind, cls.capabilities)
            for c in declared
        )

    @classmethod
    def channel_names(cls) -> tuple[str, ...]:
        """The names of the channels this connector serves."""
        return tuple(c.name for c in cls.channel_specs())

    def serves(self, channel: str) -> bool:
        """Whether this connector, as configured, serves ``channel`` (one of its
        declared channels). Override when a channel depends on settings: two
        connectors may declare one channel, and only one may serve it."""
        return True

    @classmethod
    async def setup(cls, settings: ConnectorSettings, public_url: str) -> str:
        """One-off registration with the provider (``omnihub connectors setup NAME``).

        Override to register webhooks through the provider's API; return what
        was done, for the operator. By default there is nothing to register:
        the answer says where to point the provider.
        """
        return f"nothing to register: point the provider at {public_url}/connectors/{cls.name}/"

    def routes(self) -> Sequence[BaseRoute]:
        """Starlette routes, mounted under ``/connectors/<name>/``."""
        return []

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Start background work (polling, sockets). Called once the hub is up."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop background work; must be safe to call twice."""

    async def retry_quarantined(self, record: QuarantinedMessage, raw: bytes) -> Event | None:
        """Ingest a message this connector quarantined (``raw`` as received) once more;
        the event, or ``None`` if it is now skipped on purpose. Raise if it still fails."""
        raise PermanentError(f"connector {self.name!r} cannot retry quarantined messages")

    @abc.abstractmethod
    async def send(self, message: OutboundMessage) -> SendResult:
        """Deliver ``message``; raise TransientError or PermanentError on failure."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} settings={self.settings!r}>"
