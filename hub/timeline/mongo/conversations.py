"""Conversations and inbox listings on MongoDB."""

from __future__ import annotations

import enum
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from hub.errors import NotFound
from hub.timeline.codec import aware, conversation_from_doc, conversation_to_doc
from hub.timeline.cursors import clamp, time_cursor
from hub.timeline.model import Conversation, ConversationStatus, utcnow
from hub.timeline.mongo.base import Doc, as_stored_id, stored, with_id
from hub.timeline.mongo.customers import CustomerOps
from hub.timeline.store import (
    ConversationPage,
    ConversationUpdate,
    InboxFilter,
    InboxSort,
    encode_cursor,
)

NOT_RESOLVED = [
    ConversationStatus.OPEN.value,
    ConversationStatus.PENDING.value,
    ConversationStatus.SNOOZED.value,
]


def conversation(doc: Doc) -> Conversation:
    """A stored conversation document as the model record."""
    return conversation_from_doc(with_id(doc))


def conversation_doc(record: Conversation) -> Doc:
    """The document for a new conversation: unset summary times and ``open_key`` are
    absent, not null (the fold's ``$min`` sets an absent field; the unique index on
    ``open_key`` is sparse)."""
    doc = as_stored_id(conversation_to_doc(record))
    for unset in ("waiting_since", "first_response_at"):
        if doc[unset] is None:
            del doc[unset]
    if record.open_key is None:
        del doc["open_key"]
    return doc


def inbox_query(inbox: InboxFilter) -> Doc:
    """The filter for an inbox (without sort or cursor)."""
    query: Doc = {}
    if inbox.status:
        query["status"] = {"$in": [ConversationStatus(s).value for s in inbox.status]}
    if inbox.unassigned:
        query["assignee"] = None
    elif inbox.assignee is not None:
        query["assignee"] = inbox.assignee
    if inbox.priority is not None:
        query["priority"] = inbox.priority.value
    if inbox.channel is not None:
        query["channels"] = inbox.channel
    if inbox.customer_id is not None:
        query["customer_id"] = inbox.customer_id
    return query


class ConversationOps(CustomerOps):
    """The conversation half of the store."""

    async def open_conversation(
        self,
        customer_id: str,
        *,
        channel: str,
        subject: str | None = None,
        open_key: str | None = None,
    ) -> Conversation:
        if open_key is not None:
            existing = await self.conversations.find_one({"open_key": open_key})
            if existing is not None:
                return conversation(existing)
        await self._customer_doc(customer_id)
        record = Conversation.opened(customer_id, channel, subject=subject, open_key=open_key)
        doc = conversation_doc(record)
        try:
            await self.conversations.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.conversations.find_one({"open_key": open_key})
            if existing is None:
                raise
            return conversation(existing)
        return conversation(stored(doc))

    async def get_conversation(self, conversation_id: str) -> Conversation:
        doc = await self.conversations.find_one({"_id": conversation_id})
        if doc is None:
            raise NotFound(f"no conversation {conversation_id!r}")
        return conversation(doc)

    async def update_conversation(
        self, conversation_id: str, update: ConversationUpdate
    ) -> Conversation:
        changes: dict[str, Any] = {}
        for name, value in update.changes().items():
            changes[name] = value.value if isinstance(value, enum.Enum) else value
        if "tags" in changes:
            changes["tags"] = list(changes["tags"])
        if "status" in changes:
            resolved = changes["status"] == ConversationStatus.RESOLVED.value
            changes["resolved_at"] = utcnow() if resolved else None
        if changes:
            doc = await self.conversations.find_one_and_update(
                {"_id": conversation_id},
                {"$set": changes},
                return_document=ReturnDocument.AFTER,
            )
        else:
            doc = await self.conversations.find_one({"_id": conversation_id})
        if doc is None:
            raise NotFound(f"no conversation {conversation_id!r}")
        return conversation(doc)

    async def find_open_conversation(
        self, customer_id: str, *, channel: str | None = None
    ) -> Conversation | None:
        query: Doc = {"customer_id": customer_id, "status": {"$in": NOT_RESOLVED}}
        if channel is not None:
            query["channels"] = channel
        cursor = (
            self.conversations.find(query)
            .sort([("last_activity_at", DESCENDING), ("_id", DESCENDING)])
            .limit(1)
        )
        async for doc in cursor:
            return conversation(doc)
        return None

    async def list_conversations(
        self,
        inbox: InboxFilter,
        *,
        sort: InboxSort = "last_activity",
        cursor: str | None = None,
        limit: int = 50,
    ) -> ConversationPage:
        limit = clamp(limit)
        query = inbox_query(inbox)
        if sort == "waiting":
            field, direction, after = "waiting_since", ASCENDING, "$gt"
            query["waiting_since"] = {"$ne": None}
        elif sort == "last_activity":
            field, direction, after = "last_activity_at", DESCENDING, "$lt"
        else:
            raise ValueError(f"sort: unknown inbox order {sort!r}")
        conditions = [query]
        if cursor is not None:
            when, ident = time_cursor(cursor)
            conditions.append(
                {"$or": [{field: {after: when}}, {field: when, "_id": {after: ident}}]}
            )
        found = (
            self.conversations.find(conditions[0] if len(conditions) == 1 else {"$and": conditions})
            .sort([(field, direction), ("_id", direction)])
            .limit(limit + 1)
        )
        docs = [doc async for doc in found]
        items = [conversation(doc) for doc in docs[:limit]]
        next_cursor = None
        if len(docs) > limit:
            last = docs[limit - 1]
            value = aware(last[field])
            assert value is not None
            next_cursor = encode_cursor(value.isoformat(), last["_id"])
        return ConversationPage(items=items, next=next_cursor)
