"""Outgoing webhook deliveries on MongoDB: one document per delivery (``_id`` its id),
unique per (subscription, key).

A claim is first an insert into ``claims`` keyed ``webhook:<id>:<attempt>:<generation>``
(the unique ``_id`` admits one winner — FerretDB v1 applies find-and-modify as
read-then-write, see :mod:`.outbox`), then a find-and-modify repeating the due
condition and the attempt count."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from hub.timeline.codec import aware
from hub.timeline.cursors import clamp
from hub.timeline.model import utcnow
from hub.timeline.mongo.base import Doc, MongoBase
from hub.timeline.webhooks import WebhookDelivery, WebhookStatus


def _doc(d: WebhookDelivery) -> Doc:
    return {
        "_id": d.id,
        "subscription": d.subscription,
        "key": d.key,
        "event_type": d.event_type,
        "payload": d.payload,
        "status": d.status.value,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at,
        "lease_token": d.lease_token,
        "lease_until": d.lease_until,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "last_error": d.last_error,
        "log": d.log,
    }


def _delivery(doc: Doc) -> WebhookDelivery:
    return WebhookDelivery(
        id=doc["_id"],
        subscription=doc["subscription"],
        key=doc["key"],
        event_type=doc["event_type"],
        payload=doc["payload"],
        status=WebhookStatus(doc["status"]),
        attempts=int(doc["attempts"]),
        next_attempt_at=aware(doc["next_attempt_at"]) or utcnow(),
        lease_token=doc.get("lease_token"),
        lease_until=aware(doc.get("lease_until")),
        created_at=aware(doc["created_at"]) or utcnow(),
        updated_at=aware(doc["updated_at"]) or utcnow(),
        last_error=doc.get("last_error"),
        log=list(doc.get("log", [])),
    )


class WebhookOps(MongoBase):
    """The webhook queue and its log."""

    async def enqueue_webhook(self, delivery: WebhookDelivery) -> bool:
        try:
            await self.db["webhook_deliveries"].insert_one(_doc(delivery))
        except DuplicateKeyError:
            return False
        return True

    async def claim_webhooks(
        self, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[WebhookDelivery]:
        due = {
            "$or": [
                {"status": WebhookStatus.QUEUED.value, "next_attempt_at": {"$lte": now}},
                {"status": WebhookStatus.SENDING.value, "lease_until": {"$lte": now}},
            ]
        }
        coll = self.db["webhook_deliveries"]
        claimed = []
        until = now + timedelta(seconds=lease_seconds)
        found = coll.find(due, {"_id": 1, "attempts": 1}).limit(clamp(limit))
        for doc in [d async for d in found]:
            attempt = int(doc["attempts"]) + 1
            if not await self._win_webhook_claim(doc["_id"], attempt, now, until):
                continue
            taken = await coll.find_one_and_update(
                {"_id": doc["_id"], "attempts": attempt - 1, **due},
                {
                    "$set": {
                        "status": WebhookStatus.SENDING.value,
                        "lease_token": secrets.token_hex(16),
                        "lease_until": until,
                        "updated_at": now,
                    },
                    "$inc": {"attempts": 1},
                },
                return_document=ReturnDocument.AFTER,
            )
            if taken is not None:
                claimed.append(_delivery(taken))
        return claimed

    async def _win_webhook_claim(
        self, delivery_id: str, attempt: int, now: datetime, until: datetime
    ) -> bool:
        """One winner per attempt; a claim whose lease ran out is replaced by the next
        generation (its claimant died between its two writes)."""
        generation = 0
        while True:
            key = f"webhook:{delivery_id}:{attempt}:{generation}"
            try:
                await self.claims.insert_one(
                    {"_id": key, "event_id": delivery_id, "lease_until": until, "claimed_at": now}
                )
            except DuplicateKeyError:
                held = await self.claims.find_one({"_id": key})
                expires = aware(held["lease_until"]) if held is not None else None
                if expires is None or expires > now:
                    return False
                generation += 1
                continue
            return True

    async def record_webhook(
        self,
        delivery_id: str,
        lease_token: str,
        *,
        status: WebhookStatus,
        entry: dict[str, Any],
        next_attempt_at: datetime | None = None,
    ) -> bool:
        change: Doc = {
            "status": status.value,
            "last_error": entry.get("error"),
            "lease_token": None,
            "lease_until": None,
            "updated_at": utcnow(),
        }
        if next_attempt_at is not None:
            change["next_attempt_at"] = next_attempt_at
        done = await self.db["webhook_deliveries"].update_one(
            {"_id": delivery_id, "lease_token": lease_token},
            {"$set": change, "$push": {"log": {"$each": [entry], "$slice": -50}}},
        )
        if done.modified_count and status in (WebhookStatus.DELIVERED, WebhookStatus.FAILED):
            await self.claims.delete_many({"event_id": delivery_id})
        return done.modified_count > 0

    async def webhook_deliveries(
        self, *, subscription: str | None = None, limit: int = 50
    ) -> list[WebhookDelivery]:
        query: Doc = {"subscription": subscription} if subscription else {}
        found = (
            self.db["webhook_deliveries"]
            .find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(clamp(limit))
        )
        return [_delivery(doc) async for doc in found]
