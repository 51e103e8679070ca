"""Document-shape and index upgrades of the MongoDB store, recorded in ``migrations``.

Indexes are declared in :mod:`.indexes` and created idempotently at every
start. What idempotent creation cannot do — reshape stored documents, replace
an index whose definition changed — is a :class:`Migration`: an id and an
async step, run once per database and recorded as a document in the
``migrations`` collection (``{_id, summary, state, started_at, finished_at}``).

Several hub instances may start at once: the one whose insert of the record
wins runs the step, the others wait for it to finish. A record left
``running`` by a crashed instance is taken over after :data:`STALE_SECONDS`;
steps must therefore be safe to re-run. A database recording a step this
release does not know comes from a newer release and is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from hub.errors import ConfigError
from hub.timeline.model import utcnow
from hub.timeline.mongo.base import Doc

__all__ = ["MIGRATIONS", "Migration", "run_migrations"]

STALE_SECONDS = 600.0
_POLL_SECONDS = 0.2

Step = Callable[[AsyncDatabase[Doc]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Migration:
    """One upgrade step, identified by ``id`` (``"0002-…"``: they run in list order)."""

    id: str
    summary: str
    step: Step


MIGRATIONS: tuple[Migration, ...] = ()
"""Every upgrade step, in order. Release 0.1.0 recorded none."""


async def run_migrations(
    db: AsyncDatabase[Doc],
    migrations: tuple[Migration, ...] = MIGRATIONS,
    *,
    stale_seconds: float = STALE_SECONDS,
) -> list[str]:
    """Run every step ``db`` has not recorded, in order; the ids this call ran."""
    records = db["migrations"]
    known = {m.id for m in migrations}
    newer = [doc["_id"] async for doc in records.find({"_id": {"$nin": sorted(known)}})]
    if newer:
        raise ConfigError(
            f"the database records migrations {sorted(newer)} from a newer release of "
            "Omnihub; upgrade Omnihub or use another database"
        )
    ran: list[str] = []
    for migration in migrations:
        if await _claim(db, migration, stale_seconds):
            await migration.step(db)
            await records.update_one(
                {"_id": migration.id},
                {"$set": {"state": "done", "finished_at": utcnow()}},
            )
            ran.append(migration.id)
    return ran


async def _claim(db: AsyncDatabase[Doc], migration: Migration, stale_seconds: float) -> bool:
    """True when this caller must run ``migration``; waits while another instance runs it."""
    records = db["migrations"]
    while True:
        now = utcnow()
        try:
            await records.insert_one(
                {
                    "_id": migration.id,
                    "summary": migration.summary,
                    "state": "running",
                    "started_at": now,
                }
            )
            return True
        except DuplicateKeyError:
            pass
        record = await records.find_one({"_id": migration.id})
        if record is None:
            continue
        if record.get("state") == "done":
            return False
        stale = now - timedelta(seconds=stale_seconds)
        taken = await records.find_one_and_update(
            {"_id": migration.id, "state": "running", "started_at": {"$lt": stale}},
            {"$set": {"started_at": now}},
        )
        if taken is not None:
            return True
        await asyncio.sleep(_POLL_SECONDS)
