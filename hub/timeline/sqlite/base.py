"""The connection, the unit-of-work runner and the column codecs the SQLite mixins share.

The connection lives on its own thread (:mod:`.engine`). Operations are
written as plain functions of a ``sqlite3.Connection`` and run there whole:
:meth:`SQLiteBase._unit` as a unit of work (inside ``BEGIN IMMEDIATE`` …
``COMMIT``, which also excludes writers in other processes; units queued
together share the commit), :meth:`SQLiteBase._query` as one read — one hop
each. Rarer operations may use :meth:`SQLiteBase._read` / :meth:`SQLiteBase._write`,
a session whose statements (``_one``, ``_all``, ``_exec``) each make a hop; a
session runs alone (:class:`Gate`), so nothing interleaves with its transaction.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from hub.errors import NotFound
from hub.timeline.sqlite.engine import BUSY_TIMEOUT_SECONDS, Engine, Params, Row, one, rows, run

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "Params",
    "Row",
    "SQLiteBase",
    "Session",
    "dumps",
    "from_row",
    "insert_sql",
    "parse_ts",
    "placeholders",
    "req_ts",
    "to_row",
    "ts",
]

T = TypeVar("T")


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


class Gate:
    """Units and queries run side by side; a session runs alone.

    Entering shared never waits unless a session runs or waits (the common
    path costs no ``await``).
    """

    def __init__(self) -> None:
        self._shared = 0
        self._exclusive = False
        self._waiting = 0
        self._changed: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        if self._exclusive or self._waiting:
            changed = self._condition()
            async with changed:
                await changed.wait_for(lambda: not self._exclusive and not self._waiting)
        self._shared += 1
        try:
            yield
        finally:
            self._shared -= 1
            if self._changed is not None and (self._waiting or self._exclusive):
                async with self._changed:
                    self._changed.notify_all()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        changed = self._condition()
        async with changed:
            self._waiting += 1
            try:
                await changed.wait_for(lambda: not self._exclusive and self._shared == 0)
            finally:
                self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            async with changed:
                self._exclusive = False
                changed.notify_all()


class Session:
    """A connection seen from the event loop: each statement is one hop."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        return await self.engine.call(one, sql, params)

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        return await self.engine.call(rows, sql, params)

    async def exec(self, sql: str, params: Params = ()) -> int:
        return await self.engine.call(run, sql, params)

    async def in_transaction(self) -> bool:
        return await self.engine.call(lambda conn: bool(conn.in_transaction))


class SQLiteBase:
    """Owns the engine; the mixins run their work through its helpers."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.engine = Engine(self.path)
        self._gate = Gate()

    async def _query(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on the database thread: one hop."""
        async with self._gate.shared():
            return await self.engine.call(fn, *args)

    async def _unit(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` as a unit of work on the database thread: one hop."""
        async with self._gate.shared():
            return await self.engine.unit(fn, *args)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Session]:
        """A multi-statement read that nothing interleaves with."""
        async with self._gate.exclusive():
            yield Session(self.engine)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Session]:
        """A multi-statement transaction: committed on success, else rolled back."""
        async with self._gate.exclusive():
            session = Session(self.engine)
            await session.exec("BEGIN IMMEDIATE")
            try:
                yield session
            except BaseException:
                if await session.in_transaction():
                    await session.exec("ROLLBACK")
                raise
            await session.exec("COMMIT")

    @staticmethod
    async def _one(conn: Session, sql: str, params: Params = ()) -> Row | None:
        return await conn.one(sql, params)

    @staticmethod
    async def _all(conn: Session, sql: str, params: Params = ()) -> list[Row]:
        return await conn.all(sql, params)

    @staticmethod
    async def _exec(conn: Session, sql: str, params: Params = ()) -> int:
        """Run a statement; the number of rows it changed."""
        return await conn.exec(sql, params)

    async def _customer_row(self, conn: Session, customer_id: str) -> Row:
        row = await self._one(conn, "SELECT * FROM customers WHERE id = ?", (customer_id,))
        if row is None:
            raise NotFound(f"no customer {customer_id!r}")
        return row
