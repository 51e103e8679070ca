"""Small builders for the store contract suite (model records only, no store internals)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.timeline.model import Delivery, DeliveryStatus, Direction, Event, EventKind, new_id

MS = timedelta(milliseconds=1)


def close(a: datetime | None, b: datetime | None) -> bool:
    """Equal within a millisecond (MongoDB keeps milliseconds)."""
    if a is None or b is None:
        return a is b
    return abs(a - b) <= MS


def event(
    customer_id: str,
    conversation_id: str | None = None,
    *,
    channel: str = "sms",
    direction: Direction = Direction.IN,
    kind: EventKind = EventKind.MESSAGE,
    text: str | None = "hello",
    at: datetime | None = None,
    external_id: str | None = None,
    thread_ref: str | None = None,
    event_id: str | None = None,
) -> Event:
    """An event as the pipeline would build it (``at`` is ``occurred_at``)."""
    record = Event(
        id=event_id or new_id("evt"),
        customer_id=customer_id,
        conversation_id=conversation_id,
        channel=channel,
        direction=direction,
        kind=kind,
        text=text,
        external_id=external_id,
        thread_ref=thread_ref,
    )
    if at is not None:
        record.occurred_at = at
        record.received_at = at
    return record


def outbound(
    customer_id: str,
    conversation_id: str | None = None,
    *,
    due: datetime,
    channel: str = "sms",
    text: str = "on our way",
) -> Event:
    """A queued outbound message, due at ``due``."""
    record = event(
        customer_id, conversation_id, channel=channel, direction=Direction.OUT, text=text, at=due
    )
    record.delivery = Delivery(status=DeliveryStatus.QUEUED, next_attempt_at=due, updated_at=due)
    return record
