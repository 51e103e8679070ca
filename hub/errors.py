"""Omnihub's exception tree, in one place.

    HubError
    ├── InvalidInput           input that cannot be used (field, reason) → 422
    │   ├── MalformedBody      a body that does not parse → 400
    │   ├── InvalidIdentity    an identity that cannot be normalised
    │   └── SendRejected       a reply its channel cannot take (hub.pipeline)
    ├── BadToken               a signed token that is forged, for another use, or garbled → 403
    │   └── ExpiredToken       a genuine token past its age
    ├── NotFound               a customer / conversation / event that does not exist
    ├── Conflict               an operation that contradicts stored state
    │   └── IdentityTaken      the identity already belongs to another customer
    ├── ConfigError            settings that cannot work
    │   └── DuplicateConnector two connectors claim one name or channel
    └── ConnectorError         raised by ``Connector.send`` (see hub.connectors)
        ├── TransientError     retry later (optionally after ``retry_after`` seconds)
        └── PermanentError     do not retry; the delivery fails with ``reason``

Lower-level errors (SDKs, drivers) are translated into this tree where they
are caught, once.
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error Omnihub raises on purpose."""


class InvalidInput(HubError, ValueError):
    """Input that cannot be used. ``field`` names it; ``status`` is the HTTP answer."""

    status = 422

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class MalformedBody(InvalidInput):
    """A request body that cannot be parsed at all."""

    status = 400


class InvalidIdentity(InvalidInput):
    """An identity that cannot be normalised."""


class BadToken(HubError):
    """A signed token that was tampered with, minted for another purpose, or not a token."""

    status = 403


class ExpiredToken(BadToken):
    """A genuine token past its maximum age."""


class NotFound(HubError, LookupError):
    """The record does not exist."""


class Conflict(HubError):
    """The operation contradicts what is stored."""


class IdentityTaken(Conflict):
    """The identity already belongs to another customer (merge them instead)."""

    def __init__(self, identity: str, customer_id: str) -> None:
        super().__init__(f"{identity} already belongs to customer {customer_id}")
        self.identity = identity
        self.customer_id = customer_id


class ConfigError(HubError):
    """Settings that cannot work."""


class DuplicateConnector(ConfigError):
    """Two connectors claim the same name or channel."""


class ConnectorError(HubError):
    """A connector could not deliver a message."""


class TransientError(ConnectorError):
    """Retry later; ``retry_after`` (seconds) overrides the outbox's backoff."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """Do not retry; the delivery fails and the agent sees ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
