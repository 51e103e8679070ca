"""Conversations and inbox listings on SQLite."""

from __future__ import annotations

import enum
from typing import Any

import aiosqlite

from hub.errors import NotFound
from hub.timeline.codec import conversation_from_doc, conversation_to_doc
from hub.timeline.cursors import clamp, time_cursor
from hub.timeline.model import Conversation, ConversationStatus, utcnow
from hub.timeline.sqlite.base import (
    Row,
    SQLiteBase,
    dumps,
    from_row,
    insert_sql,
    placeholders,
    to_row,
    ts,
)
from hub.timeline.store import (
    ConversationPage,
    ConversationUpdate,
    InboxFilter,
    InboxSort,
    encode_cursor,
)

TIMES = (
    "opened_at",
    "last_activity_at",
    "waiting_since",
    "first_response_at",
    "resolved_at",
    "snoozed_until",
)
JSONS = ("tags", "channels")
NOT_RESOLVED = (
    ConversationStatus.OPEN.value,
    ConversationStatus.PENDING.value,
    ConversationStatus.SNOOZED.value,
)
USED_CHANNEL = "EXISTS (SELECT 1 FROM json_each(conversations.channels) WHERE value = ?)"


def conversation_row(record: Conversation) -> Row:
    """The column values of ``record``."""
    return to_row(conversation_to_doc(record), TIMES, JSONS)


def conversation(row: Row) -> Conversation:
    """A stored row as the model record."""
    return conversation_from_doc(from_row(row, TIMES, JSONS))


def inbox_where(inbox: InboxFilter) -> tuple[list[str], list[Any]]:
    """The conditions of an inbox (without sort or cursor) and their parameters."""
    where: list[str] = []
    params: list[Any] = []
    if inbox.status:
        where.append(f"status IN ({placeholders(len(inbox.status))})")
        params.extend(ConversationStatus(s).value for s in inbox.status)
    if inbox.unassigned:
        where.append("assignee IS NULL")
    elif inbox.assignee is not None:
        where.append("assignee = ?")
        params.append(inbox.assignee)
    if inbox.priority is not None:
        where.append("priority = ?")
        params.append(inbox.priority.value)
    if inbox.channel is not None:
        where.append(USED_CHANNEL)
        params.append(inbox.channel)
    if inbox.customer_id is not None:
        where.append("customer_id = ?")
        params.append(inbox.customer_id)
    return where, params


class ConversationOps(SQLiteBase):
    """The conversation half of the store."""

    async def _conversation(self, conn: aiosqlite.Connection, conversation_id: str) -> Row:
        row = await self._one(conn, "SELECT * FROM conversations WHERE id = ?", (conversation_id,))
        if row is None:
            raise NotFound(f"no conversation {conversation_id!r}")
        return row

    async def open_conversation(
        self,
        customer_id: str,
        *,
        channel: str,
        subject: str | None = None,
        open_key: str | None = None,
    ) -> Conversation:
        async with self._write() as conn:
            if open_key is not None:
                existing = await self._one(
                    conn, "SELECT * FROM conversations WHERE open_key = ?", (open_key,)
                )
                if existing is not None:
                    return conversation(existing)
            await self._customer_row(conn, customer_id)
            record = Conversation.opened(customer_id, channel, subject=subject, open_key=open_key)
            await self._exec(conn, *insert_sql("conversations", conversation_row(record)))
            return record

    async def get_conversation(self, conversation_id: str) -> Conversation:
        async with self._read() as conn:
            return conversation(await self._conversation(conn, conversation_id))

    async def update_conversation(
        self, conversation_id: str, update: ConversationUpdate
    ) -> Conversation:
        changes: dict[str, Any] = {}
        for name, value in update.changes().items():
            changes[name] = value.value if isinstance(value, enum.Enum) else value
        if "tags" in changes:
            changes["tags"] = dumps(list(changes["tags"]))
        if "snoozed_until" in changes:
            changes["snoozed_until"] = ts(changes["snoozed_until"])
        if "status" in changes:
            resolved = changes["status"] == ConversationStatus.RESOLVED.value
            changes["resolved_at"] = ts(utcnow()) if resolved else None
        async with self._write() as conn:
            row = await self._conversation(conn, conversation_id)
            if changes:
                assignments = ", ".join(f"{name} = ?" for name in changes)
                await self._exec(
                    conn,
                    f"UPDATE conversations SET {assignments} WHERE id = ?",  # noqa: S608
                    [*changes.values(), conversation_id],
                )
            return conversation({**row, **changes})

    async def find_open_conversation(
        self, customer_id: str, *, channel: str | None = None
    ) -> Conversation | None:
        where = ["customer_id = ?", f"status IN ({placeholders(len(NOT_RESOLVED))})"]
        params: list[Any] = [customer_id, *NOT_RESOLVED]
        if channel is not None:
            where.append(USED_CHANNEL)
            params.append(channel)
        sql = (
            f"SELECT * FROM conversations WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY last_activity_at DESC, id DESC LIMIT 1"
        )
        async with self._read() as conn:
            row = await self._one(conn, sql, params)
        return None if row is None else conversation(row)

    async def list_conversations(
        self,
        inbox: InboxFilter,
        *,
        sort: InboxSort = "last_activity",
        cursor: str | None = None,
        limit: int = 50,
    ) -> ConversationPage:
        limit = clamp(limit)
        where, params = inbox_where(inbox)
        if sort == "waiting":
            field, order, after = "waiting_since", "ASC", ">"
            where.append("waiting_since IS NOT NULL")
        elif sort == "last_activity":
            field, order, after = "last_activity_at", "DESC", "<"
        else:
            raise ValueError(f"sort: unknown inbox order {sort!r}")
        if cursor is not None:
            at, ident = time_cursor(cursor)
            when = ts(at)
            where.append(f"({field} {after} ? OR ({field} = ? AND id {after} ?))")
            params.extend([when, when, ident])
        sql = (
            f"SELECT * FROM conversations WHERE {' AND '.join(where) or '1'} "  # noqa: S608
            f"ORDER BY {field} {order}, id {order} LIMIT ?"
        )
        async with self._read() as conn:
            rows = await self._all(conn, sql, [*params, limit + 1])
        items = [conversation(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            value = last.waiting_since if sort == "waiting" else last.last_activity_at
            assert value is not None
            next_cursor = encode_cursor(value.isoformat(), last.id)
        return ConversationPage(items=items, next=next_cursor)
