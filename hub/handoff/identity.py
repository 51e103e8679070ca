"""Identity: resolve, link on verified evidence only, suggest links for unverified claims.

Rules (DESIGN.md "Trust and identity"):

* the same identity is always the same customer (the store guarantees it);
* identities of different kinds are linked only on **verified evidence** — a
  site-signed widget identity, a continuation link the customer opened, a reply
  to a text the customer asked for, or an agent's decision
  (:meth:`Identities.link_verified`); linking an identity another customer owns
  merges that customer (reversibly) into this one;
* anything weaker — an email typed into chat, a phone number in an email
  signature — becomes a :class:`~hub.timeline.handoff.LinkSuggestion` with a
  score and the evidence, which links nothing and exposes nothing until an
  agent confirms it (:meth:`Identities.confirm`) or dismisses it.

Every link, merge and unmerge is an event on the timeline naming who did it and why.

Suggested link JSON (``/api/v1/suggestions``, the agent view)::

    {"id": "sug_…", "customer_id": "cus_…", "identity": "email:ana@example.com",
     "other_customer_id": "cus_…" | null, "score": 0.6,
     "evidence": [{"kind": "typed_in_chat" | "signature" | "text_me_reply",
                   "detail": "…", "event_id": "evt_…", "channel": "chat"}],
     "status": "pending" | "confirmed" | "dismissed",
     "created_at": ISO, "decided_at": ISO | null, "decided_by": str | null,
     "reason": str | null}
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import phonenumbers

from hub.errors import Conflict, InvalidIdentity
from hub.pipeline.records import link_event
from hub.pipeline.types import Step
from hub.timeline.handoff import LinkSuggestion, SuggestionStatus
from hub.timeline.merges import survivor
from hub.timeline.model import Customer, Identity, new_id, normalise_identity
from hub.timeline.work import Sender

if TYPE_CHECKING:
    from hub.pipeline import Pipeline

__all__ = ["Claim", "Identities", "find_claims", "link_event", "suggestion_step"]

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}")
_MIN_PHONE_DIGITS = 7
"""Fewer digits than this in a text cannot make a phone number worth suggesting."""
TYPED_SCORE = 0.6
SIGNATURE_SCORE = 0.5
REPLY_SCORE = 0.9

Claim = tuple[Identity, str]
"""A claimed identity and the words it was found in."""


def find_claims(text: str, *, default_region: str | None = None) -> list[Claim]:
    """Email addresses and phone numbers written in ``text`` (normalised, deduplicated)."""
    found: dict[Identity, str] = {}
    if "@" not in text and sum(c.isdigit() for c in text) < _MIN_PHONE_DIGITS:
        return []  # the common case, without running the phone number matcher
    for match in _EMAIL.finditer(text):
        try:
            identity = normalise_identity("email", match.group(0))
        except InvalidIdentity:
            continue
        found.setdefault(identity, _around(text, match.start(), match.end()))
    if sum(c.isdigit() for c in text) < _MIN_PHONE_DIGITS:
        return list(found.items())
    for m in phonenumbers.PhoneNumberMatcher(text, default_region or "US"):
        number = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
        found.setdefault(Identity("phone", number), _around(text, m.start, m.end))
    return list(found.items())


def _around(text: str, start: int, end: int) -> str:
    return " ".join(text[max(0, start - 40) : end + 20].split())


def suggestion_step(
    customer_id: str, identity: Identity, *, score: float, evidence: dict[str, Any]
) -> Step[LinkSuggestion | None]:
    """An unverified claim that ``identity`` is ``customer_id``'s, as a step (``None`` when it
    is theirs already); the unit that returns it stores it."""
    owner = yield Sender(identity)
    other = owner.customer.id if owner.customer is not None else None
    if other == customer_id:
        return None
    return LinkSuggestion(
        id=new_id("sug"),
        customer_id=customer_id,
        identity=identity,
        score=score,
        evidence=[evidence],
        other_customer_id=other,
    )


class Identities:
    """Identity operations; every write goes through the pipeline."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store

    async def resolve(self, identity: Identity) -> Customer | None:
        """The customer owning ``identity`` (following merges), or ``None``."""
        return await self.store.find_customer(identity)

    async def link_verified(
        self, customer_id: str, identity: Identity, *, by: str, evidence: str
    ) -> Customer:
        """Attach ``identity`` to ``customer_id`` on verified ``evidence``.

        Unowned: linked. Owned by another customer: that customer is merged
        into this one (reversible). Already this customer's: nothing changes.
        Either way a ``link`` or ``merge`` event records who and why.
        """
        return await self.pipeline.link(customer_id, identity, by=by, evidence=evidence)

    async def suggest(
        self,
        customer_id: str,
        identity: Identity,
        *,
        score: float,
        evidence: dict[str, Any],
    ) -> LinkSuggestion | None:
        """Record an unverified claim; ``None`` if ``identity`` is already this customer's."""
        return await self.pipeline.suggest(
            lambda: suggestion_step(customer_id, identity, score=score, evidence=evidence)
        )

    async def confirm(
        self, suggestion_id: str, *, by: str, reason: str | None = None
    ) -> tuple[LinkSuggestion, Customer]:
        """An agent confirms: the identity is linked (or its owner merged) with an audit event."""
        decided = await self.pipeline.decide_suggestion(
            suggestion_id, SuggestionStatus.CONFIRMED, by=by, reason=reason
        )
        if decided is None:
            raise Conflict(f"suggestion {suggestion_id} was decided already")
        evidence = "; ".join(str(e.get("detail", e.get("kind"))) for e in decided.evidence)
        customer = await self.link_verified(
            decided.customer_id,
            decided.identity,
            by=by,
            evidence=f"suggestion {decided.id} confirmed ({reason or evidence})",
        )
        # What it wrote in place, unverified, is the customer's own now.
        await self.store.release_unverified(customer.id, decided.identity)
        return decided, customer

    async def dismiss(
        self, suggestion_id: str, *, by: str, reason: str | None = None
    ) -> LinkSuggestion:
        """An agent dismisses: nothing is linked; the suggestion is kept as dismissed."""
        decided = await self.pipeline.decide_suggestion(
            suggestion_id, SuggestionStatus.DISMISSED, by=by, reason=reason
        )
        if decided is None:
            raise Conflict(f"suggestion {suggestion_id} was decided already")
        return decided

    async def merge(
        self, source_id: str, target_id: str, *, by: str, reason: str | None = None
    ) -> Customer:
        """Merge two customers (reversible), recorded with who and why."""
        return await self.pipeline.merge(source_id, target_id, by=by, reason=reason)

    async def unmerge(self, source_id: str, *, by: str, reason: str | None = None) -> Customer:
        """Undo a merge: every event, conversation and identity goes back."""
        return await self.pipeline.unmerge(source_id, by=by, reason=reason)

    async def survivor(self, customer_id: str) -> Customer:
        """The customer ``customer_id`` is (or was merged into)."""
        return await survivor(self.store, customer_id)
