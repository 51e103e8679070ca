"""A :class:`BusMessage` as a document other instances can read back.

The payload travels as one BSON binary (``body``) so the server never inspects
or validates its keys (event ``meta`` may hold any key); the envelope beside it
says who published it (``origin``) and its number in that publisher's sequence
(``n``), which lets a reader notice a gap.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import bson
from bson.codec_options import CodecOptions

from hub.bus.local import BusMessage
from hub.timeline.codec import (
    conversation_from_doc,
    conversation_to_doc,
    event_from_doc,
    event_to_doc,
)

__all__ = ["message_from_doc", "message_to_doc"]

_CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)


def message_to_doc(message: BusMessage, *, origin: str, n: int, at: datetime) -> dict[str, Any]:
    """The document published for ``message``: ``{origin, n, at, body}``."""
    payload: dict[str, Any] = {
        "topic": message.topic,
        "customer_id": message.customer_id,
        "event": event_to_doc(message.event) if message.event is not None else None,
        "conversation": (
            conversation_to_doc(message.conversation) if message.conversation is not None else None
        ),
        "data": message.data,
    }
    return {"origin": origin, "n": n, "at": at, "body": bson.Binary(bson.encode(payload))}


def message_from_doc(doc: dict[str, Any]) -> BusMessage:
    """The message a published document carries (``ValueError`` if it carries none)."""
    body = doc.get("body")
    if not isinstance(body, bytes):
        raise ValueError("not a bus message")
    payload = bson.decode(body, codec_options=_CODEC)
    event, conversation = payload.get("event"), payload.get("conversation")
    return BusMessage(
        topic=payload["topic"],
        customer_id=payload["customer_id"],
        event=event_from_doc(event) if event is not None else None,
        conversation=conversation_from_doc(conversation) if conversation is not None else None,
        data=payload.get("data") or {},
    )
