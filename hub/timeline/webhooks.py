"""Outgoing webhook deliveries behind the store port (a queue with a log).

A :class:`WebhookDelivery` is one event for one subscription, unique per
``(subscription, key)`` so the same hub event enqueued twice (a replayed
webhook, a second instance hearing it on the bus) is delivered once. It is
claimed under a lease like the outbox, and each attempt is appended to its
``log``. Both stores implement :class:`WebhookRecords`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from hub.timeline.model import new_id, utcnow

__all__ = ["WebhookDelivery", "WebhookRecords", "WebhookStatus"]


class WebhookStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(slots=True)
class WebhookDelivery:
    """One event on its way to one subscription, and every attempt at it."""

    subscription: str
    key: str
    event_type: str
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: new_id("whd"))
    status: WebhookStatus = WebhookStatus.QUEUED
    attempts: int = 0
    next_attempt_at: datetime = field(default_factory=utcnow)
    lease_token: str | None = None
    lease_until: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    last_error: str | None = None
    log: list[dict[str, Any]] = field(default_factory=list)
    """``{"at" (ISO 8601), "attempt", "status_code"?, "error"?}`` per attempt, oldest first."""


class WebhookRecords(Protocol):
    async def enqueue_webhook(self, delivery: WebhookDelivery) -> bool:
        """Store ``delivery``; False (and nothing stored) when its key is already queued."""

    async def claim_webhooks(
        self, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[WebhookDelivery]:
        """Due deliveries (queued and due, or sending with a lapsed lease), now
        ``sending`` under a fresh lease token, attempts counted."""

    async def record_webhook(
        self,
        delivery_id: str,
        lease_token: str,
        *,
        status: WebhookStatus,
        entry: dict[str, Any],
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """The outcome of an attempt, if the lease is still ``lease_token``'s."""

    async def webhook_deliveries(
        self, *, subscription: str | None = None, limit: int = 50
    ) -> list[WebhookDelivery]:
        """The delivery log, newest first."""
