"""Model records to plain documents and back, shared by the store adapters.

A document is a dict of JSON-like values except that times stay ``datetime``
(timezone-aware UTC): MongoDB stores them natively, SQLite as ISO text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.timeline.model import (
    Attachment,
    Conversation,
    ConversationStatus,
    Delivery,
    DeliveryStatus,
    Direction,
    Event,
    EventKind,
    Identity,
    Priority,
)

__all__ = [
    "aware",
    "conversation_from_doc",
    "conversation_to_doc",
    "delivery_from_doc",
    "delivery_to_doc",
    "event_from_doc",
    "event_to_doc",
    "identity_from_str",
]


def aware(value: datetime | None) -> datetime | None:
    """Make a stored time timezone-aware UTC (drivers may hand back naive UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _req(value: datetime | None) -> datetime:
    out = aware(value)
    assert out is not None
    return out


def identity_from_str(text: str) -> Identity:
    """Rebuild a stored (already normalised) identity without re-validating it."""
    kind, _, value = text.partition(":")
    return Identity(kind, value)


def delivery_to_doc(d: Delivery) -> dict[str, Any]:
    return {
        "status": d.status.value,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at,
        "lease_until": d.lease_until,
        "lease_token": d.lease_token,
        "provider_id": d.provider_id,
        "error": d.error,
        "updated_at": d.updated_at,
    }


def delivery_from_doc(doc: dict[str, Any]) -> Delivery:
    return Delivery(
        status=DeliveryStatus(doc["status"]),
        attempts=doc.get("attempts", 0),
        next_attempt_at=aware(doc.get("next_attempt_at")),
        lease_until=aware(doc.get("lease_until")),
        lease_token=doc.get("lease_token"),
        provider_id=doc.get("provider_id"),
        error=doc.get("error"),
        updated_at=_req(doc["updated_at"]),
    )


def event_to_doc(e: Event) -> dict[str, Any]:
    """Every field of the event plus ``dedupe_key``."""
    return {
        "id": e.id,
        "customer_id": e.customer_id,
        "origin_customer_id": e.origin_customer_id or e.customer_id,
        "conversation_id": e.conversation_id,
        "channel": e.channel,
        "direction": e.direction.value,
        "kind": e.kind.value,
        "author": e.author,
        "text": e.text,
        "html": e.html,
        "subject": e.subject,
        "attachments": [
            {
                "blob_id": a.blob_id,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
            }
            for a in e.attachments
        ],
        "external_id": e.external_id,
        "dedupe_key": e.dedupe_key,
        "thread_ref": e.thread_ref,
        "identity": str(e.identity) if e.identity else None,
        "occurred_at": e.occurred_at,
        "received_at": e.received_at,
        "delivery": delivery_to_doc(e.delivery) if e.delivery else None,
        "meta": e.meta,
        "seq": e.seq,
    }


def event_from_doc(doc: dict[str, Any]) -> Event:
    return Event(
        id=doc["id"],
        customer_id=doc["customer_id"],
        origin_customer_id=doc.get("origin_customer_id"),
        conversation_id=doc.get("conversation_id"),
        channel=doc["channel"],
        direction=Direction(doc["direction"]),
        kind=EventKind(doc["kind"]),
        author=doc.get("author"),
        text=doc.get("text"),
        html=doc.get("html"),
        subject=doc.get("subject"),
        attachments=[Attachment(**a) for a in doc.get("attachments") or []],
        external_id=doc.get("external_id"),
        thread_ref=doc.get("thread_ref"),
        identity=identity_from_str(doc["identity"]) if doc.get("identity") else None,
        occurred_at=_req(doc["occurred_at"]),
        received_at=_req(doc["received_at"]),
        delivery=delivery_from_doc(doc["delivery"]) if doc.get("delivery") else None,
        meta=doc.get("meta") or {},
        seq=doc.get("seq", 0),
    )


def conversation_to_doc(c: Conversation) -> dict[str, Any]:
    return {
        "id": c.id,
        "customer_id": c.customer_id,
        "origin_customer_id": c.origin_customer_id or c.customer_id,
        "status": c.status.value,
        "subject": c.subject,
        "assignee": c.assignee,
        "priority": c.priority.value,
        "tags": list(c.tags),
        "channels": list(c.channels),
        "last_channel": c.last_channel,
        "opened_at": c.opened_at,
        "last_activity_at": c.last_activity_at,
        "last_message_preview": c.last_message_preview,
        "waiting_since": c.waiting_since,
        "first_response_at": c.first_response_at,
        "resolved_at": c.resolved_at,
        "snoozed_until": c.snoozed_until,
        "open_key": c.open_key,
        "customer_channel": c.customer_channel,
    }


def conversation_from_doc(doc: dict[str, Any]) -> Conversation:
    return Conversation(
        id=doc["id"],
        customer_id=doc["customer_id"],
        origin_customer_id=doc.get("origin_customer_id"),
        status=ConversationStatus(doc["status"]),
        subject=doc.get("subject"),
        assignee=doc.get("assignee"),
        priority=Priority(doc["priority"]),
        tags=list(doc.get("tags") or []),
        channels=list(doc.get("channels") or []),
        last_channel=doc.get("last_channel"),
        opened_at=_req(doc["opened_at"]),
        last_activity_at=_req(doc["last_activity_at"]),
        last_message_preview=doc.get("last_message_preview"),
        waiting_since=aware(doc.get("waiting_since")),
        first_response_at=aware(doc.get("first_response_at")),
        resolved_at=aware(doc.get("resolved_at")),
        snoozed_until=aware(doc.get("snoozed_until")),
        open_key=doc.get("open_key"),
        customer_channel=doc.get("customer_channel"),
    )
