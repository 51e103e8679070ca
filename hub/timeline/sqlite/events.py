"""Events on SQLite: append with dedupe, the conversation fold, timeline pages.

``seq`` is the events table's rowid (``AUTOINCREMENT``: never reused). The
insert and the fold into the conversation's summary share one transaction.
"""

from __future__ import annotations

from typing import Any

import aiosqlite

from hub.errors import Conflict, NotFound
from hub.timeline.codec import event_from_doc, event_to_doc
from hub.timeline.cursors import clamp, seq_cursor
from hub.timeline.model import Conversation, ConversationStatus, Direction, Event, EventKind
from hub.timeline.sqlite.base import Row, SQLiteBase, from_row, insert_sql, to_row
from hub.timeline.sqlite.conversations import conversation, conversation_row
from hub.timeline.store import Direction as PageDirection
from hub.timeline.store import EventPage, encode_cursor

PREVIEW_CHARS = 140
TIMES = ("occurred_at", "received_at")
JSONS = ("attachments", "meta")
DELIVERY_TIMES = ("next_attempt_at", "lease_until", "updated_at")
DELIVERY_COLUMNS = {
    "status": "delivery_status",
    "attempts": "delivery_attempts",
    "next_attempt_at": "next_attempt_at",
    "lease_until": "lease_until",
    "lease_token": "lease_token",
    "provider_id": "provider_id",
    "error": "delivery_error",
    "updated_at": "delivery_updated_at",
}
SUMMARY = (
    "last_activity_at",
    "channels",
    "last_channel",
    "last_message_preview",
    "waiting_since",
    "first_response_at",
    "status",
    "resolved_at",
    "snoozed_until",
)
_CONVERSATIONAL = (EventKind.MESSAGE, EventKind.CALL, EventKind.VOICEMAIL)
_REPLIES = (EventKind.MESSAGE, EventKind.CALL)
_REOPENS = (ConversationStatus.PENDING, ConversationStatus.SNOOZED, ConversationStatus.RESOLVED)


def event_row(record: Event) -> Row:
    """The column values of ``record`` (``seq`` left to the database)."""
    doc = event_to_doc(record)
    del doc["seq"]
    delivery = doc.pop("delivery")
    row = to_row(doc, TIMES, JSONS)
    stored = to_row(delivery, DELIVERY_TIMES) if delivery else {}
    for field, column in DELIVERY_COLUMNS.items():
        row[column] = stored.get(field)
    return row


def event_record(row: Row) -> Event:
    """A stored row as the model record."""
    doc = from_row(row, TIMES, JSONS)
    delivery: dict[str, Any] = {}
    for field, column in DELIVERY_COLUMNS.items():
        delivery[field] = doc.pop(column)
    doc["delivery"] = from_row(delivery, DELIVERY_TIMES) if delivery["status"] else None
    return event_from_doc(doc)


def fold(conv: Conversation, record: Event) -> None:
    """Fold ``record`` into the summary of ``conv`` (in place)."""
    at = record.occurred_at
    conv.last_activity_at = max(conv.last_activity_at, at)
    if record.kind not in _CONVERSATIONAL or record.direction is Direction.INTERNAL:
        return
    if record.channel not in conv.channels:
        conv.channels.append(record.channel)
    conv.last_channel = record.channel
    if record.text:
        conv.last_message_preview = record.text[:PREVIEW_CHARS]
    if record.direction is Direction.IN:
        conv.waiting_since = conv.waiting_since or at
        if conv.status in _REOPENS:
            conv.status = ConversationStatus.OPEN
            conv.resolved_at = None
            conv.snoozed_until = None
    elif record.kind in _REPLIES:
        conv.waiting_since = None
        conv.first_response_at = conv.first_response_at or at


class EventOps(SQLiteBase):
    """The event half of the store."""

    async def _event_where(
        self, conn: aiosqlite.Connection, where: str, params: tuple[Any, ...]
    ) -> Event | None:
        row = await self._one(conn, f"SELECT * FROM events WHERE {where}", params)  # noqa: S608
        return None if row is None else event_record(row)

    async def _fold(self, conn: aiosqlite.Connection, record: Event) -> None:
        row = await self._one(
            conn, "SELECT * FROM conversations WHERE id = ?", (record.conversation_id,)
        )
        if row is None:
            return
        conv = conversation(row)
        fold(conv, record)
        summary = conversation_row(conv)
        assignments = ", ".join(f"{name} = ?" for name in SUMMARY)
        await self._exec(
            conn,
            f"UPDATE conversations SET {assignments} WHERE id = ?",  # noqa: S608
            [*(summary[name] for name in SUMMARY), conv.id],
        )

    async def append_event(self, event: Event) -> tuple[Event, bool]:
        async with self._write() as conn:
            existing = await self._event_where(conn, "dedupe_key = ?", (event.dedupe_key,))
            if existing is not None:
                return existing, False
            if await self._event_where(conn, "id = ?", (event.id,)) is not None:
                raise Conflict(f"event {event.id} exists under another dedupe key")
            async with conn.execute(*insert_sql("events", event_row(event))) as cursor:
                seq = cursor.lastrowid
            stored = await self._event_where(conn, "seq = ?", (seq,))
            assert stored is not None
            if stored.conversation_id is not None:
                await self._fold(conn, stored)
            return stored, True

    async def get_event(self, event_id: str) -> Event:
        async with self._read() as conn:
            found = await self._event_where(conn, "id = ?", (event_id,))
        if found is None:
            raise NotFound(f"no event {event_id!r}")
        return found

    async def find_event(self, channel: str, external_id: str) -> Event | None:
        async with self._read() as conn:
            return await self._event_where(conn, "dedupe_key = ?", (f"{channel}\x1f{external_id}",))

    async def find_event_by_provider_id(self, channel: str, provider_id: str) -> Event | None:
        async with self._read() as conn:
            return await self._event_where(
                conn,
                "channel = ? AND provider_id = ? ORDER BY seq DESC LIMIT 1",
                (channel, provider_id),
            )

    async def find_event_by_thread_ref(self, refs: list[str]) -> Event | None:
        refs = list(dict.fromkeys(refs))
        if not refs:
            return None
        marks = ", ".join("?" for _ in refs)
        async with self._read() as conn:
            return await self._event_where(
                conn, f"thread_ref IN ({marks}) ORDER BY seq DESC LIMIT 1", tuple(refs)
            )

    async def events(
        self,
        *,
        customer_id: str | None = None,
        conversation_id: str | None = None,
        cursor: str | None = None,
        direction: PageDirection = "older",
        limit: int = 50,
    ) -> EventPage:
        if (customer_id is None) == (conversation_id is None):
            raise ValueError("events: give exactly one of customer_id and conversation_id")
        if direction not in ("older", "newer"):
            raise ValueError(f"events: direction must be 'older' or 'newer', not {direction!r}")
        limit = clamp(limit)
        scope, owner = (
            ("customer_id", customer_id)
            if customer_id is not None
            else ("conversation_id", conversation_id)
        )
        position = seq_cursor(cursor) if cursor is not None else None
        select = f"SELECT * FROM events WHERE {scope} = ?"  # noqa: S608
        exists = f"SELECT 1 FROM events WHERE {scope} = ?"  # noqa: S608
        async with self._read() as conn:
            if direction == "older":
                below = "" if position is None else " AND seq < ?"
                params: tuple[Any, ...] = (owner,) if position is None else (owner, position)
                rows = await self._all(
                    conn, f"{select}{below} ORDER BY seq DESC LIMIT ?", (*params, limit + 1)
                )
                items = [event_record(row) for row in reversed(rows[:limit])]
                older = encode_cursor(items[0].seq) if len(rows) > limit else None
                after = items[-1].seq if items else (position or 0)
                has_newer = (
                    await self._one(conn, f"{exists} AND seq > ? LIMIT 1", (owner, after))
                    is not None
                )
            else:
                rows = await self._all(
                    conn,
                    f"{select} AND seq > ? ORDER BY seq ASC LIMIT ?",
                    (owner, position or 0, limit + 1),
                )
                items = [event_record(row) for row in rows[:limit]]
                has_newer = len(rows) > limit
                older = None
                if items and await self._one(
                    conn, f"{exists} AND seq < ? LIMIT 1", (owner, items[0].seq)
                ):
                    older = encode_cursor(items[0].seq)
        if items:
            newer = encode_cursor(items[-1].seq)
        else:
            newer = cursor if cursor is not None else encode_cursor(0)
        return EventPage(items=items, older=older, newer=newer, has_newer=has_newer)
