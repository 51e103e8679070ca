"""The timeline events surveys write: one when a survey goes out, one per answer.

* sent — an internal ``status`` event, ``meta.survey_sent = {"kind", "channel"}``,
  stored once per conversation and kind (``external_id`` ``survey:<conv>:<kind>``),
  which is what makes "never twice for one conversation" hold across instances;
* answer — a ``status`` event from the customer (direction ``in``, not a message, so it
  never reopens the conversation), ``meta.survey = {"kind", "score", "comment"?,
  "channel"}``, stored once per conversation and kind (``survey-answer:<conv>:<kind>``).

Kinds: ``csat`` (1-5), ``ces`` (1-7), ``nps`` (0-10).
"""

from __future__ import annotations

from datetime import datetime

from hub.pipeline import HUB_CHANNEL
from hub.timeline.model import Conversation, Direction, Event, EventKind, new_id

__all__ = ["KINDS", "SCALES", "answer_event", "sent_event"]

SCALES = {"csat": (1, 5), "ces": (1, 7), "nps": (0, 10)}
KINDS = tuple(SCALES)
QUESTIONS = {
    "csat": "How satisfied were you with our help?",
    "ces": "How easy was it to get your issue resolved?",
    "nps": "How likely are you to recommend us to a friend?",
}


def sent_event(conv: Conversation, kind: str, channel: str, at: datetime) -> Event:
    """The record that a ``kind`` survey went to the customer on ``channel``."""
    return Event(
        id=new_id("evt"),
        customer_id=conv.customer_id,
        conversation_id=conv.id,
        channel=HUB_CHANNEL,
        direction=Direction.INTERNAL,
        kind=EventKind.STATUS,
        author="surveys",
        text=f"{kind.upper()} survey sent by {channel}",
        external_id=f"survey:{conv.id}:{kind}",
        occurred_at=at,
        received_at=at,
        meta={"survey_sent": {"kind": kind, "channel": channel}},
    )


def answer_event(
    conv: Conversation,
    kind: str,
    score: int,
    channel: str,
    at: datetime,
    *,
    comment: str | None = None,
) -> Event:
    """The customer's answer (``score`` on the kind's scale, checked by the caller)."""
    high = SCALES[kind][1]
    text = f"{kind.upper()} {score}/{high}" + (f": {comment}" if comment else "")
    answer: dict[str, object] = {"kind": kind, "score": score, "channel": channel}
    if comment:
        answer["comment"] = comment
    return Event(
        id=new_id("evt"),
        customer_id=conv.customer_id,
        conversation_id=conv.id,
        channel=HUB_CHANNEL,
        direction=Direction.IN,
        kind=EventKind.STATUS,
        author="customer",
        text=text,
        external_id=f"survey-answer:{conv.id}:{kind}",
        occurred_at=at,
        received_at=at,
        meta={"survey": answer},
    )
