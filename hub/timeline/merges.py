"""Following merges: which customer a (possibly merged-away) customer id is now."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.timeline.model import Customer
    from hub.timeline.store import TimelineStore

__all__ = ["survivor"]


async def survivor(store: TimelineStore, customer_id: str) -> Customer:
    """The customer ``customer_id`` is, following ``merged_into`` to the one that
    absorbed it (a cycle, which unmerges should never leave, stops the walk)."""
    customer = await store.get_customer(customer_id)
    seen = {customer.id}
    while customer.merged_into and customer.merged_into not in seen:
        customer = await store.get_customer(customer.merged_into)
        seen.add(customer.id)
    return customer
