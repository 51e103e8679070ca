"""Conversations and inbox listings on SQLite."""

from __future__ import annotations

import enum
import sqlite3
from typing import Any

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
from hub.timeline.sqlite.customers import customer_row
from hub.timeline.sqlite.engine import one, rows, run
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


def conversation_by_id(conn: sqlite3.Connection, conversation_id: str) -> Conversation | None:
    row = one(conn, "SELECT * FROM conversations WHERE id = ?", (conversation_id,))
    return None if row is None else conversation(row)


def insert_conversation(conn: sqlite3.Connection, record: Conversation) -> None:
    run(conn, *insert_sql("conversations", conversation_row(record)))


def open_conversation_of(
    conn: sqlite3.Connection, customer_id: str, channel: str | None
) -> Conversation | None:
    """The customer's most recently active conversation that is not resolved."""
    where = ["customer_id = ?", f"status IN ({placeholders(len(NOT_RESOLVED))})"]
    params: list[Any] = [customer_id, *NOT_RESOLVED]
    if channel is not None:
        where.append(USED_CHANNEL)
        params.append(channel)
    sql = (
        f"SELECT * FROM conversations WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY last_activity_at DESC, id DESC LIMIT 1"
    )
    row = one(conn, sql, params)
    return None if row is None else conversation(row)


def conversations_of(
    conn: sqlite3.Connection, customer_id: str, limit: int, *, open_only: bool = False
) -> list[Conversation]:
    where = "customer_id = ?"
    params: list[Any] = [customer_id]
    if open_only:
        where += f" AND status IN ({placeholders(len(NOT_RESOLVED))})"
        params.extend(NOT_RESOLVED)
    found = rows(
        conn,
        f"SELECT * FROM conversations WHERE {where} "  # noqa: S608
        "ORDER BY last_activity_at DESC, id DESC LIMIT ?",
        [*params, clamp(limit)],
    )
    return [conversation(row) for row in found]


def _update(
    conn: sqlite3.Connection, conversation_id: str, changes: dict[str, Any]
) -> Conversation:
    row = one(conn, "SELECT * FROM conversations WHERE id = ?", (conversation_id,))
    if row is None:
        raise NotFound(f"no conversation {conversation_id!r}")
    if changes:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        run(
            conn,
            f"UPDATE conversations SET {assignments} WHERE id = ?",  # noqa: S608
            [*changes.values(), conversation_id],
        )
    return conversation({**row, **changes})


def _listing(conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[Row]:
    return rows(conn, sql, params)


class ConversationOps(SQLiteBase):
    """The conversation half of the store."""

    async def open_conversation(
        self,
        customer_id: str,
        *,
        channel: str,
        subject: str | None = None,
        open_key: str | None = None,
    ) -> Conversation:
        def write(conn: sqlite3.Connection) -> Conversation:
            if open_key is not None:
                existing = one(conn, "SELECT * FROM conversations WHERE open_key = ?", (open_key,))
                if existing is not None:
                    return conversation(existing)
            customer_row(conn, customer_id)
            record = Conversation.opened(customer_id, channel, subject=subject, open_key=open_key)
            insert_conversation(conn, record)
            return record

        return await self._unit(write)

    async def get_conversation(self, conversation_id: str) -> Conversation:
        found = await self._query(conversation_by_id, conversation_id)
        if found is None:
            raise NotFound(f"no conversation {conversation_id!r}")
        return found

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
        return await self._unit(_update, conversation_id, changes)

    async def find_open_conversation(
        self, customer_id: str, *, channel: str | None = None
    ) -> Conversation | None:
        return await self._query(open_conversation_of, customer_id, channel)

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
        found = await self._query(_listing, sql, [*params, limit + 1])
        items = [conversation(row) for row in found[:limit]]
        next_cursor = None
        if len(found) > limit:
            last = items[-1]
            value = last.waiting_since if sort == "waiting" else last.last_activity_at
            assert value is not None
            next_cursor = encode_cursor(value.isoformat(), last.id)
        return ConversationPage(items=items, next=next_cursor)
