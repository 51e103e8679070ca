"""The outbox on SQLite: outbound events claimed under a lease, and delivery statuses.

A claim selects the due events and marks them ``sending`` with a fresh lease
token in one transaction, so two claimants never get the same event; a claim
whose lease ran out after the last allowed attempt is failed instead of sent
again. A provider's status for a message whose provider id is not recorded yet
(the callback beat the send's answer) is kept in ``early_statuses`` and applied
in the same transaction that records the id.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from hub.timeline.cursors import clamp
from hub.timeline.model import DeliveryStatus, Direction, Event, utcnow
from hub.timeline.sqlite.base import SQLiteBase, dumps, parse_ts, ts
from hub.timeline.sqlite.engine import one, rows, run
from hub.timeline.sqlite.events import DELIVERY_COLUMNS, event_record, event_row
from hub.timeline.store import DeliveryUpdate

EARLY_TTL = timedelta(days=2)
OUTBOX_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS early_statuses (
        channel TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        meta TEXT NOT NULL DEFAULT '{}',
        at TEXT NOT NULL,
        PRIMARY KEY (channel, provider_id)
    )
    """,
)

DUE = """
    SELECT * FROM events
    WHERE direction = ? AND (
        (delivery_status = ? AND next_attempt_at <= ?)
        OR (delivery_status = ? AND lease_until <= ?)
    )
    ORDER BY next_attempt_at, seq
    LIMIT ?
"""
_CLAIM = (
    "UPDATE events SET delivery_status = ?, delivery_attempts = ?, lease_token = ?, "
    "lease_until = ?, delivery_updated_at = ?, delivery_error = ? WHERE seq = ?"
)


def _claim(
    conn: sqlite3.Connection,
    now: datetime,
    lease_seconds: float,
    limit: int,
    max_attempts: int | None,
) -> list[Event]:
    at = ts(now)
    lease_until = ts(now + timedelta(seconds=lease_seconds))
    due = rows(
        conn,
        DUE,
        (
            Direction.OUT.value,
            DeliveryStatus.QUEUED.value,
            at,
            DeliveryStatus.SENDING.value,
            at,
            clamp(limit),
        ),
    )
    claimed: list[Event] = []
    for row in due:
        attempts = row["delivery_attempts"] or 0
        stalled = row["delivery_status"] == DeliveryStatus.SENDING.value
        if stalled and max_attempts is not None and attempts >= max_attempts:
            row.update(
                delivery_status=DeliveryStatus.FAILED.value,
                delivery_error=(
                    f"gave up after {attempts} attempts: the last one never finished "
                    "(its lease ran out)"
                ),
                lease_token=None,
                lease_until=None,
            )
        else:
            row.update(
                delivery_status=DeliveryStatus.SENDING.value,
                delivery_attempts=attempts + 1,
                lease_token=secrets.token_hex(16),
                lease_until=lease_until,
            )
        row["delivery_updated_at"] = at
        run(
            conn,
            _CLAIM,
            (
                row["delivery_status"],
                row["delivery_attempts"],
                row["lease_token"],
                row["lease_until"],
                row["delivery_updated_at"],
                row["delivery_error"],
                row["seq"],
            ),
        )
        claimed.append(event_record(row))
    return claimed


def _save(conn: sqlite3.Connection, row: dict[str, Any], record: Event) -> Event:
    changed = event_row(record)
    columns = [*DELIVERY_COLUMNS.values(), "meta"]
    assignments = ", ".join(f"{column} = ?" for column in columns)
    run(
        conn,
        f"UPDATE events SET {assignments} WHERE seq = ?",  # noqa: S608
        [*(changed[column] for column in columns), record.seq],
    )
    return event_record({**row, **changed})


def _change(record: Event, update: DeliveryUpdate) -> None:
    delivery = record.delivery
    assert delivery is not None
    delivery.status = DeliveryStatus(update.status)
    if update.provider_id is not None:
        delivery.provider_id = update.provider_id
    delivery.error = update.error
    delivery.updated_at = update.at or utcnow()
    record.meta = {**record.meta, **update.meta}


def _early(conn: sqlite3.Connection, record: Event) -> Event:
    """Apply a status that arrived before ``record``'s provider id was known."""
    delivery = record.delivery
    if delivery is None or delivery.provider_id is None:
        return record
    key = (record.channel, delivery.provider_id)
    found = one(conn, "SELECT * FROM early_statuses WHERE channel = ? AND provider_id = ?", key)
    if found is None:
        return record
    run(conn, "DELETE FROM early_statuses WHERE channel = ? AND provider_id = ?", key)
    status = DeliveryStatus(found["status"])
    if status.rank > delivery.status.rank:
        _change(
            record,
            DeliveryUpdate(
                status,
                error=found["error"],
                at=parse_ts(found["at"]),
                meta=json.loads(found["meta"]),
            ),
        )
    return record


def _record(
    conn: sqlite3.Connection, event_id: str, update: DeliveryUpdate, lease_token: str | None
) -> Event | None:
    row = one(conn, "SELECT * FROM events WHERE id = ?", (event_id,))
    if row is None:
        return None
    record = event_record(row)
    delivery = record.delivery
    if delivery is None:
        return None
    status = DeliveryStatus(update.status)
    held = (
        lease_token is not None
        and delivery.lease_token == lease_token
        and delivery.status is DeliveryStatus.SENDING
    )
    if held:
        delivery.next_attempt_at = update.next_attempt_at
    elif lease_token is not None:
        # The lease ran out while the send was in flight. What the provider answered
        # is still true if nobody has recorded an outcome since; a retry is the new
        # holder's to decide.
        if not status.final or delivery.status.final:
            return None
    elif status.rank <= delivery.status.rank:
        return None
    if lease_token is not None:
        delivery.lease_token = None
        delivery.lease_until = None
    _change(record, update)
    return _save(conn, row, _early(conn, record))


def _status(
    conn: sqlite3.Connection, channel: str, provider_id: str, update: DeliveryUpdate
) -> Event | None:
    row = one(
        conn,
        "SELECT * FROM events WHERE channel = ? AND provider_id = ? ORDER BY seq DESC LIMIT 1",
        (channel, provider_id),
    )
    status = DeliveryStatus(update.status)
    if row is None:
        now = utcnow()
        run(conn, "DELETE FROM early_statuses WHERE at < ?", (ts(now - EARLY_TTL),))
        run(
            conn,
            "INSERT INTO early_statuses (channel, provider_id, status, error, meta, at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, provider_id) DO UPDATE SET "
            "status = excluded.status, error = excluded.error, meta = excluded.meta, "
            "at = excluded.at WHERE ? > CASE early_statuses.status "
            + " ".join(f"WHEN '{s.value}' THEN {s.rank}" for s in DeliveryStatus)
            + " END",
            (
                channel,
                provider_id,
                status.value,
                update.error,
                dumps(update.meta),
                ts(update.at or now),
                status.rank,
            ),
        )
        return None
    record = event_record(row)
    if record.delivery is None or status.rank <= record.delivery.status.rank:
        return None
    _change(record, update)
    return _save(conn, row, record)


def _renew(conn: sqlite3.Connection, event_id: str, lease_token: str, until: datetime) -> bool:
    return (
        run(
            conn,
            "UPDATE events SET lease_until = ? WHERE id = ? AND lease_token = ? "
            "AND delivery_status = ?",
            (ts(until), event_id, lease_token, DeliveryStatus.SENDING.value),
        )
        == 1
    )


def _backlog(conn: sqlite3.Connection) -> tuple[int, datetime | None]:
    found = one(
        conn,
        "SELECT COUNT(*) AS n, MIN(received_at) AS oldest FROM events "
        "WHERE delivery_status IN (?, ?)",
        (DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value),
    )
    if found is None or not found["n"]:
        return 0, None
    return int(found["n"]), parse_ts(found["oldest"])


class OutboxOps(SQLiteBase):
    """Claiming and recording deliveries."""

    async def outbox_backlog(self) -> tuple[int, datetime | None]:
        return await self._query(_backlog)

    async def claim_outbound(
        self,
        *,
        now: datetime,
        lease_seconds: float,
        limit: int = 10,
        max_attempts: int | None = None,
    ) -> list[Event]:
        return await self._unit(_claim, now, lease_seconds, limit, max_attempts)

    async def renew_lease(self, event_id: str, lease_token: str, *, until: datetime) -> bool:
        return await self._unit(_renew, event_id, lease_token, until)

    async def record_delivery(
        self, event_id: str, update: DeliveryUpdate, *, lease_token: str | None = None
    ) -> Event | None:
        return await self._unit(_record, event_id, update, lease_token)

    async def report_status(
        self, channel: str, provider_id: str, update: DeliveryUpdate
    ) -> Event | None:
        return await self._unit(_status, channel, provider_id, update)
