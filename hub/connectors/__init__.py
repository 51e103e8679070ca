"""The connector SDK: everything a channel plugin may import, from one module.

A plugin writes ``from hub.connectors import Connector, InboundMessage, …`` and
nothing else from ``hub``: these names are the stable, documented surface
(``docs/connectors.md``); anything not listed here is internal and may change.

* The protocol: :class:`Connector`, :class:`Channel`, :class:`Capabilities`,
  :class:`ConnectorSettings`, :class:`ConnectorContext` (with the
  :class:`CheckpointStore` and :class:`DeliveryReporter` it carries, and for
  live channels the :class:`Bus`, a :class:`TimelineReader` and an
  :class:`IdentityLinker`).
* Messages: :class:`InboundMessage` in (handed to ``context.ingest``, which
  answers an :class:`IngestResult`), :class:`OutboundMessage` out (answered by
  a :class:`SendResult`).
* Timeline values a connector builds or reads: :class:`Identity` (made with
  :func:`normalise_identity`), :class:`Attachment`, :class:`Direction`,
  :class:`EventKind`, :class:`DeliveryStatus`, :class:`Event`, :func:`utcnow`;
  :class:`Customer` and :class:`EventPage` from timeline reads (a bad page
  cursor raises :class:`InvalidCursor`).
* Content a message carries besides text and files (``InboundMessage.content``,
  read back as ``Event.content``): :class:`Location`, :class:`Contacts` of
  :class:`Contact` cards, :class:`Sticker`, :class:`Voice`, :class:`Share`,
  :class:`Order` of :class:`OrderItem`, :class:`Reply`, :class:`Unsupported`,
  and the kinds that change the message they name: :class:`Reaction`,
  :class:`Edit`, :class:`Revoke` (all :class:`Content`; :func:`content_to_doc`).
* Live updates: :class:`Bus` publishes :class:`BusMessage` by :class:`Topic`;
  a subscriber that falls behind gets a :class:`Resync`.
* Errors (all :class:`HubError`): :class:`TransientError` (retry) and
  :class:`PermanentError` (fail the delivery) from ``send``, both
  :class:`ConnectorError`; :class:`InvalidInput`, :class:`InvalidIdentity` for
  provider input that cannot be used;
  :class:`BadToken`, :class:`ExpiredToken` from :class:`Signer`;
  :class:`NotFound` from timeline reads; :class:`ConfigError` for settings that
  cannot work.
* Helpers: :func:`download` and :func:`fetch_stream` (size-capped media fetch
  under a :class:`FetchPolicy` that keeps requests on public provider hosts;
  :class:`MediaError`, :class:`MediaRefused`), :func:`parse_json` (untrusted
  webhook bodies; :class:`MalformedBody` → 400), :func:`from_epoch` (provider
  Unix times), :func:`retry_after` (a provider's ``Retry-After``),
  :class:`Signer` (``context.signer``).
* Quarantine: a message that cannot be ingested is kept as a
  :class:`QuarantinedMessage` through ``context.quarantine`` (a
  :data:`Quarantiner`); :func:`printable` makes its summary safe to show.
* Discovery: ``ENTRY_POINT_GROUP`` is ``"omnihub.connectors"``, the entry-point
  group a plugin registers its class under; :class:`Registry` loads them.

The conformance kit for plugin tests is :mod:`hub.testing`.
"""

from __future__ import annotations

from hub.bus import Bus, BusMessage, Resync, Topic
from hub.connectors.base import (
    ENTRY_POINT_GROUP,
    Capabilities,
    Channel,
    CheckpointStore,
    ClientBudget,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    DeliveryReporter,
    IdentityLinker,
    InboundMessage,
    IngestResult,
    OutboundMessage,
    Quarantiner,
    SendResult,
    TimelineReader,
)
from hub.connectors.http import retry_after
from hub.connectors.media import FetchPolicy, MediaError, MediaRefused, download, fetch_stream
from hub.connectors.registry import Registry
from hub.errors import (
    BadToken,
    ConfigError,
    ConnectorError,
    ExpiredToken,
    HubError,
    InvalidIdentity,
    InvalidInput,
    MalformedBody,
    NotFound,
    PermanentError,
    TransientError,
)
from hub.payloads import from_epoch, parse_json, sanitise_html
from hub.signing import Signer
from hub.timeline.content import (
    Contact,
    Contacts,
    Content,
    Edit,
    Location,
    Order,
    OrderItem,
    Reaction,
    Reply,
    Revoke,
    Share,
    Sticker,
    Unsupported,
    Voice,
    content_to_doc,
)
from hub.timeline.model import (
    Attachment,
    Customer,
    DeliveryStatus,
    Direction,
    Event,
    EventKind,
    Identity,
    normalise_identity,
    utcnow,
)
from hub.timeline.quarantine import QuarantinedMessage, printable
from hub.timeline.store import EventPage, InvalidCursor

__all__ = [
    "ENTRY_POINT_GROUP",
    "Attachment",
    "BadToken",
    "Bus",
    "BusMessage",
    "Capabilities",
    "Channel",
    "CheckpointStore",
    "ClientBudget",
    "ConfigError",
    "Connector",
    "ConnectorContext",
    "ConnectorError",
    "ConnectorSettings",
    "Contact",
    "Contacts",
    "Content",
    "Customer",
    "DeliveryReporter",
    "DeliveryStatus",
    "Direction",
    "Edit",
    "Event",
    "EventKind",
    "EventPage",
    "ExpiredToken",
    "FetchPolicy",
    "HubError",
    "Identity",
    "IdentityLinker",
    "InboundMessage",
    "IngestResult",
    "InvalidCursor",
    "InvalidIdentity",
    "InvalidInput",
    "Location",
    "MalformedBody",
    "MediaError",
    "MediaRefused",
    "NotFound",
    "Order",
    "OrderItem",
    "OutboundMessage",
    "PermanentError",
    "QuarantinedMessage",
    "Quarantiner",
    "Reaction",
    "Registry",
    "Reply",
    "Resync",
    "Revoke",
    "SendResult",
    "Share",
    "Signer",
    "Sticker",
    "TimelineReader",
    "Topic",
    "TransientError",
    "Unsupported",
    "Voice",
    "content_to_doc",
    "download",
    "fetch_stream",
    "from_epoch",
    "normalise_identity",
    "parse_json",
    "printable",
    "retry_after",
    "sanitise_html",
    "utcnow",
]
