"""The outbox on MongoDB: outbound events claimed under a lease.

A claim is first an insert into ``claims`` keyed ``<event>:<attempt>:<generation>``
(the unique ``_id`` admits exactly one winner), then a find-and-modify of the
event whose filter repeats the full "due" condition. The find-and-modify alone
is exclusive on MongoDB, but FerretDB v1 (SQLite handler) applies it as
read-then-write, so two claimants could both "win"; the insert cannot. Every delivery carries
a numeric ``delivery.rank`` so "only forward" is a single filter too.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from hub.timeline.codec import aware, event_from_doc
from hub.timeline.cursors import clamp
from hub.timeline.model import DeliveryStatus, Direction, Event, utcnow
from hub.timeline.mongo.base import Doc, MongoBase, merge_paths, with_id
from hub.timeline.store import DeliveryUpdate


def due(now: datetime) -> Doc:
    """Outbound events to claim: queued and due, or sending with an expired lease."""
    return {
        "direction": Direction.OUT.value,
        "$or": [
            {
                "delivery.status": DeliveryStatus.QUEUED.value,
                "delivery.next_attempt_at": {"$lte": now},
            },
            {
                "delivery.status": DeliveryStatus.SENDING.value,
                "delivery.lease_until": {"$lte": now},
            },
        ],
    }


class OutboxOps(MongoBase):
    """Claiming and recording deliveries."""

    async def claim_outbound(
        self, *, now: datetime, lease_seconds: float, limit: int = 10
    ) -> list[Event]:
        condition = due(now)
        found = self.event_docs.find(condition, {"_id": 1, "delivery": 1}).sort("seq", ASCENDING)
        candidates = [doc async for doc in found.limit(clamp(limit))]
        lease_until = now + timedelta(seconds=lease_seconds)
        claimed: list[Event] = []
        for candidate in candidates:
            event_id = candidate["_id"]
            attempt = int(candidate["delivery"].get("attempts") or 0) + 1
            token = secrets.token_hex(16)
            if not await self._win_claim(event_id, attempt, token, now, lease_until):
                continue  # another claimant holds this attempt
            doc = await self.event_docs.find_one_and_update(
                {"_id": event_id, "delivery.attempts": attempt - 1, **condition},
                {
                    "$set": {
                        "delivery.status": DeliveryStatus.SENDING.value,
                        "delivery.rank": DeliveryStatus.SENDING.rank,
                        "delivery.attempts": attempt,
                        "delivery.lease_token": token,
                        "delivery.lease_until": lease_until,
                        "delivery.updated_at": now,
                    },
                },
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                claimed.append(event_from_doc(with_id(doc)))
        return claimed

    async def _win_claim(
        self, event_id: str, attempt: int, token: str, now: datetime, lease_until: datetime
    ) -> bool:
        """Insert the claim for ``attempt``; the unique ``_id`` admits one winner.

        A claim whose lease ran out without the event moving on belongs to a
        claimant that died between its two writes: the next generation replaces it.
        """
        generation = 0
        while True:
            try:
                await self.claims.insert_one(
                    {
                        "_id": f"{event_id}:{attempt}:{generation}",
                        "event_id": event_id,
                        "lease_token": token,
                        "lease_until": lease_until,
                        "claimed_at": now,
                    }
                )
            except DuplicateKeyError:
                held = await self.claims.find_one({"_id": f"{event_id}:{attempt}:{generation}"})
                expires = aware(held["lease_until"]) if held is not None else None
                if expires is None or expires > now:
                    return False
                generation += 1
                continue
            return True

    async def record_delivery(
        self, event_id: str, update: DeliveryUpdate, *, lease_token: str | None = None
    ) -> Event | None:
        status = DeliveryStatus(update.status)
        changes: Doc = {
            "delivery.status": status.value,
            "delivery.rank": status.rank,
            "delivery.error": update.error,
            "delivery.updated_at": update.at or utcnow(),
        }
        if update.provider_id is not None:
            changes["delivery.provider_id"] = update.provider_id
        paths, awkward = merge_paths("meta", update.meta)
        changes.update(paths)
        query: Doc = {"_id": event_id}
        if lease_token is not None:
            query["delivery.lease_token"] = lease_token
            query["delivery.status"] = DeliveryStatus.SENDING.value
            changes["delivery.next_attempt_at"] = update.next_attempt_at
            changes["delivery.lease_until"] = None
            changes["delivery.lease_token"] = None
        else:
            query["delivery.rank"] = {"$lt": status.rank}
        doc = await self.event_docs.find_one_and_update(
            query, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            return None
        if lease_token is not None and status.final:
            await self.claims.delete_many({"event_id": event_id})
        if awkward:
            # Meta keys an update path cannot address ("a.b", "$x"): merge client-side.
            doc = await self.event_docs.find_one_and_update(
                {"_id": event_id},
                {"$set": {"meta": {**(doc.get("meta") or {}), **awkward}}},
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                return None
        return event_from_doc(with_id(doc))
