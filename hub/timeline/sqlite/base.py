"""The connection, the write lock and the column codecs the SQLite mixins share.

aiosqlite runs one connection on one thread and every coroutine shares it, so
one ``asyncio.Lock`` serialises the store's operations: a write holds it across
an explicit ``BEGIN IMMEDIATE`` … ``COMMIT`` (which also excludes writers in
other processes), a multi-statement read holds it so it never sees another
coroutine's half-done transaction.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from hub.errors import NotFound

Row = dict[str, Any]
Params = Sequence[Any]

BUSY_TIMEOUT_SECONDS = 10.0


def ts(value: datetime | None) -> str | None:
    """A time as stored: ISO-8601 UTC with microseconds (naive times are taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_ts(value: str | None) -> datetime | None:
    """A stored time back as a timezone-aware UTC ``datetime``."""
    return None if value is None else datetime.fromisoformat(value)


def req_ts(value: str) -> datetime:
    """A stored time from a ``NOT NULL`` column."""
    return datetime.fromisoformat(value)


def dumps(value: Any) -> str:
    """A list or dict as stored JSON text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def to_row(doc: Row, times: Iterable[str] = (), jsons: Iterable[str] = ()) -> Row:
    """A codec document as column values: times to text, lists and dicts to JSON."""
    row = dict(doc)
    for name in times:
        row[name] = ts(row[name])
    for name in jsons:
        row[name] = dumps(row[name])
    return row


def from_row(row: Row, times: Iterable[str] = (), jsons: Iterable[str] = ()) -> Row:
    """Column values as a codec document (the inverse of :func:`to_row`)."""
    doc = dict(row)
    for name in times:
        doc[name] = parse_ts(doc[name])
    for name in jsons:
        doc[name] = json.loads(doc[name])
    return doc


def insert_sql(table: str, row: Row, *, conflict: str = "") -> tuple[str, list[Any]]:
    """An ``INSERT`` of ``row`` into ``table`` (column names come from our own code)."""
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks}) {conflict}"  # noqa: S608
    return sql, list(row.values())


def placeholders(count: int) -> str:
    """``?, ?, …`` for an ``IN (…)`` list."""
    return ", ".join("?" for _ in range(count))


class SQLiteBase:
    """Owns the connection; the mixins run statements through its helpers."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("SQLiteStore is not open; call open() first")
        return self._conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        """Hold the lock for a multi-statement read."""
        async with self._lock:
            yield self.conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """Hold the lock inside one transaction: committed on success, else rolled back."""
        async with self._lock:
            conn = self.conn
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    @staticmethod
    async def _one(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> Row | None:
        async with conn.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return None if row is None else dict(row)

    @staticmethod
    async def _all(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> list[Row]:
        async with conn.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        return [dict(row) for row in rows]

    @staticmethod
    async def _exec(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> int:
        """Run a statement; the number of rows it changed."""
        async with conn.execute(sql, params) as cursor:
            return cursor.rowcount

    async def _customer_row(self, conn: aiosqlite.Connection, customer_id: str) -> Row:
        row = await self._one(conn, "SELECT * FROM customers WHERE id = ?", (customer_id,))
        if row is None:
            raise NotFound(f"no customer {customer_id!r}")
        return row
