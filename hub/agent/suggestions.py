"""Suggested identity links shown in the customer panel (confirm / dismiss).

The handoff module (``hub.handoff``) proposes links from unverified evidence
("my email is …"); an agent confirms or dismisses them here. Until a hub
provides them, the panel lists none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.timeline.model import Customer

__all__ = ["Suggestion", "for_customer"]


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A proposed link: ``identity`` may belong to the customer, for ``reason``."""

    id: str
    identity: str
    reason: str
    other_customer_id: str | None = None


async def for_customer(hub: Hub, customer: Customer) -> list[Suggestion]:
    """Open suggestions for ``customer`` (none until the handoff module supplies them)."""
    return []
