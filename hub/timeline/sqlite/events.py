"""Events on SQLite: insert with dedupe, the conversation fold, lookups, timeline pages.

``seq`` is the events table's rowid (``AUTOINCREMENT``: never reused). Writers
are serialised (``BEGIN IMMEDIATE``), so ``seq`` order is commit order and a
reader paging by cursor never passes an event that is not committed yet.
Appending is a unit of work (:mod:`.units`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hub.errors import Conflict, NotFound
from hub.timeline.codec import event_from_doc, event_to_doc
from hub.timeline.cursors import clamp, seq_cursor
from hub.timeline.model import Conversation, Event
from hub.timeline.sqlite.base import Row, SQLiteBase, dumps, from_row, insert_sql, to_row, ts
from hub.timeline.sqlite.conversations import conversation_row
from hub.timeline.sqlite.engine import one, rows, run
from hub.timeline.store import Direction as PageDirection
from hub.timeline.store import EventPage, encode_cursor

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
    "customer_channel",
)


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


def event_where(conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> Event | None:
    row = one(conn, f"SELECT * FROM events WHERE {where}", params)  # noqa: S608
    return None if row is None else event_record(row)


def _amend(
    conn: sqlite3.Connection, event_id: str, change: Callable[[Event], Event | None]
) -> Event | None:
    row = one(conn, "SELECT * FROM events WHERE id = ?", (event_id,))
    if row is None:
        raise NotFound(f"no event {event_id!r}")
    old = event_record(row)
    new = change(old)
    if new is None:
        return None
    new.meta = {**new.meta, "rev": int(old.meta.get("rev") or 0) + 1}
    run(
        conn,
        "UPDATE events SET text = ?, html = ?, meta = ? WHERE id = ?",
        (new.text, new.html, dumps(new.meta), event_id),
    )
    return new


def event_by_key(conn: sqlite3.Connection, dedupe_key: str) -> Event | None:
    return event_where(conn, "dedupe_key = ?", (dedupe_key,))


def insert_event(conn: sqlite3.Connection, record: Event) -> int | None:
    """Insert ``record``; its new ``seq``, or ``None`` when its dedupe key is taken."""
    sql, params = insert_sql(
        "events", event_row(record), conflict="ON CONFLICT (dedupe_key) DO NOTHING RETURNING seq"
    )
    try:
        row = one(conn, sql, params)
    except sqlite3.IntegrityError:
        raise Conflict(f"event {record.id} exists under another dedupe key") from None
    return None if row is None else int(row["seq"])


def save_fold(conn: sqlite3.Connection, conv: Conversation) -> None:
    """Write the summary fields of ``conv`` (after :func:`~hub.timeline.fold.fold`)."""
    summary = conversation_row(conv)
    assignments = ", ".join(f"{name} = ?" for name in SUMMARY)
    run(
        conn,
        f"UPDATE conversations SET {assignments} WHERE id = ?",  # noqa: S608
        [*(summary[name] for name in SUMMARY), conv.id],
    )


def thread_parent(conn: sqlite3.Connection, refs: list[str]) -> Event | None:
    refs = list(dict.fromkeys(refs))
    if not refs:
        return None
    marks = ", ".join("?" for _ in refs)
    return event_where(conn, f"thread_ref IN ({marks}) ORDER BY seq DESC LIMIT 1", tuple(refs))


def latest_events(conn: sqlite3.Connection, scope: str, owner: str, limit: int) -> list[Event]:
    """The latest ``limit`` events of a customer or conversation, oldest first."""
    found = rows(
        conn,
        f"SELECT * FROM events WHERE {scope} = ? ORDER BY seq DESC LIMIT ?",  # noqa: S608
        (owner, limit),
    )
    return [event_record(row) for row in reversed(found)]


def last_inbound(conn: sqlite3.Connection, customer_id: str, channel: str) -> Event | None:
    return event_where(
        conn,
        "customer_id = ? AND channel = ? AND direction = 'in' AND identity IS NOT NULL "
        "ORDER BY seq DESC LIMIT 1",
        (customer_id, channel),
    )


def page(
    conn: sqlite3.Connection,
    scope: str,
    owner: str,
    position: int | None,
    direction: PageDirection,
    limit: int,
) -> tuple[list[Event], bool, bool]:
    """(items oldest first, more older exist, more newer exist) in one hop."""
    select = f"SELECT * FROM events WHERE {scope} = ?"  # noqa: S608
    exists = f"SELECT 1 FROM events WHERE {scope} = ?"  # noqa: S608
    if direction == "older":
        below = "" if position is None else " AND seq < ?"
        params: tuple[Any, ...] = (owner,) if position is None else (owner, position)
        found = rows(conn, f"{select}{below} ORDER BY seq DESC LIMIT ?", (*params, limit + 1))
        items = [event_record(row) for row in reversed(found[:limit])]
        after = items[-1].seq if items else (position or 0)
        newer = one(conn, f"{exists} AND seq > ? LIMIT 1", (owner, after)) is not None
        return items, len(found) > limit, newer
    found = rows(
        conn, f"{select} AND seq > ? ORDER BY seq ASC LIMIT ?", (owner, position or 0, limit + 1)
    )
    items = [event_record(row) for row in found[:limit]]
    older = bool(items) and one(conn, f"{exists} AND seq < ? LIMIT 1", (owner, items[0].seq))
    return items, bool(older), len(found) > limit


def macro_usage(
    conn: sqlite3.Connection, since: datetime | None, until: datetime | None
) -> dict[str, int]:
    where = ["direction = 'out'", "json_extract(meta, '$.macro') IS NOT NULL"]
    params: list[Any] = []
    if since is not None:
        where.append("occurred_at >= ?")
        params.append(ts(since))
    if until is not None:
        where.append("occurred_at < ?")
        params.append(ts(until))
    found = rows(
        conn,
        "SELECT json_extract(meta, '$.macro') AS macro, count(*) AS n FROM events "  # noqa: S608
        f"WHERE {' AND '.join(where)} GROUP BY macro",
        params,
    )
    return {str(r["macro"]): int(r["n"]) for r in found}


def _of_conversations(conn: sqlite3.Connection, ids: list[str]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {i: [] for i in ids}
    marks = ", ".join("?" * len(ids))
    found = rows(
        conn,
        f"SELECT * FROM events WHERE conversation_id IN ({marks}) "  # noqa: S608
        "ORDER BY conversation_id, seq",
        ids,
    )
    for row in found:
        out[row["conversation_id"]].append(event_record(row))
    return out


def _report_marks(conn: sqlite3.Connection, since: str) -> dict[str, tuple[str, str]]:
    cur = conn.cursor()
    cur.row_factory = None
    cur.execute(
        "SELECT (SELECT COUNT(*) || ':' || SUM(seq) FROM events e WHERE e.conversation_id = c.id),"
        " cu.updated_at, c.* FROM conversations c LEFT JOIN customers cu ON cu.id = c.customer_id"
        " WHERE c.last_activity_at >= ?",
        (since,),
    )
    return {row[2]: (row[0] or "", repr(row)) for row in cur}


class EventOps(SQLiteBase):
    """The event half of the store (reads; appends are units of work)."""

    async def macro_usage(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, int]:
        """Replies sent from each macro in [``since``, ``until``), by macro id."""
        return await self._query(macro_usage, since, until)

    async def conversation_events(self, conversation_ids: list[str]) -> dict[str, list[Event]]:
        out: dict[str, list[Event]] = {}
        ids = list(dict.fromkeys(conversation_ids))
        for start in range(0, len(ids), 500):
            out |= await self._query(_of_conversations, ids[start : start + 500])
        return out

    async def report_marks(self, since: datetime) -> dict[str, tuple[str, str]]:
        return await self._query(_report_marks, ts(since))

    async def get_event(self, event_id: str) -> Event:
        found = await self._query(event_where, "id = ?", (event_id,))
        if found is None:
            raise NotFound(f"no event {event_id!r}")
        return found

    async def find_event(self, channel: str, external_id: str) -> Event | None:
        return await self._query(event_by_key, f"{channel}\x1f{external_id}")

    async def find_event_by_provider_id(self, channel: str, provider_id: str) -> Event | None:
        return await self._query(
            event_where,
            "channel = ? AND provider_id = ? ORDER BY seq DESC LIMIT 1",
            (channel, provider_id),
        )

    async def find_event_by_thread_ref(self, refs: list[str]) -> Event | None:
        return await self._query(thread_parent, refs)

    async def amend_event(
        self, event_id: str, change: Callable[[Event], Event | None]
    ) -> Event | None:
        return await self._unit(_amend, event_id, change)

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
        assert owner is not None
        position = seq_cursor(cursor) if cursor is not None else None
        items, more_older, has_newer = await self._query(
            page, scope, owner, position, direction, limit
        )
        older = encode_cursor(items[0].seq) if items and more_older else None
        if items:
            newer = encode_cursor(items[-1].seq)
        else:
            newer = cursor if cursor is not None else encode_cursor(0)
        return EventPage(items=items, older=older, newer=newer, has_newer=has_newer)
