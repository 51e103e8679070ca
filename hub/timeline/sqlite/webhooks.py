"""Outgoing webhook deliveries on SQLite: one row per (subscription, key), claimed under a lease."""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from hub.timeline.cursors import clamp
from hub.timeline.model import utcnow
from hub.timeline.sqlite.base import Row, SQLiteBase, dumps, insert_sql, parse_ts, req_ts, ts
from hub.timeline.sqlite.engine import one, rows, run
from hub.timeline.webhooks import WebhookDelivery, WebhookStatus

WEBHOOK_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS webhook_deliveries (
        id TEXT PRIMARY KEY,
        subscription TEXT NOT NULL,
        key TEXT NOT NULL,
        event_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        lease_token TEXT,
        lease_until TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_error TEXT,
        log TEXT NOT NULL DEFAULT '[]',
        UNIQUE (subscription, key)
    )
    """,
    "CREATE INDEX IF NOT EXISTS webhook_due ON webhook_deliveries (status, next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS webhook_recent ON webhook_deliveries (created_at)",
)


def _row(d: WebhookDelivery) -> Row:
    return {
        "id": d.id,
        "subscription": d.subscription,
        "key": d.key,
        "event_type": d.event_type,
        "payload": dumps(d.payload),
        "status": d.status.value,
        "attempts": d.attempts,
        "next_attempt_at": ts(d.next_attempt_at),
        "lease_token": d.lease_token,
        "lease_until": ts(d.lease_until) if d.lease_until else None,
        "created_at": ts(d.created_at),
        "updated_at": ts(d.updated_at),
        "last_error": d.last_error,
        "log": dumps(d.log),
    }


def _delivery(row: Row) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        subscription=row["subscription"],
        key=row["key"],
        event_type=row["event_type"],
        payload=json.loads(row["payload"]),
        status=WebhookStatus(row["status"]),
        attempts=int(row["attempts"]),
        next_attempt_at=req_ts(row["next_attempt_at"]),
        lease_token=row["lease_token"],
        lease_until=parse_ts(row["lease_until"]),
        created_at=req_ts(row["created_at"]),
        updated_at=req_ts(row["updated_at"]),
        last_error=row["last_error"],
        log=json.loads(row["log"]),
    )


def _enqueue(conn: sqlite3.Connection, row: Row) -> bool:
    return run(conn, *insert_sql("webhook_deliveries", row, conflict="ON CONFLICT DO NOTHING")) > 0


def _claim(
    conn: sqlite3.Connection, now: datetime, lease_seconds: float, limit: int
) -> list[WebhookDelivery]:
    at = ts(now)
    due = rows(
        conn,
        "SELECT * FROM webhook_deliveries WHERE (status = ? AND next_attempt_at <= ?) "
        "OR (status = ? AND lease_until <= ?) ORDER BY next_attempt_at LIMIT ?",
        (WebhookStatus.QUEUED.value, at, WebhookStatus.SENDING.value, at, clamp(limit)),
    )
    until = ts(now + timedelta(seconds=lease_seconds))
    claimed = []
    for row in due:
        row.update(
            status=WebhookStatus.SENDING.value,
            attempts=int(row["attempts"]) + 1,
            lease_token=secrets.token_hex(16),
            lease_until=until,
            updated_at=at,
        )
        run(
            conn,
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, lease_token = ?, "
            "lease_until = ?, updated_at = ? WHERE id = ?",
            (row["status"], row["attempts"], row["lease_token"], until, at, row["id"]),
        )
        claimed.append(_delivery(row))
    return claimed


def _record(
    conn: sqlite3.Connection,
    delivery_id: str,
    token: str,
    status: WebhookStatus,
    entry: dict[str, Any],
    next_at: datetime | None,
) -> bool:
    row = one(
        conn,
        "SELECT log, next_attempt_at FROM webhook_deliveries WHERE id = ? AND lease_token = ?",
        (delivery_id, token),
    )
    if row is None:
        return False
    log = [*json.loads(row["log"]), entry][-50:]
    run(
        conn,
        "UPDATE webhook_deliveries SET status = ?, log = ?, last_error = ?, next_attempt_at = ?, "
        "lease_token = NULL, lease_until = NULL, updated_at = ? WHERE id = ?",
        (
            status.value,
            dumps(log),
            entry.get("error"),
            ts(next_at) if next_at else row["next_attempt_at"],
            ts(utcnow()),
            delivery_id,
        ),
    )
    return True


class WebhookOps(SQLiteBase):
    """The webhook queue and its log."""

    async def enqueue_webhook(self, delivery: WebhookDelivery) -> bool:
        return await self._unit(_enqueue, _row(delivery))

    async def claim_webhooks(
        self, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[WebhookDelivery]:
        return await self._unit(_claim, now, lease_seconds, limit)

    async def record_webhook(
        self,
        delivery_id: str,
        lease_token: str,
        *,
        status: WebhookStatus,
        entry: dict[str, Any],
        next_attempt_at: datetime | None = None,
    ) -> bool:
        return await self._unit(_record, delivery_id, lease_token, status, entry, next_attempt_at)

    async def webhook_deliveries(
        self, *, subscription: str | None = None, limit: int = 50
    ) -> list[WebhookDelivery]:
        where, params = ("WHERE subscription = ?", [subscription]) if subscription else ("", [])
        found = await self._query(
            rows,
            f"SELECT * FROM webhook_deliveries {where} "  # noqa: S608
            "ORDER BY created_at DESC, id DESC LIMIT ?",
            [*params, clamp(limit)],
        )
        return [_delivery(r) for r in found]
