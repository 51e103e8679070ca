"""Agents (the people who sign in to the agent view) and their read marks on MongoDB.

Single-document updates only: the failure count is an ``$inc``, the lock a
conditional ``$set`` on the count, a read mark an update filtered on a lower
``seq`` (so it only moves forward) or an insert under the unique ``_id``.
On MongoDB ``$inc`` is atomic; FerretDB v1 applies updates as read-then-write,
so concurrent failures there may be under-counted (the lock comes later).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from hub.errors import Conflict, NotFound
from hub.timeline.codec import aware
from hub.timeline.model import Agent, AgentRole, ReadMark, new_id, utcnow
from hub.timeline.mongo.base import Doc, MongoBase
from hub.timeline.store import AgentUpdate


def agent_record(doc: Doc) -> Agent:
    """A stored agent document as the model record."""
    return Agent(
        id=doc["_id"],
        email=doc["email"],
        name=doc["name"],
        password_hash=doc["password_hash"],
        role=AgentRole(doc["role"]),
        disabled=bool(doc.get("disabled")),
        session_epoch=int(doc.get("session_epoch") or 0),
        failed_sign_ins=int(doc.get("failed_sign_ins") or 0),
        locked_until=aware(doc.get("locked_until")),
        last_sign_in_at=aware(doc.get("last_sign_in_at")),
        created_at=aware(doc["created_at"]) or utcnow(),
    )


def mark_id(agent_id: str, conversation_id: str) -> str:
    """The ``_id`` of an agent's read mark on a conversation."""
    return f"{agent_id}\x1f{conversation_id}"


def read_mark(doc: Doc) -> ReadMark:
    """A stored read mark document as the model record."""
    return ReadMark(
        agent_id=doc["agent_id"],
        conversation_id=doc["conversation_id"],
        seq=int(doc["seq"]),
        at=aware(doc["at"]) or utcnow(),
    )


class AgentOps(MongoBase):
    """Agents (``email`` unique by index) and per-agent read marks."""

    @property
    def agent_docs(self) -> AsyncCollection[Doc]:
        return self.db["agents"]

    @property
    def read_mark_docs(self) -> AsyncCollection[Doc]:
        return self.db["read_marks"]

    async def create_agent(
        self, *, email: str, name: str, password_hash: str, role: AgentRole = AgentRole.AGENT
    ) -> Agent:
        doc: Doc = {
            "_id": new_id("agt"),
            "email": email.strip().lower(),
            "name": name,
            "password_hash": password_hash,
            "role": AgentRole(role).value,
            "disabled": False,
            "session_epoch": 0,
            "failed_sign_ins": 0,
            "locked_until": None,
            "last_sign_in_at": None,
            "created_at": utcnow(),
        }
        try:
            await self.agent_docs.insert_one(doc)
        except DuplicateKeyError:
            raise Conflict(f"an agent with email {doc['email']} exists already") from None
        return agent_record(doc)

    async def get_agent(self, agent_id: str) -> Agent:
        doc = await self.agent_docs.find_one({"_id": agent_id})
        if doc is None:
            raise NotFound(f"no agent {agent_id!r}")
        return agent_record(doc)

    async def find_agent(self, email: str) -> Agent | None:
        doc = await self.agent_docs.find_one({"email": email.strip().lower()})
        return None if doc is None else agent_record(doc)

    async def list_agents(self) -> list[Agent]:
        found = self.agent_docs.find({}).sort([("created_at", 1), ("_id", 1)])
        return [agent_record(doc) async for doc in found]

    async def update_agent(self, agent_id: str, update: AgentUpdate) -> Agent:
        changes: Doc = {}
        bump = 0
        if update.name is not None:
            changes["name"] = update.name
        if update.role is not None:
            changes["role"] = AgentRole(update.role).value
        if update.password_hash is not None:
            changes.update(password_hash=update.password_hash, failed_sign_ins=0, locked_until=None)
            bump = 1
        if update.end_sessions:
            bump += 1
        if update.disabled is False:
            changes["disabled"] = False
        if update.disabled:
            # Bump the epoch only on the transition, in one conditional update.
            await self.agent_docs.update_one(
                {"_id": agent_id, "disabled": False},
                {"$set": {"disabled": True}, "$inc": {"session_epoch": 1}},
            )
        ops: Doc = {}
        if changes:
            ops["$set"] = changes
        if bump:
            ops["$inc"] = {"session_epoch": bump}
        if ops:
            doc = await self.agent_docs.find_one_and_update(
                {"_id": agent_id}, ops, return_document=ReturnDocument.AFTER
            )
        else:
            doc = await self.agent_docs.find_one({"_id": agent_id})
        if doc is None:
            raise NotFound(f"no agent {agent_id!r}")
        return agent_record(doc)

    async def record_sign_in(
        self,
        agent_id: str,
        *,
        ok: bool,
        now: datetime,
        max_failures: int,
        lockout_seconds: float,
    ) -> Agent:
        if ok:
            ops: Doc = {
                "$set": {"failed_sign_ins": 0, "locked_until": None, "last_sign_in_at": now}
            }
        else:
            ops = {"$inc": {"failed_sign_ins": 1}}
        doc = await self.agent_docs.find_one_and_update(
            {"_id": agent_id}, ops, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            raise NotFound(f"no agent {agent_id!r}")
        if not ok and int(doc.get("failed_sign_ins") or 0) >= max_failures:
            locked = await self.agent_docs.find_one_and_update(
                {"_id": agent_id, "failed_sign_ins": {"$gte": max_failures}},
                {
                    "$set": {
                        "failed_sign_ins": 0,
                        "locked_until": now + timedelta(seconds=lockout_seconds),
                    }
                },
                return_document=ReturnDocument.AFTER,
            )
            doc = locked or await self.agent_docs.find_one({"_id": agent_id}) or doc
        return agent_record(doc)

    async def mark_read(self, agent_id: str, conversation_id: str, seq: int) -> ReadMark:
        key = mark_id(agent_id, conversation_id)
        now = utcnow()
        result = await self.read_mark_docs.update_one(
            {"_id": key, "seq": {"$lt": seq}}, {"$set": {"seq": seq, "at": now}}
        )
        if result.matched_count == 0:
            # A duplicate means a mark at or past ``seq`` is there already.
            with contextlib.suppress(DuplicateKeyError):
                await self.read_mark_docs.insert_one(
                    {
                        "_id": key,
                        "agent_id": agent_id,
                        "conversation_id": conversation_id,
                        "seq": seq,
                        "at": now,
                    }
                )
        doc = await self.read_mark_docs.find_one({"_id": key})
        assert doc is not None
        return read_mark(doc)

    async def read_marks(self, agent_id: str, conversation_ids: list[str]) -> dict[str, ReadMark]:
        if not conversation_ids:
            return {}
        keys = [mark_id(agent_id, c) for c in conversation_ids]
        found = self.read_mark_docs.find({"_id": {"$in": keys}})
        return {doc["conversation_id"]: read_mark(doc) async for doc in found}
