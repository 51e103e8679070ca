"""What a message carries besides text and files: typed, per kind, on the event.

A connector sets :attr:`InboundMessage.content <hub.connectors.base.InboundMessage>`
to one of these; the pipeline keeps it as ``meta["content"]`` (a plain document
both stores hold as they are) and :attr:`Event.content
<hub.timeline.model.Event.content>` reads it back typed. The agent view shows
each kind in its own way (``docs/channels.md`` has the table per channel).

Three kinds change another message instead of being one (:data:`AMENDING`):
a :class:`Reaction`, an :class:`Edit` and a :class:`Revoke` name their
``target`` by the provider's id; ``ingest`` applies them to that message and
keeps the history (see :mod:`hub.pipeline.amend`). :class:`Unsupported` is
what a connector stores when the provider sent something it cannot show, so
the agent still sees that the customer sent something.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote

__all__ = [
    "AMENDING",
    "Contact",
    "Contacts",
    "Content",
    "Edit",
    "Location",
    "Order",
    "OrderItem",
    "Reaction",
    "Reply",
    "Revoke",
    "Share",
    "Sticker",
    "Unsupported",
    "Voice",
    "content_from_doc",
    "content_to_doc",
]


@dataclass(frozen=True, slots=True)
class Content:
    """Base of every content kind; ``TYPE`` names it in the stored document."""

    TYPE: ClassVar[str] = ""

    def summary(self) -> str:
        """A one-line plain-text description (inbox previews, search, other channels)."""
        return self.TYPE


@dataclass(frozen=True, slots=True)
class Location(Content):
    """A shared location or venue (``name``/``address`` set for a venue)."""

    TYPE: ClassVar[str] = "location"
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    url: str | None = None

    @property
    def map_url(self) -> str:
        """An OpenStreetMap link to the point."""
        lat, lon = f"{self.latitude:.6f}", f"{self.longitude:.6f}"
        return (
            f"https://www.openstreetmap.org/?mlat={quote(lat)}&mlon={quote(lon)}#map=17/{lat}/{lon}"
        )

    def summary(self) -> str:
        label = ", ".join(p for p in (self.name, self.address) if p)
        where = f"{self.latitude:.5f}, {self.longitude:.5f}"
        return f"📍 {label} ({where})" if label else f"📍 {where}"


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact card."""

    name: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    organisation: str | None = None


@dataclass(frozen=True, slots=True)
class Contacts(Content):
    """One or more contact cards the customer shared."""

    TYPE: ClassVar[str] = "contacts"
    cards: tuple[Contact, ...] = ()

    def summary(self) -> str:
        return "👤 " + ", ".join(c.name for c in self.cards)


@dataclass(frozen=True, slots=True)
class Sticker(Content):
    """A sticker (its image, if fetched, is the event's attachment)."""

    TYPE: ClassVar[str] = "sticker"
    emoji: str | None = None
    animated: bool = False

    def summary(self) -> str:
        return f"Sticker {self.emoji}" if self.emoji else "Sticker"


@dataclass(frozen=True, slots=True)
class Voice(Content):
    """A voice note (the recording is the event's attachment)."""

    TYPE: ClassVar[str] = "voice"
    duration: int | None = None

    def summary(self) -> str:
        return "🎤 Voice message"


@dataclass(frozen=True, slots=True)
class Share(Content):
    """Something shared from the social network: ``kind`` is ``share``, ``post``,
    ``reel``, ``story``, ``story_mention`` or ``story_reply``; ``url`` points at
    it (often expiring CDN links), ``title`` is its caption if the provider gave one."""

    TYPE: ClassVar[str] = "share"
    kind: str = "share"
    url: str | None = None
    title: str | None = None

    def summary(self) -> str:
        return f"{self.kind}: {self.title or self.url or ''}".strip(": ")


@dataclass(frozen=True, slots=True)
class OrderItem:
    """One line of an order."""

    product: str
    quantity: float = 1
    price: float | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Order(Content):
    """A catalogue order."""

    TYPE: ClassVar[str] = "order"
    catalog: str | None = None
    items: tuple[OrderItem, ...] = ()

    def total(self) -> str | None:
        """The order's total as ``"85.00 USD"`` when every line has a price in one currency."""
        currencies = {i.currency for i in self.items}
        if not self.items or len(currencies) != 1 or any(i.price is None for i in self.items):
            return None
        amount = sum((i.price or 0) * i.quantity for i in self.items)
        return f"{amount:.2f} {currencies.pop() or ''}".strip()

    def summary(self) -> str:
        lines = ", ".join(f"{i.quantity:g} x {i.product}" for i in self.items)
        total = self.total()
        return f"🛒 {lines}" + (f" = {total}" if total else "")


@dataclass(frozen=True, slots=True)
class Reply(Content):
    """The customer's answer to something the business sent: a ``button``, a
    ``list`` row, a ``flow`` (form fields in ``fields``), a ``postback`` or a
    ``quick_reply``; ``title`` is what they saw, ``payload`` what the business set."""

    TYPE: ClassVar[str] = "reply"
    kind: str = "button"
    title: str | None = None
    payload: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        if self.fields:
            return "; ".join(f"{k}: {v}" for k, v in self.fields.items())
        return self.title or self.payload or self.kind


@dataclass(frozen=True, slots=True)
class Reaction(Content):
    """An emoji on ``target`` (a provider message id); no ``emoji`` removes it."""

    TYPE: ClassVar[str] = "reaction"
    target: str = ""
    emoji: str | None = None

    def summary(self) -> str:
        return f"Reaction {self.emoji}" if self.emoji else "Reaction removed"


@dataclass(frozen=True, slots=True)
class Edit(Content):
    """``target``'s text is now ``text``."""

    TYPE: ClassVar[str] = "edit"
    target: str = ""
    text: str = ""

    def summary(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Revoke(Content):
    """The customer deleted ``target`` for everyone."""

    TYPE: ClassVar[str] = "revoke"
    target: str = ""

    def summary(self) -> str:
        return "Message deleted by the customer"


@dataclass(frozen=True, slots=True)
class Unsupported(Content):
    """Something the channel delivered that the hub cannot show: ``kind`` is the
    provider's type name, ``reason`` what the provider or connector said."""

    TYPE: ClassVar[str] = "unsupported"
    kind: str = "unknown"
    reason: str | None = None

    def summary(self) -> str:
        return f"Unsupported message ({self.kind})"


AMENDING: tuple[type[Content], ...] = (Reaction, Edit, Revoke)
_KINDS: dict[str, type[Content]] = {
    k.TYPE: k
    for k in (
        Location,
        Contacts,
        Sticker,
        Voice,
        Share,
        Order,
        Reply,
        Reaction,
        Edit,
        Revoke,
        Unsupported,
    )
}
_NESTED: dict[str, type[Any]] = {"cards": Contact, "items": OrderItem}


def content_to_doc(content: Content) -> dict[str, Any]:
    """``content`` as a plain document (``type`` plus its fields; lists, not tuples)."""
    return {"type": content.TYPE, **_plain(dataclasses.asdict(content))}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def content_from_doc(doc: Any) -> Content | None:
    """The typed content of a stored document; ``None`` if there is none or it is unknown."""
    if not isinstance(doc, dict) or doc.get("type") not in _KINDS:
        return None
    kind = _KINDS[doc["type"]]
    values: dict[str, Any] = {}
    for f in dataclasses.fields(kind):
        if f.name not in doc:
            continue
        value = doc[f.name]
        nested = _NESTED.get(f.name)
        if nested is not None and isinstance(value, list | tuple):
            value = tuple(_nested(nested, v) for v in value if isinstance(v, dict))
        elif isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    try:
        return kind(**values)
    except TypeError:
        return None


def _nested(kind: type[Any], doc: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(kind)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in doc.items() if k in names}
    return kind(**values)
