"""The outbox on SQLite: outbound events claimed under a lease.

A claim selects the due events and marks them ``sending`` with a fresh lease
token in one transaction, so two claimants never get the same event.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from hub.timeline.cursors import clamp
from hub.timeline.model import DeliveryStatus, Direction, Event, utcnow
from hub.timeline.sqlite.base import SQLiteBase, ts
from hub.timeline.sqlite.events import DELIVERY_COLUMNS, event_record, event_row
from hub.timeline.store import DeliveryUpdate

DUE = """
    SELECT * FROM events
    WHERE direction = ? AND (
        (delivery_status = ? AND next_attempt_at <= ?)
        OR (delivery_status = ? AND lease_until <= ?)
    )
    ORDER BY next_attempt_at, seq
    LIMIT ?
"""


class OutboxOps(SQLiteBase):
    """Claiming and recording deliveries."""

    async def claim_outbound(
        self, *, now: datetime, lease_seconds: float, limit: int = 10
    ) -> list[Event]:
        at = ts(now)
        lease_until = ts(now + timedelta(seconds=lease_seconds))
        claimed: list[Event] = []
        async with self._write() as conn:
            rows = await self._all(
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
            for row in rows:
                row.update(
                    delivery_status=DeliveryStatus.SENDING.value,
                    delivery_attempts=(row["delivery_attempts"] or 0) + 1,
                    lease_token=secrets.token_hex(16),
                    lease_until=lease_until,
                    delivery_updated_at=at,
                )
                await self._exec(
                    conn,
                    "UPDATE events SET delivery_status = ?, delivery_attempts = ?, "
                    "lease_token = ?, lease_until = ?, delivery_updated_at = ? WHERE seq = ?",
                    (
                        row["delivery_status"],
                        row["delivery_attempts"],
                        row["lease_token"],
                        row["lease_until"],
                        row["delivery_updated_at"],
                        row["seq"],
                    ),
                )
                claimed.append(event_record(row))
        return claimed

    async def record_delivery(
        self, event_id: str, update: DeliveryUpdate, *, lease_token: str | None = None
    ) -> Event | None:
        status = DeliveryStatus(update.status)
        async with self._write() as conn:
            row = await self._one(conn, "SELECT * FROM events WHERE id = ?", (event_id,))
            if row is None:
                return None
            record = event_record(row)
            delivery = record.delivery
            if delivery is None:
                return None
            if lease_token is not None:
                if delivery.lease_token != lease_token or delivery.status is not (
                    DeliveryStatus.SENDING
                ):
                    return None
                delivery.next_attempt_at = update.next_attempt_at
                delivery.lease_token = None
                delivery.lease_until = None
            elif status.rank <= delivery.status.rank:
                return None
            delivery.status = status
            if update.provider_id is not None:
                delivery.provider_id = update.provider_id
            delivery.error = update.error
            delivery.updated_at = update.at or utcnow()
            record.meta = {**record.meta, **update.meta}
            changed = event_row(record)
            columns = [*DELIVERY_COLUMNS.values(), "meta"]
            assignments = ", ".join(f"{column} = ?" for column in columns)
            await self._exec(
                conn,
                f"UPDATE events SET {assignments} WHERE seq = ?",  # noqa: S608
                [*(changed[column] for column in columns), record.seq],
            )
            return event_record({**row, **changed})
