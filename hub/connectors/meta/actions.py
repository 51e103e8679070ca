"""What a webhook item asks the connector to do, parsed and not yet applied.

The parsers (:mod:`.messaging`, :mod:`.whatsapp`) are pure: one item in, one
action out, so a bad item becomes a :class:`Skipped` and never spoils its batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from hub.connectors.base import InboundMessage
from hub.timeline.model import DeliveryStatus, Identity

__all__ = [
    "Action",
    "BadItem",
    "Incoming",
    "Media",
    "Receipt",
    "Skipped",
    "from_epoch",
    "listed",
    "when",
]

_MILLIS_FROM = 1_000_000_000_000
"""Unix times above this are milliseconds (in seconds it would be the year 33658;
in milliseconds it is September 2001)."""
_YEARS = range(1990, 2200)


class BadItem(ValueError):
    """An item that cannot be used (missing id, wrong type…); logged and skipped."""


@dataclass(frozen=True, slots=True)
class Media:
    """An attachment to fetch: a CDN ``url`` (Messenger, Instagram) or a WhatsApp media id."""

    source: Literal["url", "whatsapp"]
    ref: str
    kind: str
    filename: str | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message to ingest (an echo too), sent to or from business ``account``."""

    message: InboundMessage
    account: str
    media: tuple[Media, ...] = ()


@dataclass(frozen=True, slots=True)
class Receipt:
    """Our messages reached ``status``: those named in ``mids`` and, for
    ``customer``, every one sent up to ``watermark`` (or up to the named mids)."""

    channel: str
    status: DeliveryStatus
    mids: tuple[str, ...] = ()
    customer: Identity | None = None
    watermark: datetime | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """An item deliberately not applied, and why."""

    reason: str
    level: int = logging.INFO


Action = Incoming | Receipt | Skipped


def listed(value: Any, where: str) -> list[Any]:
    """``value`` when it is a list, ``[]`` when absent; :class:`BadItem` otherwise."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadItem(f"{where} is not a list")
    return value


def from_epoch(value: Any, *, millis: bool) -> datetime:
    """A provider timestamp as UTC: Unix seconds or milliseconds, as a number or a
    string, told apart by magnitude (``millis`` is only the provider's usual
    unit), or an ISO 8601 string. :class:`BadItem` when it is none of these."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadItem(f"timestamp {value!r} is not a number")
    try:
        number = float(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise BadItem(f"timestamp {str(value)[:40]!r} is not a valid time") from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    try:
        return datetime.fromtimestamp(number / 1000 if number > _MILLIS_FROM else number, UTC)
    except (ValueError, OverflowError, OSError):
        raise BadItem(f"timestamp {value!r} is not a valid time") from None


def when(item: dict[str, Any], key: str = "timestamp", *, millis: bool) -> datetime | None:
    """``item[key]`` as a time, or ``None`` (the hub's own clock) when absent or unusable:
    a message is never dropped for its timestamp."""
    if key not in item:
        return None
    try:
        found = from_epoch(item[key], millis=millis)
    except BadItem:
        return None
    return found if found.year in _YEARS else None
