"""Suggested identity links and used link tokens on MongoDB (see :mod:`hub.timeline.handoff`).

``link_suggestions`` is unique on ``pair_key`` (one per customer and identity);
``used_link_tokens`` keys each used token by ``_id``, so the first insert wins.
Customers on an email domain are found with an anchored regex on ``identities.key``
(``^email:[^@]*@<domain>$``; the ``^email:`` prefix can use the ``key`` index on
MongoDB, FerretDB v1 scans — correct either way, and it runs once per new email customer).
"""

from __future__ import annotations

import re
from datetime import datetime

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from hub.errors import NotFound
from hub.timeline.codec import aware
from hub.timeline.cursors import clamp
from hub.timeline.handoff import DomainCustomer, LinkSuggestion, SuggestionStatus
from hub.timeline.model import Identity, utcnow
from hub.timeline.mongo.base import Doc, MongoBase

HANDOFF_INDEXES: dict[str, list[IndexModel]] = {
    "link_suggestions": [
        IndexModel([("pair_key", ASCENDING)], name="pair_key_unique", unique=True),
        IndexModel([("customer_id", ASCENDING)], name="customer"),
        IndexModel([("other_customer_id", ASCENDING)], name="other_customer"),
    ],
    "used_link_tokens": [
        IndexModel([("expires_at", ASCENDING)], name="expires_at"),
    ],
    "shared_identities": [
        IndexModel([("identity", ASCENDING)], name="identity"),
        IndexModel([("customer_id", ASCENDING)], name="customer"),
    ],
}


def suggestion_record(doc: Doc) -> LinkSuggestion:
    """A stored suggestion document as the model record."""
    kind, value = str(doc["identity"]).split(":", 1)
    return LinkSuggestion(
        id=doc["_id"],
        customer_id=doc["customer_id"],
        identity=Identity(kind, value),
        score=float(doc["score"]),
        evidence=list(doc.get("evidence") or []),
        other_customer_id=doc.get("other_customer_id"),
        status=SuggestionStatus(doc["status"]),
        created_at=aware(doc["created_at"]) or utcnow(),
        decided_at=aware(doc.get("decided_at")),
        decided_by=doc.get("decided_by"),
        reason=doc.get("reason"),
    )


class HandoffOps(MongoBase):
    """Link suggestions and used single-use tokens."""

    @property
    def suggestions(self) -> AsyncCollection[Doc]:
        return self.db["link_suggestions"]

    @property
    def used_tokens(self) -> AsyncCollection[Doc]:
        return self.db["used_link_tokens"]

    async def add_suggestion(self, suggestion: LinkSuggestion) -> tuple[LinkSuggestion, bool]:
        doc: Doc = {
            "_id": suggestion.id,
            "pair_key": suggestion.pair_key,
            "customer_id": suggestion.customer_id,
            "other_customer_id": suggestion.other_customer_id,
            "identity": str(suggestion.identity),
            "score": suggestion.score,
            "evidence": suggestion.evidence,
            "status": suggestion.status.value,
            "created_at": suggestion.created_at,
            "decided_at": suggestion.decided_at,
            "decided_by": suggestion.decided_by,
            "reason": suggestion.reason,
        }
        try:
            await self.suggestions.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.suggestions.find_one({"pair_key": suggestion.pair_key})
            if existing is None:  # pragma: no cover - deleted in between
                raise
            return suggestion_record(existing), False
        return suggestion_record(doc), True

    async def get_suggestion(self, suggestion_id: str) -> LinkSuggestion:
        doc = await self.suggestions.find_one({"_id": suggestion_id})
        if doc is None:
            raise NotFound(f"no suggestion {suggestion_id!r}")
        return suggestion_record(doc)

    async def list_suggestions(
        self,
        *,
        customer_id: str | None = None,
        status: SuggestionStatus | None = None,
        limit: int = 100,
    ) -> list[LinkSuggestion]:
        query: Doc = {}
        if customer_id is not None:
            query["$or"] = [{"customer_id": customer_id}, {"other_customer_id": customer_id}]
        if status is not None:
            query["status"] = SuggestionStatus(status).value
        found = (
            self.suggestions.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(clamp(limit))
        )
        return [suggestion_record(doc) async for doc in found]

    async def decide_suggestion(
        self, suggestion_id: str, status: SuggestionStatus, *, by: str, reason: str | None = None
    ) -> LinkSuggestion | None:
        result = await self.suggestions.update_one(
            {"_id": suggestion_id, "status": SuggestionStatus.PENDING.value},
            {
                "$set": {
                    "status": SuggestionStatus(status).value,
                    "decided_at": utcnow(),
                    "decided_by": by,
                    "reason": reason,
                }
            },
        )
        doc = await self.suggestions.find_one({"_id": suggestion_id})
        if doc is None:
            raise NotFound(f"no suggestion {suggestion_id!r}")
        return suggestion_record(doc) if result.modified_count == 1 else None

    @property
    def shared(self) -> AsyncCollection[Doc]:
        return self.db["shared_identities"]

    async def share_identity(self, identity: Identity, customer_id: str) -> bool:
        try:
            await self.shared.insert_one(
                {
                    "_id": f"{identity}\x1f{customer_id}",
                    "identity": str(identity),
                    "customer_id": customer_id,
                    "created_at": utcnow(),
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def unshare_identity(self, identity: Identity, customer_id: str) -> bool:
        gone = await self.shared.delete_one({"_id": f"{identity}\x1f{customer_id}"})
        return gone.deleted_count > 0

    async def shared_with(self, identity: Identity) -> tuple[str, ...]:
        """The customers ``identity`` is shared with (see ``hub.timeline.work.SharedWith``)."""
        found = self.shared.find({"identity": str(identity)}).sort("created_at", ASCENDING)
        return tuple([str(doc["customer_id"]) async for doc in found])

    async def shared_of(self, customer_id: str) -> tuple[Identity, ...]:
        """The identities shared with ``customer_id``."""
        found = self.shared.find({"customer_id": customer_id}).sort("created_at", ASCENDING)
        return tuple([Identity(*str(doc["identity"]).split(":", 1)) async for doc in found])

    async def use_link_token(self, token_id: str, *, expires_at: datetime) -> bool:
        now = utcnow()
        await self.used_tokens.delete_many({"expires_at": {"$lt": now}})
        try:
            await self.used_tokens.insert_one(
                {"_id": token_id, "used_at": now, "expires_at": expires_at}
            )
        except DuplicateKeyError:
            return False
        return True

    async def customers_on_email_domain(
        self, domain: str, *, limit: int = 200
    ) -> list[DomainCustomer]:
        pattern = f"^email:[^@]*@{re.escape(domain.lower())}$"
        owners: list[str] = []
        found = self.db["identities"].find({"key": {"$regex": pattern}}).sort("_id", ASCENDING)
        async for doc in found:
            if doc["customer_id"] not in owners:
                owners.append(doc["customer_id"])
        names: dict[str, str | None] = {}
        async for doc in self.db["customers"].find(
            {"_id": {"$in": owners}, "merged_into": None}, {"name": 1}
        ):
            names[doc["_id"]] = doc.get("name")
        return [DomainCustomer(c, names[c]) for c in owners if c in names][: clamp(limit)]
