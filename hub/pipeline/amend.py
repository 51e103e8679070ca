"""Reactions, edits and deletions: applied to the message they name, history kept.

A :class:`~hub.timeline.content.Reaction`, :class:`~hub.timeline.content.Edit`
or :class:`~hub.timeline.content.Revoke` from a customer changes the event it
targets (found by the provider id it was stored or sent under) instead of
becoming a bubble of its own:

* ``meta["reactions"]``: ``[{"by", "emoji", "at"}]``, one per reacting identity
  (a reaction without an emoji removes theirs);
* an edit replaces ``text`` and appends the previous text to
  ``meta["history"]`` (``[{"text", "at"}]``), with ``meta["edited_at"]``;
* a revoke sets ``meta["deleted"] = {"at"}`` and keeps the text, so the agent
  still sees what was there.

``meta["amended"]`` lists the provider ids already applied: a replay changes
nothing. Only the customer who owns the target may change it; an amendment
whose target is unknown or someone else's is stored as an event of its own
(the agent view says what it refers to), never dropped.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from hub.timeline.content import Edit, Reaction, Revoke
from hub.timeline.model import Event, utcnow

if TYPE_CHECKING:
    from hub.connectors.base import InboundMessage

__all__ = ["KEEP_AMENDED", "amended"]

KEEP_AMENDED = 200
"""How many applied amendment ids an event remembers (for replays)."""


def amended(message: InboundMessage, event: Event) -> Event | None:
    """``event`` changed by ``message``'s amending content; ``None`` if already applied."""
    content = message.content
    done: list[Any] = list(event.meta.get("amended") or [])
    if message.external_id in done:
        return None
    at = (message.occurred_at or utcnow()).isoformat()
    meta = dict(event.meta)
    text = event.text
    if isinstance(content, Reaction):
        by = str(message.identity)
        reactions = [r for r in meta.get("reactions") or [] if r.get("by") != by]
        if content.emoji:
            reactions.append({"by": by, "emoji": content.emoji, "at": at})
        meta["reactions"] = reactions
    elif isinstance(content, Edit):
        history = list(meta.get("history") or [])
        history.append({"text": text, "at": meta.get("edited_at") or event.occurred_at.isoformat()})
        meta["history"] = history
        meta["edited_at"] = at
        text = content.text
    elif isinstance(content, Revoke):
        meta["deleted"] = {"at": at}
    else:
        return None
    meta["amended"] = [*done, message.external_id][-KEEP_AMENDED:]
    return dataclasses.replace(event, text=text, meta=meta)
