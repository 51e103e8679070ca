"""Quarantined inbound messages on SQLite (see :mod:`hub.timeline.quarantine`)."""

from __future__ import annotations

import json
import sqlite3

from hub.errors import NotFound
from hub.timeline.cursors import clamp
from hub.timeline.model import utcnow
from hub.timeline.quarantine import QuarantinedMessage, QuarantineStatus
from hub.timeline.sqlite.base import Row, SQLiteBase, dumps, insert_sql, req_ts, ts
from hub.timeline.sqlite.engine import one, rows, run

QUARANTINE_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS quarantine (
        id TEXT PRIMARY KEY,
        dedupe_key TEXT NOT NULL UNIQUE,
        channel TEXT NOT NULL,
        key TEXT NOT NULL,
        reason TEXT NOT NULL,
        raw_blob TEXT NOT NULL,
        size INTEGER NOT NULL,
        source TEXT NOT NULL DEFAULT '{}',
        summary TEXT,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        event_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS quarantine_status ON quarantine (status, created_at)",
)


def quarantine_record(row: Row) -> QuarantinedMessage:
    """A stored quarantine row as the model record."""
    return QuarantinedMessage(
        id=row["id"],
        channel=row["channel"],
        key=row["key"],
        reason=row["reason"],
        raw_blob=row["raw_blob"],
        size=int(row["size"]),
        source=json.loads(row["source"]),
        summary=row["summary"],
        status=QuarantineStatus(row["status"]),
        attempts=int(row["attempts"]),
        event_id=row["event_id"],
        created_at=req_ts(row["created_at"]),
        updated_at=req_ts(row["updated_at"]),
    )


def upsert(conn: sqlite3.Connection, record: QuarantinedMessage) -> tuple[QuarantinedMessage, bool]:
    row: Row = {
        "id": record.id,
        "dedupe_key": record.dedupe_key,
        "channel": record.channel,
        "key": record.key,
        "reason": record.reason,
        "raw_blob": record.raw_blob,
        "size": record.size,
        "source": dumps(record.source),
        "summary": record.summary,
        "status": record.status.value,
        "attempts": record.attempts,
        "event_id": record.event_id,
        "created_at": ts(record.created_at),
        "updated_at": ts(record.updated_at),
    }
    sql, params = insert_sql("quarantine", row, conflict="ON CONFLICT DO NOTHING")
    created = run(conn, sql, params) == 1
    if not created:
        run(
            conn,
            "UPDATE quarantine SET attempts = attempts + 1, reason = ?, status = ?, "
            "updated_at = ? WHERE dedupe_key = ?",
            (record.reason, QuarantineStatus.PENDING.value, ts(utcnow()), record.dedupe_key),
        )
    stored = one(conn, "SELECT * FROM quarantine WHERE dedupe_key = ?", (record.dedupe_key,))
    assert stored is not None
    return quarantine_record(stored), created


def settle(
    conn: sqlite3.Connection,
    record_id: str,
    released: bool,
    event_id: str | None,
    reason: str | None,
) -> QuarantinedMessage:
    now = ts(utcnow())
    if released:
        sql = "UPDATE quarantine SET status = ?, event_id = ?, updated_at = ? WHERE id = ?"
        run(conn, sql, (QuarantineStatus.RELEASED.value, event_id, now, record_id))
    else:
        sql = (
            "UPDATE quarantine SET attempts = attempts + 1, reason = COALESCE(?, reason), "
            "updated_at = ? WHERE id = ?"
        )
        run(conn, sql, (reason, now, record_id))
    stored = one(conn, "SELECT * FROM quarantine WHERE id = ?", (record_id,))
    if stored is None:
        raise NotFound(f"no quarantined message {record_id!r}")
    return quarantine_record(stored)


def listed(
    conn: sqlite3.Connection, channel: str | None, status: QuarantineStatus | None, limit: int
) -> list[QuarantinedMessage]:
    where: list[str] = []
    params: list[object] = []
    if channel is not None:
        where.append("channel = ?")
        params.append(channel)
    if status is not None:
        where.append("status = ?")
        params.append(QuarantineStatus(status).value)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    sql = f"SELECT * FROM quarantine {clause} ORDER BY created_at DESC, rowid DESC LIMIT ?"  # noqa: S608
    return [quarantine_record(row) for row in rows(conn, sql, [*params, clamp(limit)])]


class QuarantineOps(SQLiteBase):
    """Quarantined inbound messages, one per channel and message key."""

    async def quarantine(self, record: QuarantinedMessage) -> tuple[QuarantinedMessage, bool]:
        return await self._unit(upsert, record)

    async def get_quarantined(self, record_id: str) -> QuarantinedMessage:
        async with self._read() as conn:
            row = await self._one(conn, "SELECT * FROM quarantine WHERE id = ?", (record_id,))
        if row is None:
            raise NotFound(f"no quarantined message {record_id!r}")
        return quarantine_record(row)

    async def list_quarantined(
        self,
        *,
        channel: str | None = None,
        status: QuarantineStatus | None = QuarantineStatus.PENDING,
        limit: int = 100,
    ) -> list[QuarantinedMessage]:
        return await self._query(listed, channel, status, limit)

    async def settle_quarantined(
        self,
        record_id: str,
        *,
        released: bool,
        event_id: str | None = None,
        reason: str | None = None,
    ) -> QuarantinedMessage:
        return await self._unit(settle, record_id, released, event_id, reason)
