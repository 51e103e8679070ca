"""``SQLiteStore``: the embedded default ``TimelineStore`` on one SQLite file.

WAL journal, ``synchronous=NORMAL``; one connection on its own thread
(:mod:`.engine`), every unit of work one hop to it, units arriving together
sharing one commit.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from hub.timeline.sqlite.agents import AgentOps, UnreadOps
from hub.timeline.sqlite.conversations import ConversationOps
from hub.timeline.sqlite.customers import CustomerOps
from hub.timeline.sqlite.events import EventOps
from hub.timeline.sqlite.handoff import HandoffOps
from hub.timeline.sqlite.moves import MoveOps
from hub.timeline.sqlite.outbox import OutboxOps
from hub.timeline.sqlite.quarantine import QuarantineOps
from hub.timeline.sqlite.records import RecordOps
from hub.timeline.sqlite.schema import create_schema
from hub.timeline.sqlite.search import SearchOps
from hub.timeline.sqlite.units import UnitOps
from hub.timeline.sqlite.webhooks import WebhookOps

log = logging.getLogger(__name__)


class SQLiteStore(
    UnitOps,
    CustomerOps,
    ConversationOps,
    EventOps,
    OutboxOps,
    RecordOps,
    AgentOps,
    UnreadOps,
    HandoffOps,
    QuarantineOps,
    MoveOps,
    SearchOps,
    WebhookOps,
):
    """The timeline in one SQLite file at ``path`` (created with its directory).

    ``open()`` connects, creates or upgrades the schema and finishes any merge
    or unmerge a crash left half-way.
    """

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)

    async def open(self) -> None:
        """Connect, create or upgrade the schema and resume pending merges (idempotent)."""
        async with self._gate.exclusive():
            if not self.engine.is_open:
                await self.engine.open()
            try:
                await self.engine.call(create_schema)
            except BaseException:
                await self.engine.close()
                raise
        await self._resume_pending()

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        async with self._gate.exclusive():
            await self.engine.close()

    async def health(self) -> dict[str, Any]:
        """``{"store": "sqlite", "ok": …, "path": …}`` from a committed write (a heartbeat
        row), so a read-only file or a full disk is not healthy."""
        try:
            await self.set_checkpoint("hub", "health", {})
        except (sqlite3.Error, RuntimeError) as exc:
            log.warning("sqlite health check failed: %s", exc)
            return {"store": "sqlite", "ok": False, "path": str(self.path)}
        return {"store": "sqlite", "ok": True, "path": str(self.path)}
