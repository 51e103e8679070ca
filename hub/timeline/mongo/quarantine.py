"""Quarantined inbound messages on MongoDB (see :mod:`hub.timeline.quarantine`).

``quarantine`` is unique on ``dedupe_key`` (channel + message key): the first
insert wins, a later one counts an attempt on it.
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from hub.errors import NotFound
from hub.timeline.codec import aware
from hub.timeline.cursors import clamp
from hub.timeline.model import utcnow
from hub.timeline.mongo.base import Doc, MongoBase
from hub.timeline.quarantine import QuarantinedMessage, QuarantineStatus

QUARANTINE_INDEXES: dict[str, list[IndexModel]] = {
    "quarantine": [
        IndexModel([("dedupe_key", ASCENDING)], name="dedupe_key_unique", unique=True),
        IndexModel([("status", ASCENDING), ("created_at", DESCENDING)], name="status"),
    ],
}


def quarantine_record(doc: Doc) -> QuarantinedMessage:
    """A stored quarantine document as the model record."""
    return QuarantinedMessage(
        id=doc["_id"],
        channel=doc["channel"],
        key=doc["key"],
        reason=doc["reason"],
        raw_blob=doc["raw_blob"],
        size=int(doc["size"]),
        source=dict(doc.get("source") or {}),
        summary=doc.get("summary"),
        status=QuarantineStatus(doc["status"]),
        attempts=int(doc["attempts"]),
        event_id=doc.get("event_id"),
        created_at=aware(doc["created_at"]) or utcnow(),
        updated_at=aware(doc["updated_at"]) or utcnow(),
    )


class QuarantineOps(MongoBase):
    """Quarantined inbound messages, one per channel and message key."""

    @property
    def quarantined(self) -> AsyncCollection[Doc]:
        return self.db["quarantine"]

    async def quarantine(self, record: QuarantinedMessage) -> tuple[QuarantinedMessage, bool]:
        doc: Doc = {
            "_id": record.id,
            "dedupe_key": record.dedupe_key,
            "channel": record.channel,
            "key": record.key,
            "reason": record.reason,
            "raw_blob": record.raw_blob,
            "size": record.size,
            "source": record.source,
            "summary": record.summary,
            "status": record.status.value,
            "attempts": record.attempts,
            "event_id": record.event_id,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
        }
        try:
            await self.quarantined.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.quarantined.find_one_and_update(
                {"dedupe_key": record.dedupe_key},
                {
                    "$inc": {"attempts": 1},
                    "$set": {
                        "reason": record.reason,
                        "status": QuarantineStatus.PENDING.value,
                        "updated_at": utcnow(),
                    },
                },
                return_document=ReturnDocument.AFTER,
            )
            if existing is None:  # pragma: no cover - deleted in between
                raise
            return quarantine_record(existing), False
        return quarantine_record(doc), True

    async def get_quarantined(self, record_id: str) -> QuarantinedMessage:
        doc = await self.quarantined.find_one({"_id": record_id})
        if doc is None:
            raise NotFound(f"no quarantined message {record_id!r}")
        return quarantine_record(doc)

    async def list_quarantined(
        self,
        *,
        channel: str | None = None,
        status: QuarantineStatus | None = QuarantineStatus.PENDING,
        limit: int = 100,
    ) -> list[QuarantinedMessage]:
        query: Doc = {}
        if channel is not None:
            query["channel"] = channel
        if status is not None:
            query["status"] = QuarantineStatus(status).value
        found = (
            self.quarantined.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(clamp(limit))
        )
        return [quarantine_record(doc) async for doc in found]

    async def settle_quarantined(
        self,
        record_id: str,
        *,
        released: bool,
        event_id: str | None = None,
        reason: str | None = None,
    ) -> QuarantinedMessage:
        update: Doc
        if released:
            status = QuarantineStatus.RELEASED.value
            update = {"$set": {"status": status, "event_id": event_id, "updated_at": utcnow()}}
        else:
            changes: Doc = {"updated_at": utcnow()}
            if reason is not None:
                changes["reason"] = reason
            update = {"$inc": {"attempts": 1}, "$set": changes}
        doc = await self.quarantined.find_one_and_update(
            {"_id": record_id}, update, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            raise NotFound(f"no quarantined message {record_id!r}")
        return quarantine_record(doc)
