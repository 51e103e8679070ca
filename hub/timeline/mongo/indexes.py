"""The indexes the MongoDB store relies on; uniqueness is enforced by them.

Only plain and sparse indexes: FerretDB v1 has no ``partialFilterExpression``,
so a conversation without an ``open_key`` simply omits the field.
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from hub.timeline.mongo.base import Doc
from hub.timeline.mongo.handoff import HANDOFF_INDEXES
from hub.timeline.mongo.quarantine import QUARANTINE_INDEXES

INDEXES: dict[str, list[IndexModel]] = {
    "customers": [
        IndexModel([("merged_into", ASCENDING)], name="merged_into"),
        IndexModel([("pending", ASCENDING)], name="pending", sparse=True),
    ],
    "identities": [
        IndexModel([("key", ASCENDING)], name="key_unique", unique=True),
        IndexModel([("customer_id", ASCENDING), ("_id", ASCENDING)], name="customer"),
        IndexModel([("origin_customer_id", ASCENDING)], name="origin"),
    ],
    "conversations": [
        IndexModel([("open_key", ASCENDING)], name="open_key_unique", unique=True, sparse=True),
        IndexModel([("customer_id", ASCENDING), ("last_activity_at", DESCENDING)], name="customer"),
        IndexModel([("last_activity_at", DESCENDING), ("_id", DESCENDING)], name="activity"),
        IndexModel([("waiting_since", ASCENDING), ("_id", ASCENDING)], name="waiting"),
        IndexModel([("origin_customer_id", ASCENDING)], name="origin"),
    ],
    "events": [
        IndexModel([("dedupe_key", ASCENDING)], name="dedupe_key_unique", unique=True),
        IndexModel([("seq", ASCENDING)], name="seq_unique", unique=True),
        IndexModel(
            [("customer_id", ASCENDING), ("after", ASCENDING)], name="chain_unique", unique=True
        ),
        IndexModel([("customer_id", ASCENDING), ("seq", ASCENDING)], name="customer_seq"),
        IndexModel([("conversation_id", ASCENDING), ("seq", ASCENDING)], name="conversation_seq"),
        IndexModel([("origin_customer_id", ASCENDING)], name="origin"),
        IndexModel([("thread_ref", ASCENDING), ("seq", DESCENDING)], name="thread_ref"),
        IndexModel(
            [("channel", ASCENDING), ("delivery.provider_id", ASCENDING)], name="provider_id"
        ),
        IndexModel(
            [("direction", ASCENDING), ("delivery.status", ASCENDING), ("seq", ASCENDING)],
            name="outbox",
        ),
        IndexModel([("terms", ASCENDING), ("seq", DESCENDING)], name="search_terms"),
    ],
    "claims": [
        IndexModel([("event_id", ASCENDING)], name="event"),
    ],
    "api_tokens": [
        IndexModel([("token_hash", ASCENDING)], name="token_hash_unique", unique=True),
    ],
    "webhook_deliveries": [
        IndexModel([("subscription", ASCENDING), ("key", ASCENDING)], name="key", unique=True),
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
        IndexModel([("created_at", DESCENDING)], name="recent"),
    ],
    "agents": [
        IndexModel([("email", ASCENDING)], name="email_unique", unique=True),
    ],
}


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    """Create every index (idempotent: existing ones with the same spec are kept).

    One ``createIndexes`` command per index: FerretDB v1.24 drops the
    connection (a server-side panic) when one command re-declares several
    existing indexes.
    """
    for collection, models in (INDEXES | HANDOFF_INDEXES | QUARANTINE_INDEXES).items():
        for model in models:
            await db[collection].create_indexes([model])
