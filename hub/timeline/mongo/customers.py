"""Customers, identities, merge and unmerge on MongoDB.

An identity is its own document (``key`` unique), so ownership races are
settled by the unique index. Merge and unmerge are sequences of single-document
updates and ``update_many`` calls, each safe to repeat; the source customer
carries a ``pending`` marker until the last step, and ``open()`` finishes any
sequence a crash interrupted.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from hub.errors import Conflict, IdentityTaken, NotFound
from hub.timeline.codec import aware, identity_from_str
from hub.timeline.model import Customer, Identity, new_id, utcnow
from hub.timeline.mongo.base import Doc, MongoBase, merge_paths

PENDING_MERGE = "merge"
PENDING_UNMERGE = "unmerge"
_RETRIES = 5


class CustomerOps(MongoBase):
    """The customer half of the store."""

    async def _customer_doc(self, customer_id: str) -> Doc:
        doc = await self.customers.find_one({"_id": customer_id})
        if doc is None:
            raise NotFound(f"no customer {customer_id!r}")
        return doc

    async def _customer_from(self, doc: Doc) -> Customer:
        cursor = self.identities.find({"customer_id": doc["_id"]}).sort("_id", 1)
        identities = [identity_from_str(i["key"]) async for i in cursor]
        return Customer(
            id=doc["_id"],
            name=doc.get("name"),
            attributes=doc.get("attributes") or {},
            identities=identities,
            merged_into=doc.get("merged_into"),
            created_at=aware(doc["created_at"]) or utcnow(),
            updated_at=aware(doc["updated_at"]) or utcnow(),
        )

    async def get_customer(self, customer_id: str) -> Customer:
        return await self._customer_from(await self._customer_doc(customer_id))

    async def get_customers(self, customer_ids: list[str]) -> dict[str, Customer]:
        ids = list(dict.fromkeys(customer_ids))
        if not ids:
            return {}
        docs = [doc async for doc in self.customers.find({"_id": {"$in": ids}})]
        held: dict[str, list[Identity]] = {}
        query = {"customer_id": {"$in": ids}}
        async for doc in self.identities.find(query).sort("_id", 1):
            held.setdefault(doc["customer_id"], []).append(identity_from_str(doc["key"]))
        return {
            doc["_id"]: Customer(
                id=doc["_id"],
                name=doc.get("name"),
                attributes=doc.get("attributes") or {},
                identities=held.get(doc["_id"], []),
                merged_into=doc.get("merged_into"),
                created_at=aware(doc["created_at"]) or utcnow(),
                updated_at=aware(doc["updated_at"]) or utcnow(),
            )
            for doc in docs
        }

    async def _survivor(self, customer_id: str) -> Customer | None:
        seen: set[str] = set()
        current = customer_id
        while current not in seen:
            seen.add(current)
            doc = await self.customers.find_one({"_id": current})
            if doc is None:
                return None
            if not doc.get("merged_into"):
                return await self._customer_from(doc)
            current = doc["merged_into"]
        raise Conflict(f"customer {customer_id} is in a merge cycle")

    async def find_customer(self, identity: Identity) -> Customer | None:
        owner = await self.identities.find_one({"key": str(identity)})
        if owner is None:
            return None
        return await self._survivor(owner["customer_id"])

    async def _new_customer_doc(self, name: str | None, attributes: dict[str, Any] | None) -> Doc:
        now = utcnow()
        doc: Doc = {
            "_id": new_id("cus"),
            "name": name,
            "attributes": dict(attributes or {}),
            "merged_into": None,
            "created_at": now,
            "updated_at": now,
        }
        await self.customers.insert_one(doc)
        return doc

    async def _attach(self, customer_id: str, identity: Identity) -> ObjectId | None:
        """Insert the identity for ``customer_id``; ``None`` if it already is theirs."""
        key = str(identity)
        for _ in range(_RETRIES):
            doc: Doc = {
                "_id": ObjectId(),
                "key": key,
                "customer_id": customer_id,
                "origin_customer_id": customer_id,
                "linked_at": utcnow(),
            }
            try:
                await self.identities.insert_one(doc)
            except DuplicateKeyError:
                owner = await self.identities.find_one({"key": key})
                if owner is None:
                    continue  # released in between: try again
                if owner["customer_id"] == customer_id:
                    return None
                raise IdentityTaken(key, owner["customer_id"]) from None
            oid: ObjectId = doc["_id"]
            return oid
        raise Conflict(f"{key}: ownership kept changing; try again")

    async def create_customer(
        self,
        *,
        name: str | None = None,
        identities: tuple[Identity, ...] = (),
        attributes: dict[str, Any] | None = None,
    ) -> Customer:
        doc = await self._new_customer_doc(name, attributes)
        attached: list[ObjectId] = []
        try:
            for identity in dict.fromkeys(identities):
                oid = await self._attach(doc["_id"], identity)
                if oid is not None:
                    attached.append(oid)
        except BaseException:
            if attached:
                await self.identities.delete_many({"_id": {"$in": attached}})
            await self.customers.delete_one({"_id": doc["_id"]})
            raise
        return await self._customer_from(doc)

    async def get_or_create_customer(
        self, identity: Identity, *, name: str | None = None
    ) -> tuple[Customer, bool]:
        key = str(identity)
        for _ in range(_RETRIES):
            existing = await self.find_customer(identity)
            if existing is not None:
                return existing, False
            doc = await self._new_customer_doc(name, None)
            try:
                await self.identities.insert_one(
                    {
                        "_id": ObjectId(),
                        "key": key,
                        "customer_id": doc["_id"],
                        "origin_customer_id": doc["_id"],
                        "linked_at": utcnow(),
                    }
                )
            except DuplicateKeyError:
                await self.customers.delete_one({"_id": doc["_id"]})
                continue  # someone else won the race: return their customer
            except BaseException:
                await self.customers.delete_one({"_id": doc["_id"]})
                raise
            return await self._customer_from(doc), True
        raise Conflict(f"{key}: ownership kept changing; try again")

    async def update_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Customer:
        changes: Doc = {"updated_at": utcnow()}
        if name is not None:
            changes["name"] = name
        paths, awkward = merge_paths("attributes", attributes or {})
        changes.update(paths)
        doc = await self.customers.find_one_and_update(
            {"_id": customer_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            raise NotFound(f"no customer {customer_id!r}")
        if awkward:
            # Keys an update path cannot address ("a.b", "$x"): merge client-side.
            merged = {**(doc.get("attributes") or {}), **awkward}
            doc = await self.customers.find_one_and_update(
                {"_id": customer_id},
                {"$set": {"attributes": merged}},
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                raise NotFound(f"no customer {customer_id!r}")
        return await self._customer_from(doc)

    async def link_identity(self, customer_id: str, identity: Identity) -> Customer:
        doc = await self._customer_doc(customer_id)
        await self._attach(customer_id, identity)
        return await self._customer_from(doc)

    # -- merge / unmerge -------------------------------------------------

    async def merge_customers(self, source_id: str, target_id: str) -> Customer:
        if source_id == target_id:
            raise Conflict("cannot merge a customer into itself")
        source = await self._customer_doc(source_id)
        target = await self._customer_doc(target_id)
        if target.get("merged_into"):
            raise Conflict(f"customer {target_id} is merged into {target['merged_into']}")
        if source.get("merged_into") not in (None, target_id):
            raise Conflict(f"customer {source_id} is merged into {source['merged_into']}")
        if source.get("merged_into") is None:
            marked = await self.customers.update_one(
                {"_id": source_id, "merged_into": None},
                {
                    "$set": {
                        "merged_into": target_id,
                        "pending": PENDING_MERGE,
                        "updated_at": utcnow(),
                    }
                },
            )
            if marked.matched_count == 0:
                source = await self._customer_doc(source_id)
                if source.get("merged_into") != target_id:
                    raise Conflict(f"customer {source_id} was merged elsewhere meanwhile")
        await self._finish_merge(source_id, target_id)
        return await self.get_customer(target_id)

    async def _finish_merge(self, source_id: str, target_id: str) -> None:
        first = await self.event_docs.find_one({"customer_id": source_id, "after": 0}, {"seq": 1})
        if first is not None:  # the target has a first event too (see .events)
            await self.event_docs.update_one(
                {"_id": first["_id"]}, {"$set": {"after": -int(first["seq"])}}
            )
        for collection in (self.identities, self.conversations, self.event_docs):
            await collection.update_many(
                {"customer_id": source_id}, {"$set": {"customer_id": target_id}}
            )
        await self.customers.update_one(
            {"_id": source_id, "merged_into": target_id, "pending": PENDING_MERGE},
            {"$unset": {"pending": ""}},
        )
        await self.customers.update_one({"_id": target_id}, {"$set": {"updated_at": utcnow()}})

    async def unmerge_customer(self, source_id: str) -> Customer:
        source = await self._customer_doc(source_id)
        if not source.get("merged_into"):
            raise Conflict(f"customer {source_id} is not merged")
        if source.get("pending") != PENDING_UNMERGE:
            await self.customers.update_one(
                {"_id": source_id, "merged_into": {"$ne": None}},
                {"$set": {"pending": PENDING_UNMERGE}},
            )
        await self._finish_unmerge(source_id)
        return await self.get_customer(source_id)

    async def _merged_group(self, root_id: str) -> list[str]:
        """``root_id`` and every customer whose ``merged_into`` chain reaches it."""
        group = [root_id]
        seen = {root_id}
        frontier = [root_id]
        while frontier:
            cursor = self.customers.find({"merged_into": {"$in": frontier}}, {"_id": 1})
            frontier = [d["_id"] async for d in cursor if d["_id"] not in seen]
            seen.update(frontier)
            group.extend(frontier)
        return group

    async def _finish_unmerge(self, source_id: str) -> None:
        group = await self._merged_group(source_id)
        for collection in (self.identities, self.conversations, self.event_docs):
            await collection.update_many(
                {"origin_customer_id": {"$in": group}, "customer_id": {"$ne": source_id}},
                {"$set": {"customer_id": source_id}},
            )
        await self.customers.update_one(
            {"_id": source_id, "pending": PENDING_UNMERGE},
            {"$set": {"merged_into": None, "updated_at": utcnow()}, "$unset": {"pending": ""}},
        )

    async def _resume_pending(self) -> None:
        """Finish merges and unmerges a crash left half-way."""
        async for doc in self.customers.find({"pending": {"$exists": True}}):
            if doc["pending"] == PENDING_MERGE and doc.get("merged_into"):
                await self._finish_merge(doc["_id"], doc["merged_into"])
            elif doc["pending"] == PENDING_UNMERGE:
                await self._finish_unmerge(doc["_id"])
