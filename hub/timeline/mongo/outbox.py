"""The outbox on MongoDB: outbound events claimed under a lease, and delivery statuses.

A claim is first an insert into ``claims`` keyed ``<event>:<attempt>:<generation>``
(the unique ``_id`` admits exactly one winner), then a find-and-modify of the
event whose filter repeats the full "due" condition. The find-and-modify alone
is exclusive on MongoDB, but FerretDB v1 (SQLite handler) applies it as
read-then-write, so two claimants could both "win"; the insert cannot. Every delivery carries
a numeric ``delivery.rank`` so "only forward" is a single filter too. A claim whose
lease ran out after the last allowed attempt fails the delivery instead.

A provider's status for a message whose provider id is not recorded yet (the
callback beat the send's answer) is kept in ``early_statuses``; whoever writes
second — the callback or the outbox recording the id — applies it, since each
writes first and then looks for the other.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

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


EARLY_TTL = timedelta(days=2)


def early_id(channel: str, provider_id: str) -> str:
    return f"{channel}\x1f{provider_id}"


class OutboxOps(MongoBase):
    """Claiming and recording deliveries."""

    async def outbox_backlog(self) -> tuple[int, datetime | None]:
        waiting = {
            "delivery.status": {"$in": [DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value]}
        }
        count = await self.event_docs.count_documents(waiting)
        if not count:
            return 0, None
        oldest = await self.event_docs.find_one(
            waiting, {"received_at": 1}, sort=[("received_at", ASCENDING)]
        )
        return count, aware(oldest["received_at"]) if oldest is not None else None

    async def claim_outbound(
        self,
        *,
        now: datetime,
        lease_seconds: float,
        limit: int = 10,
        max_attempts: int | None = None,
    ) -> list[Event]:
        condition = due(now)
        found = self.event_docs.find(condition, {"_id": 1, "delivery": 1}).sort("seq", ASCENDING)
        candidates = [doc async for doc in found.limit(clamp(limit))]
        lease_until = now + timedelta(seconds=lease_seconds)
        claimed: list[Event] = []
        for candidate in candidates:
            event_id = candidate["_id"]
            attempts = int(candidate["delivery"].get("attempts") or 0)
            stalled = candidate["delivery"].get("status") == DeliveryStatus.SENDING.value
            if stalled and max_attempts is not None and attempts >= max_attempts:
                failed = await self._give_up(event_id, attempts, now, condition)
                if failed is not None:
                    claimed.append(failed)
                continue
            attempt = attempts + 1
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

    async def _give_up(
        self, event_id: str, attempts: int, now: datetime, condition: Doc
    ) -> Event | None:
        doc = await self.event_docs.find_one_and_update(
            {"_id": event_id, "delivery.attempts": attempts, **condition},
            {
                "$set": {
                    "delivery.status": DeliveryStatus.FAILED.value,
                    "delivery.rank": DeliveryStatus.FAILED.rank,
                    "delivery.error": (
                        f"gave up after {attempts} attempts: the last one never finished "
                        "(its lease ran out)"
                    ),
                    "delivery.lease_token": None,
                    "delivery.lease_until": None,
                    "delivery.updated_at": now,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        await self.claims.delete_many({"event_id": event_id})
        return event_from_doc(with_id(doc))

    async def renew_lease(self, event_id: str, lease_token: str, *, until: datetime) -> bool:
        renewed = await self.event_docs.update_one(
            {
                "_id": event_id,
                "delivery.lease_token": lease_token,
                "delivery.status": DeliveryStatus.SENDING.value,
            },
            {"$set": {"delivery.lease_until": until}},
        )
        if renewed.matched_count:
            await self.claims.update_many(
                {"event_id": event_id, "lease_token": lease_token}, {"$set": {"lease_until": until}}
            )
        return renewed.matched_count == 1

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
        changes = self._changes(update)
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
        if doc is None and lease_token is not None and status.final:
            # The lease ran out while the send was in flight: what the provider answered
            # is still true if nobody has recorded an outcome since.
            changes.pop("delivery.next_attempt_at")
            doc = await self.event_docs.find_one_and_update(
                {
                    "_id": event_id,
                    "delivery.status": {
                        "$in": [DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value]
                    },
                },
                {"$set": changes},
                return_document=ReturnDocument.AFTER,
            )
        if doc is None:
            return None
        if lease_token is not None and status.final:
            await self.claims.delete_many({"event_id": event_id})
        doc = await self._merge_awkward(event_id, doc, update)
        if doc is not None and update.provider_id is not None:
            doc = await self._apply_early(doc)
        return None if doc is None else event_from_doc(with_id(doc))

    async def report_status(
        self, channel: str, provider_id: str, update: DeliveryUpdate
    ) -> Event | None:
        status = DeliveryStatus(update.status)
        query: Doc = {"channel": channel, "delivery.provider_id": provider_id}
        doc = await self.event_docs.find_one_and_update(
            {**query, "delivery.rank": {"$lt": status.rank}},
            {"$set": self._changes(update)},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            doc = await self._merge_awkward(doc["_id"], doc, update)
            return None if doc is None else event_from_doc(with_id(doc))
        if await self.event_docs.find_one(query, {"_id": 1}) is not None:
            return None  # known, and not a step forward
        await self._keep_early(channel, provider_id, update)
        # The outbox may have recorded the provider id meanwhile: look again.
        found = await self.event_docs.find_one(query)
        if found is not None:
            applied = await self._apply_early(found)
            if applied is not None and applied.get("delivery", {}).get("rank") == status.rank:
                return event_from_doc(with_id(applied))
        return None

    @staticmethod
    def _changes(update: DeliveryUpdate) -> Doc:
        status = DeliveryStatus(update.status)
        changes: Doc = {
            "delivery.status": status.value,
            "delivery.rank": status.rank,
            "delivery.error": update.error,
            "delivery.updated_at": update.at or utcnow(),
        }
        if update.provider_id is not None:
            changes["delivery.provider_id"] = update.provider_id
        paths, _ = merge_paths("meta", update.meta)
        changes.update(paths)
        return changes

    async def _merge_awkward(self, event_id: str, doc: Doc, update: DeliveryUpdate) -> Doc | None:
        _, awkward = merge_paths("meta", update.meta)
        if not awkward:
            return doc
        # Meta keys an update path cannot address ("a.b", "$x"): merge client-side.
        return await self.event_docs.find_one_and_update(
            {"_id": event_id},
            {"$set": {"meta": {**(doc.get("meta") or {}), **awkward}}},
            return_document=ReturnDocument.AFTER,
        )

    async def _keep_early(self, channel: str, provider_id: str, update: DeliveryUpdate) -> None:
        status = DeliveryStatus(update.status)
        now = utcnow()
        record: dict[str, Any] = {
            "channel": channel,
            "provider_id": provider_id,
            "status": status.value,
            "rank": status.rank,
            "error": update.error,
            "meta": dict(update.meta),
            "at": update.at or now,
        }
        key = early_id(channel, provider_id)
        await self.db["early_statuses"].delete_many({"at": {"$lt": now - EARLY_TTL}})
        try:
            await self.db["early_statuses"].insert_one({"_id": key, **record})
        except DuplicateKeyError:
            await self.db["early_statuses"].update_one(
                {"_id": key, "rank": {"$lt": status.rank}}, {"$set": record}
            )

    async def _apply_early(self, doc: Doc) -> Doc | None:
        """Apply (and drop) a status that arrived before ``doc``'s provider id was known."""
        delivery = doc.get("delivery") or {}
        provider_id = delivery.get("provider_id")
        if provider_id is None:
            return doc
        early = await self.db["early_statuses"].find_one_and_delete(
            {"_id": early_id(doc["channel"], provider_id)}
        )
        if early is None:
            return doc
        update = DeliveryUpdate(
            DeliveryStatus(early["status"]),
            error=early.get("error"),
            at=aware(early.get("at")),
            meta=dict(early.get("meta") or {}),
        )
        applied = await self.event_docs.find_one_and_update(
            {"_id": doc["_id"], "delivery.rank": {"$lt": update.status.rank}},
            {"$set": self._changes(update)},
            return_document=ReturnDocument.AFTER,
        )
        return applied or doc
