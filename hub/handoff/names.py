""" "Same name and email domain": a weak hint that two customers are one person.

When a customer first appears with an email address (``bob.smith@acme.com``,
"Bob Smith"), every customer already owning an address at the same domain
under the same name becomes a :class:`~hub.timeline.handoff.LinkSuggestion`:
``customer_id`` is the existing customer, ``identity`` the newcomer's address,
``other_customer_id`` the newcomer (confirming merges the newcomer into the
existing customer), score :data:`NAME_DOMAIN_SCORE`, evidence
``{"kind": "same_name_and_domain", "detail": …}``. One suggestion per pair of
customers, never a link, nothing shown to anyone but agents.

Names compare without case, accents, punctuation or extra spaces. A name counts
only when it has at least two words of two letters or more and no word of a
role mailbox ("Support Team", "Billing"); domains in the settings'
``free_mail_domains`` (gmail.com, outlook.*, …) never count.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from hub.pipeline.types import Step
from hub.timeline.handoff import DomainCustomer, LinkSuggestion
from hub.timeline.model import EMAIL, Customer, new_id
from hub.timeline.work import DomainCustomers, GetCustomer, Suggestions

if TYPE_CHECKING:
    from hub.settings import HandoffSettings
    from hub.timeline.model import Identity

__all__ = [
    "NAME_DOMAIN_SCORE",
    "email_domain",
    "is_free_mail",
    "match_name",
    "same_name_and_domain_step",
]

NAME_DOMAIN_SCORE = 0.5
MAX_CANDIDATES = 200
"""Customers looked at per domain (the oldest first); a match beyond them is missed."""
_ROLE_WORDS = frozenset(
    {
        *("admin", "billing", "contact", "customer", "desk", "enquiries", "help"),
        *("helpdesk", "hr", "info", "mailer", "noreply", "no-reply", "office", "orders"),
        *("postmaster", "reply", "sales", "service", "services", "support", "team"),
    }
)


def match_name(name: str | None) -> str | None:
    """``name`` folded for comparison (``"Ana  López"`` → ``"ana lopez"``), or ``None``
    when it is too weak to suggest anything on (one word, initials only, a role)."""
    if not name:
        return None
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    words = "".join(c if c.isalnum() or c == "-" else " " for c in plain).split()
    if len(words) < 2 or any(w in _ROLE_WORDS for w in words):
        return None
    if sum(1 for w in words if len(w.strip("-")) >= 2) < 2:
        return None
    return " ".join(words)


def email_domain(identity: Identity) -> str | None:
    """The domain of an ``email:`` identity (after the first ``@``), else ``None``."""
    if identity.kind != EMAIL or "@" not in identity.value:
        return None
    return identity.value.split("@", 1)[1].lower() or None


def is_free_mail(domain: str, free_mail_domains: tuple[str, ...]) -> bool:
    """Whether ``domain`` is one anyone can sign up on (see ``FREE_MAIL_DOMAINS``)."""
    domain = domain.lower().rstrip(".")
    for entry in free_mail_domains:
        entry = entry.lower()
        if entry.endswith(".*"):
            if domain.split(".", 1)[0] == entry[:-2]:
                return True
        elif domain == entry:
            return True
    return False


def same_name_and_domain_step(
    newcomer_id: str,
    newcomer_name: str,
    identity: Identity,
    settings: HandoffSettings,
    *,
    channel: str,
) -> Step[list[LinkSuggestion]]:
    """The suggestions linking a newcomer (first seen with ``identity``, named
    ``newcomer_name``) to each customer of the same name owning an address at the same
    domain, as a step; the unit that returns them stores them."""
    domain = email_domain(identity)
    name = match_name(newcomer_name)
    if domain is None or name is None or is_free_mail(domain, settings.free_mail_domains):
        return []
    candidates: list[DomainCustomer] = yield DomainCustomers(domain, MAX_CANDIDATES)
    same = [c for c in candidates if c.customer_id != newcomer_id and match_name(c.name) == name]
    if not same:
        return []
    existing_suggestions: list[LinkSuggestion] = yield Suggestions(newcomer_id)
    already = {side for s in existing_suggestions for side in (s.customer_id, s.other_customer_id)}
    made: list[LinkSuggestion] = []
    for candidate in same:
        if candidate.customer_id in already:
            continue  # one suggestion per pair of customers
        existing: Customer | None = yield GetCustomer(candidate.customer_id)
        if existing is None:
            continue
        theirs = [str(i) for i in existing.identities if email_domain(i) == domain]
        made.append(
            LinkSuggestion(
                id=new_id("sug"),
                customer_id=existing.id,
                identity=identity,
                score=NAME_DOMAIN_SCORE,
                evidence=[
                    {
                        "kind": "same_name_and_domain",
                        "detail": (
                            f"{newcomer_name} <{identity.value}> is named like {existing.name} "
                            f"<{', '.join(theirs[:3]).replace('email:', '')}> at {domain}"
                        ),
                        "channel": channel,
                    }
                ],
                other_customer_id=newcomer_id,
            )
        )
    return made
