"""``SQLiteStore``: the embedded default ``TimelineStore`` on one SQLite file.

WAL journal, ``synchronous=NORMAL``; one connection (aiosqlite) shared by the
process's coroutines, with every write in an explicit transaction.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite

from hub.timeline.sqlite.agents import AgentOps
from hub.timeline.sqlite.base import BUSY_TIMEOUT_SECONDS
from hub.timeline.sqlite.conversations import ConversationOps
from hub.timeline.sqlite.customers import CustomerOps
from hub.timeline.sqlite.events import EventOps
from hub.timeline.sqlite.handoff import HandoffOps
from hub.timeline.sqlite.outbox import OutboxOps
from hub.timeline.sqlite.records import RecordOps
from hub.timeline.sqlite.schema import create_schema

log = logging.getLogger(__name__)

MEMORY = ":memory:"


class SQLiteStore(
    CustomerOps, ConversationOps, EventOps, OutboxOps, RecordOps, AgentOps, HandoffOps
):
    """The timeline in one SQLite file at ``path`` (created with its directory).

    ``open()`` connects, creates the schema and finishes any merge or unmerge a
    crash left half-way.
    """

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)

    async def open(self) -> None:
        """Connect, create the schema and resume pending merges (idempotent)."""
        async with self._lock:
            if self._conn is None:
                self._conn = await self._connect()
            await create_schema(self._conn)
        await self._resume_pending()

    async def _connect(self) -> aiosqlite.Connection:
        if str(self.path) != MEMORY:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(
            self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
        )
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            await conn.close()
            raise
        return conn

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        async with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def health(self) -> dict[str, Any]:
        """``{"store": "sqlite", "ok": …, "path": …}`` from a trivial query."""
        try:
            async with self._read() as conn:
                await self._one(conn, "SELECT 1")
        except (sqlite3.Error, RuntimeError) as exc:
            log.warning("sqlite health check failed: %s", exc)
            return {"store": "sqlite", "ok": False, "path": str(self.path)}
        return {"store": "sqlite", "ok": True, "path": str(self.path)}
