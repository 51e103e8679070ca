"""Shared state in the store's MongoDB database, for every hub instance on it.

Three small collections, each written with single-document atomic operations
(MongoDB any version, FerretDB v1):

* ``shared_entries`` — ``{_id: "kind|key|instance", kind, key, instance, data,
  expires}``; readers skip what has expired, and expired entries are deleted now
  and then (a TTL index does it too where the server has them);
* ``shared_budgets`` — ``{_id: key, n, since, expires}``: ``$inc`` while the window
  that opened at ``since`` is live, else a conditional upsert opens a new one;
* ``shared_leases`` — ``{_id: name, holder, until}`` taken by a conditional upsert:
  the filter matches only a lease this instance holds or one that has lapsed, so
  when another instance holds it the upsert collides on ``_id`` and fails.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from hub.shared.local import Entry, SharedState

__all__ = ["MongoSharedState"]

Doc = dict[str, Any]

_SWEEP_EVERY = 200


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class MongoSharedState(SharedState):
    """:class:`SharedState` kept in ``database()`` (the store's database)."""

    distributed = True

    def __init__(
        self,
        database: Callable[[], AsyncDatabase[Doc]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock=clock)
        self._database = database
        self._writes = 0

    def _c(self, name: str) -> AsyncCollection[Doc]:
        return self._database()[name]

    async def start(self) -> None:
        """Ask the server to expire old entries and budgets itself (where it can)."""
        for name in ("shared_entries", "shared_budgets"):
            # Without TTL indexes, the periodic delete in put() does it.
            with contextlib.suppress(OperationFailure):
                await self._c(name).create_index("expires", expireAfterSeconds=0)

    async def stop(self) -> None:
        """Drop this instance's entries: it is going away."""
        await self._c("shared_entries").delete_many({"instance": self.instance})

    # -- expiring entries ------------------------------------------------------------
    async def put(self, kind: str, key: str, data: dict[str, Any], *, seconds: float) -> None:
        now = self.clock()
        doc = {
            "kind": kind,
            "key": key,
            "instance": self.instance,
            "data": data,
            "expires": _at(now + seconds),
        }
        entries = self._c("shared_entries")
        await entries.replace_one({"_id": f"{kind}|{key}|{self.instance}"}, doc, upsert=True)
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            await entries.delete_many({"expires": {"$lt": _at(now)}})

    async def drop(self, kind: str, key: str) -> None:
        await self._c("shared_entries").delete_one({"_id": f"{kind}|{key}|{self.instance}"})

    async def entries(self, kind: str) -> list[Entry]:
        cursor = self._c("shared_entries").find(
            {"kind": kind, "expires": {"$gt": _at(self.clock())}}
        )
        return [Entry(d["key"], d["instance"], d.get("data") or {}) async for d in cursor]

    # -- budgets ---------------------------------------------------------------------
    async def reset(self, key: str, seconds: float) -> None:
        await self._c("shared_budgets").delete_one({"_id": key})

    async def _bump(self, key: str, delta: int, seconds: float, *, start: bool = True) -> int:
        budgets = self._c("shared_budgets")
        for _ in range(5):
            now = self.clock()
            live = {"$gt": _at(now - seconds)}
            doc = await budgets.find_one_and_update(
                {"_id": key, "since": live},
                {"$inc": {"n": delta}},
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                return int(doc["n"])
            if not start:
                return 0
            try:  # none, or lapsed: open a new window (unless another instance just did)
                fresh = {"n": delta, "since": _at(now), "expires": _at(now + seconds)}
                await budgets.find_one_and_update(
                    {"_id": key, "since": {"$lte": _at(now - seconds)}},
                    {"$set": fresh},
                    upsert=True,
                )
            except DuplicateKeyError:
                continue  # it is live now: count in it
            return delta
        raise DuplicateKeyError(f"budget {key!r} could not be counted")

    async def _read(self, key: str, seconds: float) -> int:
        doc = await self._c("shared_budgets").find_one(
            {"_id": key, "since": {"$gt": _at(self.clock() - seconds)}}
        )
        return int(doc["n"]) if doc is not None else 0

    # -- leases ------------------------------------------------------------------------
    async def lease(self, name: str, seconds: float) -> bool:
        now = self.clock()
        mine_or_lapsed = {"$or": [{"holder": self.instance}, {"until": {"$lte": _at(now)}}]}
        try:
            await self._c("shared_leases").find_one_and_update(
                {"_id": name, **mine_or_lapsed},
                {"$set": {"holder": self.instance, "until": _at(now + seconds)}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    async def release(self, name: str) -> None:
        await self._c("shared_leases").delete_one({"_id": name, "holder": self.instance})
