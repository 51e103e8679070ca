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
* Live updates: :class:`Bus` publishes :class:`BusMessage` by :class:`Topic`;
  a subscriber that falls behind gets a :class:`Resync`.
* Errors (all :class:`HubError`): :class:`TransientError` (retry) and
  :class:`PermanentError` (fail the delivery) from ``send``, both
  :class:`ConnectorError`; :class:`InvalidInput`, :class:`InvalidIdentity` for
  provider input that cannot be used;
  :class:`BadToken`, :class:`ExpiredToken` from :class:`Signer`;
  :class:`NotFound` from timeline reads; :class:`ConfigError` for settings that
  cannot work.
* Helpers: :func:`download` (size-capped media fetch, :class:`MediaError`),
  :class:`Signer` (``context.signer``).
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
    Connector,
    ConnectorContext,
    ConnectorSettings,
    DeliveryReporter,
    IdentityLinker,
    InboundMessage,
    IngestResult,
    OutboundMessage,
    SendResult,
    TimelineReader,
)
from hub.connectors.media import MediaError, download
from hub.connectors.registry import Registry
from hub.errors import (
    BadToken,
    ConfigError,
    ConnectorError,
    ExpiredToken,
    HubError,
    InvalidIdentity,
    InvalidInput,
    NotFound,
    PermanentError,
    TransientError,
)
from hub.signing import Signer
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
    "ConfigError",
    "Connector",
    "ConnectorContext",
    "ConnectorError",
    "ConnectorSettings",
    "Customer",
    "DeliveryReporter",
    "DeliveryStatus",
    "Direction",
    "Event",
    "EventKind",
    "EventPage",
    "ExpiredToken",
    "HubError",
    "Identity",
    "IdentityLinker",
    "InboundMessage",
    "IngestResult",
    "InvalidCursor",
    "InvalidIdentity",
    "InvalidInput",
    "MediaError",
    "NotFound",
    "OutboundMessage",
    "PermanentError",
    "Registry",
    "Resync",
    "SendResult",
    "Signer",
    "TimelineReader",
    "Topic",
    "TransientError",
    "download",
    "normalise_identity",
    "utcnow",
]
