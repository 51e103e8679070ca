"""``MongoStore``: the production ``TimelineStore`` on MongoDB 6-8 or FerretDB.

Single-document atomic operations, unique indexes and find-and-modify only: no
multi-document transactions, no ``$lookup``, no pipeline-style updates, no
partial indexes (FerretDB v1 lacks the last two).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pymongo import monitoring
from pymongo.errors import PyMongoError

from hub.timeline.mongo.agents import AgentOps
from hub.timeline.mongo.indexes import ensure_indexes
from hub.timeline.mongo.migrations import run_migrations
from hub.timeline.mongo.moves import MoveOps
from hub.timeline.mongo.outbox import OutboxOps
from hub.timeline.mongo.quarantine import QuarantineOps
from hub.timeline.mongo.records import RecordOps
from hub.timeline.mongo.search import SearchOps
from hub.timeline.mongo.units import UnitOps
from hub.timeline.mongo.webhooks import WebhookOps

log = logging.getLogger(__name__)


class MongoStore(
    UnitOps, MoveOps, OutboxOps, RecordOps, AgentOps, QuarantineOps, SearchOps, WebhookOps
):
    """The timeline on MongoDB.

    ``database`` defaults to the database named in the URI's path, else
    ``"omnihub"``. ``event_listeners`` are PyMongo monitoring listeners (benchmarks count
    commands with one). ``server_selection_timeout`` (seconds) bounds how long a command
    waits for a reachable server, unless the URI sets ``serverSelectionTimeoutMS``.
    ``open()`` connects, upgrades the database (:mod:`.migrations`), creates the
    indexes and finishes any merge or unmerge a crash left half-way.
    """

    def __init__(
        self,
        uri: str,
        database: str | None = None,
        *,
        event_listeners: Sequence[monitoring.CommandListener] = (),
        server_selection_timeout: float = 5.0,
    ) -> None:
        super().__init__(
            uri,
            database,
            event_listeners=event_listeners,
            server_selection_timeout=server_selection_timeout,
        )

    async def open(self) -> None:
        """Connect, run pending migrations, ensure indexes and resume pending merges
        (idempotent)."""
        self._connect()
        await run_migrations(self.db)
        await ensure_indexes(self.db)
        await self._resume_pending()

    async def close(self) -> None:
        """Close the client; safe to call twice."""
        await self._disconnect()

    async def health(self) -> dict[str, Any]:
        """``{"store": "mongodb", "ok": …, "database": …}`` from a ping."""
        try:
            await self._ping()
        except (PyMongoError, RuntimeError) as exc:
            log.warning("mongodb health check failed: %s", exc)
            return {"store": "mongodb", "ok": False, "database": self.database_name}
        return {"store": "mongodb", "ok": True, "database": self.database_name}

    async def drop_database(self) -> None:
        """Drop this store's database (tests use a throwaway one each).

        Works on a closed store too (an app's lifespan may have closed it).
        """
        if self._client is not None:
            await self._client.drop_database(self.database_name)
            return
        self._connect()
        try:
            await self.db.client.drop_database(self.database_name)
        finally:
            await self._disconnect()
