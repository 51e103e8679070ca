"""Merging conversations on MongoDB: events move by ``update_many``, both folds redone.

No transaction: the source's events are marked (``meta.merged_from``) before they
move, so a merge or unmerge a crash interrupted completes when it is run again.
"""

from __future__ import annotations

from pymongo import ASCENDING

from hub.errors import Conflict, NotFound
from hub.timeline.codec import event_from_doc
from hub.timeline.fold import refold
from hub.timeline.model import Conversation, ConversationStatus, utcnow
from hub.timeline.mongo.base import with_id
from hub.timeline.mongo.conversations import ConversationOps, conversation

__all__ = ["MoveOps"]

_SUMMARY = (
    "opened_at",
    "last_activity_at",
    "channels",
    "last_channel",
    "last_message_preview",
    "waiting_since",
    "first_response_at",
    "customer_channel",
)

_ABSENT_UNSET = ("waiting_since", "first_response_at")


class MoveOps(ConversationOps):
    """``merge_conversations`` / ``unmerge_conversation``."""

    async def _conversation(self, conversation_id: str) -> Conversation:
        doc = await self.conversations.find_one({"_id": conversation_id})
        if doc is None:
            raise NotFound(f"no conversation {conversation_id!r}")
        return conversation(doc)

    async def _refold(self, conv: Conversation) -> Conversation:
        found = self.event_docs.find({"conversation_id": conv.id}).sort("seq", ASCENDING)
        refold(conv, [event_from_doc(with_id(doc)) async for doc in found])
        values = {name: getattr(conv, name) for name in _SUMMARY}
        update: dict[str, object] = {
            "$set": {k: v for k, v in values.items() if v is not None or k not in _ABSENT_UNSET}
        }
        unset = {k: "" for k in _ABSENT_UNSET if values[k] is None}
        if unset:
            update["$unset"] = unset  # the fold's $min needs these absent, not null
        await self.conversations.update_one({"_id": conv.id}, update)
        return conv

    async def merge_conversations(self, source_id: str, target_id: str) -> Conversation:
        """Move every event of ``source_id`` into ``target_id`` (marked ``meta.merged_from``
        unless it came from a merge already), resolve the source, refold the target."""
        if source_id == target_id:
            raise Conflict("cannot merge a conversation into itself")
        source = await self._conversation(source_id)
        target = await self._conversation(target_id)
        if source.customer_id != target.customer_id:
            raise Conflict("only conversations of one customer can be merged")
        await self.event_docs.update_many(
            {"conversation_id": source_id, "meta.merged_from": {"$exists": False}},
            {"$set": {"meta.merged_from": source_id}},
        )
        await self.event_docs.update_many(
            {"conversation_id": source_id}, {"$set": {"conversation_id": target_id}}
        )
        await self.conversations.update_one(
            {"_id": source_id},
            {
                "$set": {"status": ConversationStatus.RESOLVED.value, "resolved_at": utcnow()},
                "$unset": {"waiting_since": ""},
            },
        )
        return await self._refold(target)

    async def unmerge_conversation(self, source_id: str) -> list[Conversation]:
        """Move the events marked ``merged_from = source_id`` back and reopen it: the
        source, then each conversation they left, refolded."""
        source = await self._conversation(source_id)
        left = [
            str(c)
            for c in await self.event_docs.distinct(
                "conversation_id", {"meta.merged_from": source_id}
            )
            if c and c != source_id
        ]
        if not left:
            raise Conflict(f"conversation {source_id} is not merged")
        await self.event_docs.update_many(
            {"meta.merged_from": source_id},
            {"$set": {"conversation_id": source_id}, "$unset": {"meta.merged_from": ""}},
        )
        await self.conversations.update_one(
            {"_id": source_id},
            {"$set": {"status": ConversationStatus.OPEN.value, "resolved_at": None}},
        )
        source.status, source.resolved_at = ConversationStatus.OPEN, None
        restored = [await self._refold(source)]
        for other in left:
            restored.append(await self._refold(await self._conversation(other)))
        return restored
