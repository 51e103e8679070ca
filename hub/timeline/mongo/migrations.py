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
from datetime import datetime, timedelta

from pymongo import DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from hub.errors import ConfigError
from hub.timeline.model import utcnow
from hub.timeline.mongo.base import Doc
from hub.timeline.search import SEARCHABLE, terms

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


async def _chain_and_summaries(db: AsyncDatabase[Doc]) -> None:
    """0.1.0 → units of work: events get ``after`` (their own negative ``seq``, so the
    chain index holds), unset summary times become absent, conversations learn the
    channel the customer is on, expected replies move next to identities, and
    identities say whether their customer has a name."""
    events, conversations = db["events"], db["conversations"]
    batch: list[UpdateOne] = []
    async for doc in events.find({"after": {"$exists": False}}, {"seq": 1}):
        batch.append(UpdateOne({"_id": doc["_id"]}, {"$set": {"after": -int(doc["seq"])}}))
        if len(batch) >= 500:
            await events.bulk_write(batch, ordered=False)
            batch = []
    if batch:
        await events.bulk_write(batch, ordered=False)
    for field in ("waiting_since", "first_response_at"):
        await conversations.update_many({field: None}, {"$unset": {field: ""}})
    async for conv in conversations.find({"customer_channel": {"$exists": False}}, {"_id": 1}):
        latest = await events.find_one(
            {
                "conversation_id": conv["_id"],
                "$or": [
                    {"kind": "handoff"},
                    {"direction": "in", "kind": {"$in": ["message", "call", "voicemail"]}},
                ],
            },
            sort=[("seq", DESCENDING)],
        )
        channel = None
        if latest is not None:
            to = (latest.get("meta") or {}).get("to")
            channel = to if latest["kind"] == "handoff" else latest["channel"]
        await conversations.update_one(
            {"_id": conv["_id"]}, {"$set": {"customer_channel": channel}}
        )
    async for cp in db["checkpoints"].find({"connector": "handoff"}):
        key = str(cp.get("key", ""))
        if not key.startswith("expect:"):
            continue
        value = cp.get("value") or {}
        until = datetime.fromisoformat(str(value.get("until")))
        await db["identities"].replace_one(
            {"key": f"~{key}"},
            {
                "key": f"~{key}",
                "expects": {
                    "customer_id": value.get("customer_id"),
                    "conversation_id": value.get("conversation_id"),
                    "until": until,
                    "purpose": "text_me",
                },
            },
            upsert=True,
        )
        await db["checkpoints"].delete_one({"_id": cp["_id"]})
    async for customer in db["customers"].find({"name": {"$ne": None}}, {"_id": 1}):
        await db["identities"].update_many(
            {"customer_id": customer["_id"]}, {"$set": {"named": True}}
        )


async def _search_terms(db: AsyncDatabase[Doc]) -> None:
    """Search: events stored before it get their ``terms`` (see :mod:`hub.timeline.search`)."""
    events = db["events"]
    kinds = [k.value for k in SEARCHABLE]
    batch: list[UpdateOne] = []
    query: Doc = {"terms": {"$exists": False}, "kind": {"$in": kinds}}
    async for doc in events.find(query, {"text": 1, "subject": 1}):
        found = list(dict.fromkeys(terms(doc.get("text")) + terms(doc.get("subject"))))
        if not found:
            continue
        batch.append(UpdateOne({"_id": doc["_id"]}, {"$set": {"terms": found}}))
        if len(batch) >= 500:
            await events.bulk_write(batch, ordered=False)
            batch = []
    if batch:
        await events.bulk_write(batch, ordered=False)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0002-units-of-work",
        "events chained per customer; summaries for one-command folds; expected replies",
        _chain_and_summaries,
    ),
    Migration("0003-search-terms", "events get their search terms", _search_terms),
)
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
