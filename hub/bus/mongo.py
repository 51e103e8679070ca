"""The MongoDB bus adapter: hub instances on one database hear each other.

Every instance appends what it publishes to one capped collection (``bus``)
and tails it with a single tailable ``awaitData`` cursor, handing what others
published to its own subscribers in-process — one cursor per process, however
many subscribers. This runs on every MongoDB and on FerretDB ≥ 1.18 (no change
streams needed). Local subscribers get a local publish at once, as with the
in-process bus; the document goes out from a background writer in batches, so
``publish`` still never waits.

Nothing is lost silently. Each publisher numbers its messages; a reader that
sees a gap (a write that failed, a backlog that overflowed) or that cannot find
where it stopped reading after reconnecting (the capped collection rolled over)
tells every subscriber to :class:`~hub.bus.Resync` from the store. After an
error the tail reconnects with backoff and resumes after the last document it
read.

Notes for FerretDB: the first ``find`` asks for ``batchSize: 0`` (FerretDB
closes a tailable cursor whose first batch already drained the collection), and
a fresh collection gets a placeholder document (a tailable cursor on an empty
collection is dead at once, on MongoDB too). On FerretDB (found by
``buildInfo``) the cursor is tailable without ``awaitData`` and polled every
``poll_seconds``: FerretDB ends an idle ``awaitData`` wait by interrupting its
SQLite connection, and that interrupt can land on another command sharing the
connection ("interrupted (9)" in an unrelated write).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.command_cursor import AsyncCommandCursor
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, OperationFailure, PyMongoError

from hub.bus.local import Bus, BusMessage
from hub.bus.wire import message_from_doc, message_to_doc
from hub.timeline.model import utcnow

__all__ = ["MongoBus"]

log = logging.getLogger("hub.bus")

Doc = dict[str, Any]

_NAMESPACE_EXISTS = 48
_BATCH = 500


class MongoBus(Bus):
    """The bus shared by every hub instance on one MongoDB database.

    ``database`` returns the open database (the store's, so the bus shares its
    connection pool); it is called from :meth:`start`. ``capped_bytes`` sizes
    the collection: it must hold what every instance publishes while a reader
    reconnects. ``await_ms`` is how long one ``getMore`` waits for news;
    ``await_data`` chooses between waiting in the server and polling every
    ``poll_seconds`` (``None``: wait, except on FerretDB).
    """

    def __init__(
        self,
        database: Callable[[], AsyncDatabase[Doc]],
        *,
        collection: str = "bus",
        capped_bytes: int = 16 * 1024 * 1024,
        await_ms: int = 1000,
        await_data: bool | None = None,
        poll_seconds: float = 0.05,
        backlog: int = 10_000,
        default_maxsize: int = 1000,
    ) -> None:
        super().__init__(default_maxsize)
        self._database = database
        self.collection_name = collection
        self.capped_bytes = capped_bytes
        self.await_ms = await_ms
        self.await_data = await_data
        self.poll_seconds = poll_seconds
        self.origin = os.urandom(8).hex()
        self._n = 0
        self._outgoing: asyncio.Queue[tuple[int, BusMessage]] = asyncio.Queue(backlog)
        self._last_id: ObjectId | None = None
        self._seen: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._tailing = asyncio.Event()
        self.resyncs = 0

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        """Make sure the capped collection exists, note where it ends, start the
        tail and the writer, and wait until the tail cursor is open."""
        if self._tasks:
            return
        collection = await self._ensure_collection()
        if self.await_data is None:
            info = await collection.database.client.admin.command("buildInfo")
            self.await_data = "ferretdbVersion" not in info
        last = await collection.find_one({}, projection={"_id": 1}, sort=[("$natural", -1)])
        self._last_id = last["_id"] if last is not None else None
        self._tailing.clear()
        self._tasks = [
            asyncio.create_task(self._tail(collection), name="bus-tail"),
            asyncio.create_task(self._write(collection), name="bus-writer"),
        ]
        tail = self._tasks[0]
        waiter = asyncio.create_task(self._tailing.wait())
        await asyncio.wait({waiter, tail}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if tail.done():
            await self.stop()
            tail.result()

    async def stop(self, *, flush_seconds: float = 2.0) -> None:
        """Send what is still queued (for up to ``flush_seconds``), stop the tail and
        the writer, and close every subscription."""
        tasks, self._tasks = self._tasks, []
        if tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(flush_seconds):
                    await self._outgoing.join()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.close()

    # -- publishing ----------------------------------------------------------------
    def publish(self, message: BusMessage) -> None:
        """Hand ``message`` to this process's subscribers now and queue it for the
        other instances (never waits; a full queue is a gap the readers notice)."""
        self._fan_out(message)
        if not self._tasks:
            return
        self._n += 1
        try:
            self._outgoing.put_nowait((self._n, message))
        except asyncio.QueueFull:
            log.warning("bus: backlog full, a message did not reach the other instances")

    async def flush(self) -> None:
        """Wait until every message published so far is in the bus collection (or
        was reported lost)."""
        if self._tasks:
            await self._outgoing.join()

    async def _write(self, collection: AsyncCollection[Doc]) -> None:
        backoff = 0.1
        while True:
            batch = [await self._outgoing.get()]
            while len(batch) < _BATCH and not self._outgoing.empty():
                batch.append(self._outgoing.get_nowait())
            try:
                at = utcnow()
                docs = [message_to_doc(m, origin=self.origin, n=n, at=at) for n, m in batch]
                await collection.insert_many(docs, ordered=True)
                backoff = 0.1
            except PyMongoError as exc:
                lost = len(batch)
                log.warning("bus: %d messages did not reach the other instances: %s", lost, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                for _ in batch:
                    self._outgoing.task_done()

    # -- tailing ---------------------------------------------------------------------
    async def _ensure_collection(self) -> AsyncCollection[Doc]:
        db = self._database()
        if not await db.list_collection_names(filter={"name": self.collection_name}):
            try:
                await db.create_collection(
                    self.collection_name, capped=True, size=self.capped_bytes
                )
            except CollectionInvalid:
                pass  # another instance created it first
            except OperationFailure as exc:
                if exc.code != _NAMESPACE_EXISTS:
                    raise
        collection = db[self.collection_name]
        if await collection.find_one({}, projection={"_id": 1}) is None:
            await collection.insert_one({"placeholder": True})
        return collection

    async def _tail(self, collection: AsyncCollection[Doc]) -> None:
        backoff = 0.1
        while True:
            try:
                await self._tail_once(collection)
                backoff = 0.1
            except PyMongoError as exc:
                log.warning("bus: tail interrupted, reconnecting: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _tail_once(self, collection: AsyncCollection[Doc]) -> None:
        waits = bool(self.await_data)
        command: Doc = {"find": collection.name, "filter": {}, "tailable": True}
        if waits:
            command["awaitData"] = True
        command["batchSize"] = 0
        cursor: AsyncCommandCursor[Doc] = await collection.database.cursor_command(
            command, max_await_time_ms=self.await_ms if waits else None
        )
        resume_after, found = self._last_id, self._last_id is None
        self._tailing.set()
        try:
            while cursor.alive:
                doc = await cursor.try_next()
                if doc is None:
                    if not found:  # caught up without passing where we stopped
                        found = True
                        self._seen.clear()
                        self._resync("the bus collection rolled over while reconnecting")
                    if not waits:
                        await asyncio.sleep(self.poll_seconds)
                    continue
                if not found:
                    found = doc["_id"] == resume_after
                    continue
                self._last_id = doc["_id"]
                self._receive(doc)
        finally:
            with contextlib.suppress(PyMongoError):
                await cursor.close()

    def _receive(self, doc: Doc) -> None:
        origin, n = doc.get("origin"), doc.get("n")
        if not isinstance(origin, str) or not isinstance(n, int) or origin == self.origin:
            return
        last = self._seen.get(origin)
        self._seen[origin] = n
        if last is not None and n != last + 1:
            self._resync(f"missed {n - last - 1} messages from another instance")
        try:
            message = message_from_doc(doc)
        except Exception:  # a message this version cannot read: re-read the store instead
            log.exception("bus: unreadable message")
            self._resync("an unreadable message")
            return
        self._fan_out(message)

    def _resync(self, reason: str) -> None:
        self.resyncs += 1
        self.resync_all(reason)
