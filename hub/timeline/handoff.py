"""Records of the handoff module: suggested identity links and used link tokens.

A :class:`LinkSuggestion` is an *unverified* claim that ``identity`` belongs to
``customer_id`` (an email typed into chat, a phone number in an email
signature, the same name at the same email domain). It never links anything by
itself: an agent confirms it (the hub then links or merges, with an audit
event) or dismisses it. A used link token is remembered so single-use
continuation links cannot be replayed.

:class:`HandoffRecords` is the port section both store adapters implement
(``hub/timeline/sqlite/handoff.py``, ``hub/timeline/mongo/handoff.py``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from hub.timeline.model import Identity, utcnow

__all__ = ["DomainCustomer", "HandoffRecords", "LinkSuggestion", "SuggestionStatus"]


class SuggestionStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


@dataclass(slots=True)
class LinkSuggestion:
    """A suggested link between ``customer_id`` and ``identity``, for an agent to decide.

    ``other_customer_id`` is who owned ``identity`` when it was suggested
    (``None`` when nobody did: confirming then just attaches it). ``score`` is
    0..1 (how strong the evidence is); ``evidence`` is a list of
    ``{"kind", "detail", "event_id"?, "channel"?}`` dicts. Only one suggestion
    exists per (customer, identity) pair.
    """

    id: str
    customer_id: str
    identity: Identity
    score: float
    evidence: list[dict[str, Any]] = field(default_factory=list)
    other_customer_id: str | None = None
    status: SuggestionStatus = SuggestionStatus.PENDING
    created_at: datetime = field(default_factory=utcnow)
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str | None = None

    @property
    def pair_key(self) -> str:
        return f"{self.customer_id}\x1f{self.identity}"


class DomainCustomer(NamedTuple):
    """A customer owning an email identity on some domain (see ``customers_on_email_domain``)."""

    customer_id: str
    name: str | None


class HandoffRecords(Protocol):
    """The handoff section of the store port."""

    async def add_suggestion(self, suggestion: LinkSuggestion) -> tuple[LinkSuggestion, bool]:
        """Store ``suggestion``; the existing one for the same pair, ``created=False``, if any."""

    async def get_suggestion(self, suggestion_id: str) -> LinkSuggestion:
        """NotFound if absent."""

    async def list_suggestions(
        self,
        *,
        customer_id: str | None = None,
        status: SuggestionStatus | None = None,
        limit: int = 100,
    ) -> list[LinkSuggestion]:
        """Newest first; ``customer_id`` matches either side of the suggestion."""

    async def decide_suggestion(
        self, suggestion_id: str, status: SuggestionStatus, *, by: str, reason: str | None = None
    ) -> LinkSuggestion | None:
        """Move a *pending* suggestion to ``status``; ``None`` if it was decided already."""

    async def use_link_token(self, token_id: str, *, expires_at: datetime) -> bool:
        """Mark a single-use token used: ``True`` the first time only (atomic)."""

    async def customers_on_email_domain(
        self, domain: str, *, limit: int = 200
    ) -> list[DomainCustomer]:
        """Customers (not merged away) owning an ``email:`` identity whose domain — the part
        after the first ``@`` — is exactly ``domain`` (lowercase), at most ``limit`` of them,
        oldest identity first. For "same name and email domain" suggestions."""

    async def share_identity(self, identity: Identity, customer_id: str) -> bool:
        """Record that ``customer_id`` also uses ``identity`` (owned by another customer: a
        shared phone); ``True`` when it is new."""

    async def unshare_identity(self, identity: Identity, customer_id: str) -> bool:
        """Undo :meth:`share_identity`; ``True`` when there was something to undo."""

    async def shared_with(self, identity: Identity) -> tuple[str, ...]:
        """The customers ``identity`` is shared with besides its owner, oldest first."""

    async def shared_of(self, customer_id: str) -> tuple[Identity, ...]:
        """The identities shared with ``customer_id`` (owned by other customers)."""
