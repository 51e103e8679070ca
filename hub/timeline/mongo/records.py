"""Connector checkpoints and API tokens on MongoDB."""

from __future__ import annotations

from typing import Any

from pymongo.errors import DuplicateKeyError

from hub.errors import NotFound
from hub.timeline.codec import aware
from hub.timeline.model import ApiToken, new_id, utcnow
from hub.timeline.mongo.base import Doc, MongoBase


def checkpoint_id(connector: str, key: str) -> str:
    """The ``_id`` of a connector's checkpoint document."""
    return f"{connector}\x1f{key}"


def api_token(doc: Doc) -> ApiToken:
    """A stored token document as the model record."""
    return ApiToken(
        id=doc["_id"],
        name=doc["name"],
        token_hash=doc["token_hash"],
        created_at=aware(doc["created_at"]) or utcnow(),
        revoked_at=aware(doc.get("revoked_at")),
    )


class RecordOps(MongoBase):
    """Checkpoints (one document per connector and key) and API tokens."""

    async def get_checkpoint(self, connector: str, key: str) -> dict[str, Any] | None:
        doc = await self.checkpoints.find_one({"_id": checkpoint_id(connector, key)})
        if doc is None:
            return None
        value: dict[str, Any] = doc["value"]
        return value

    async def set_checkpoint(self, connector: str, key: str, value: dict[str, Any]) -> None:
        doc = {"connector": connector, "key": key, "value": value, "updated_at": utcnow()}
        try:
            await self.checkpoints.replace_one(
                {"_id": checkpoint_id(connector, key)}, doc, upsert=True
            )
        except DuplicateKeyError:
            # A concurrent first write created the document: replace it now.
            await self.checkpoints.replace_one({"_id": checkpoint_id(connector, key)}, doc)

    async def create_api_token(self, name: str, token_hash: str) -> ApiToken:
        doc: Doc = {
            "_id": new_id("tok"),
            "name": name,
            "token_hash": token_hash,
            "created_at": utcnow(),
            "revoked_at": None,
        }
        await self.api_tokens.insert_one(doc)
        return api_token(doc)

    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        doc = await self.api_tokens.find_one({"token_hash": token_hash, "revoked_at": None})
        return None if doc is None else api_token(doc)

    async def list_api_tokens(self) -> list[ApiToken]:
        found = self.api_tokens.find({}).sort([("created_at", 1), ("_id", 1)])
        return [api_token(doc) async for doc in found]

    async def revoke_api_token(self, token_id: str) -> None:
        result = await self.api_tokens.update_one(
            {"_id": token_id, "revoked_at": None}, {"$set": {"revoked_at": utcnow()}}
        )
        if (
            result.matched_count == 0
            and await self.api_tokens.count_documents({"_id": token_id}, limit=1) == 0
        ):
            raise NotFound(f"no API token {token_id!r}")
