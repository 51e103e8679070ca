"""Events on MongoDB: append with dedupe, the conversation fold, timeline pages.

``seq`` comes from a counter document (``counters/events``) bumped with one
find-and-modify per append. A unique index on ``seq`` backs it: FerretDB v1
(SQLite handler) applies updates as read-then-write, so concurrent increments
can hand out one value twice; a collision takes a fresh value.

The fold into the conversation reads the conversation's state by ``_id``, then
sends single-document updates (one ordered ``bulk_write``) whose *filters* carry
the conditions ("set ``waiting_since`` only where it is null", "re-open only
where pending, snoozed or resolved"), since FerretDB v1 has no pipeline-style
updates; a conditional update the read state already rules out is not sent
(FerretDB scans for any filter beyond ``_id``). On MongoDB each update is
atomic, so concurrent appends to one conversation fold correctly; on FerretDB
v1 concurrent folds into one conversation can lose an update.
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError

from hub.errors import Conflict, NotFound
from hub.timeline.codec import event_from_doc, event_to_doc
from hub.timeline.cursors import clamp, seq_cursor
from hub.timeline.model import ConversationStatus, Direction, Event, EventKind
from hub.timeline.mongo.base import Doc, MongoBase, as_stored_id, stored, with_id
from hub.timeline.store import Direction as PageDirection
from hub.timeline.store import EventPage, encode_cursor

PREVIEW_CHARS = 140
_SEQ_RETRIES = 20
_CONVERSATIONAL = (EventKind.MESSAGE, EventKind.CALL, EventKind.VOICEMAIL)
_REPLIES = (EventKind.MESSAGE, EventKind.CALL)
_REOPENS = [
    ConversationStatus.PENDING.value,
    ConversationStatus.SNOOZED.value,
    ConversationStatus.RESOLVED.value,
]


def event_doc(record: Event, seq: int) -> Doc:
    """The document for a new event, with ``seq`` and the numeric delivery rank."""
    doc = as_stored_id(event_to_doc(record))
    doc["seq"] = seq
    if record.delivery is not None:
        doc["delivery"]["rank"] = record.delivery.status.rank
    return doc


def fold_updates(record: Event, current: Doc | None = None) -> list[tuple[Doc, Doc]]:
    """The updates that fold ``record`` into its conversation's summary.

    ``current`` is the conversation as last read: a conditional update whose
    condition it already contradicts (``waiting_since`` set, status open,
    first response recorded) is left out. The conditions stay in the filters,
    so an update that is sent still applies atomically on MongoDB; leaving one
    out is the same as the concurrent writer having come first.
    """
    conversation_id = record.conversation_id
    at = record.occurred_at
    main: Doc = {"$max": {"last_activity_at": at}}
    updates: list[tuple[Doc, Doc]] = []
    if record.kind not in _CONVERSATIONAL or record.direction is Direction.INTERNAL:
        return [({"_id": conversation_id}, main)]

    def needed(field: str, values: list[object]) -> bool:
        return current is None or current.get(field) in values

    changes: Doc = {"last_channel": record.channel}
    if record.text:
        changes["last_message_preview"] = record.text[:PREVIEW_CHARS]
    if record.direction is Direction.OUT and record.kind in _REPLIES:
        changes["waiting_since"] = None
        if needed("first_response_at", [None]):
            updates.append(
                (
                    {"_id": conversation_id, "first_response_at": None},
                    {"$set": {"first_response_at": at}},
                )
            )
    main["$set"] = changes
    main["$addToSet"] = {"channels": record.channel}
    if record.direction is Direction.IN:
        if needed("waiting_since", [None]):
            updates.append(
                (
                    {"_id": conversation_id, "waiting_since": None},
                    {"$set": {"waiting_since": at}},
                )
            )
        if needed("status", list(_REOPENS)):
            updates.append(
                (
                    {"_id": conversation_id, "status": {"$in": _REOPENS}},
                    {
                        "$set": {
                            "status": ConversationStatus.OPEN.value,
                            "resolved_at": None,
                            "snoozed_until": None,
                        }
                    },
                )
            )
    return [({"_id": conversation_id}, main), *updates]


class EventOps(MongoBase):
    """The event half of the store."""

    async def _next_seq(self, floor: int = 0) -> int:
        try:
            counter = await self.counters.find_one_and_update(
                {"_id": "events"},
                {"$inc": {"n": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            # Two first appends raced to create the counter: it exists now.
            return await self._next_seq(floor)
        assert counter is not None
        seq: int = counter["n"]
        if seq > floor:
            return seq
        # The counter fell behind the stored events (FerretDB v1 loses concurrent
        # increments): raise it past the highest seq and take the next value.
        await self.counters.update_one({"_id": "events"}, {"$max": {"n": floor}})
        return await self._next_seq()

    async def _highest_seq(self) -> int:
        top = await self.event_docs.find_one({}, {"seq": 1}, sort=[("seq", DESCENDING)])
        return 0 if top is None else int(top["seq"])

    async def append_event(self, event: Event) -> tuple[Event, bool]:
        # Insert first: the unique dedupe_key index decides, and a new event (the
        # common case) costs no lookup. A duplicate wastes one seq value (gaps
        # are fine: seq orders, it does not count).
        key = event.dedupe_key
        doc = event_doc(event, await self._next_seq())
        for _ in range(_SEQ_RETRIES):
            try:
                await self.event_docs.insert_one(doc)
                break
            except DuplicateKeyError:
                existing = await self.event_docs.find_one({"dedupe_key": key})
                if existing is not None:
                    return event_from_doc(with_id(existing)), False
                if await self.event_docs.find_one({"_id": doc["_id"]}, {"_id": 1}):
                    raise
                # Only the seq can have collided (the unique seq index backs the
                # counter on servers whose find-and-modify is not atomic).
                doc["seq"] = await self._next_seq(await self._highest_seq())
        else:
            raise Conflict("append_event: could not allocate a sequence number; try again")
        if event.conversation_id is not None:
            current = await self.conversations.find_one(
                {"_id": event.conversation_id},
                {"waiting_since": 1, "status": 1, "first_response_at": 1},
            )
            updates = fold_updates(event, current)
            if len(updates) == 1:
                await self.conversations.update_one(*updates[0])
            else:
                await self.conversations.bulk_write(
                    [UpdateOne(f, u) for f, u in updates], ordered=True
                )
        return event_from_doc(with_id(stored(doc))), True

    async def get_event(self, event_id: str) -> Event:
        doc = await self.event_docs.find_one({"_id": event_id})
        if doc is None:
            raise NotFound(f"no event {event_id!r}")
        return event_from_doc(with_id(doc))

    async def find_event(self, channel: str, external_id: str) -> Event | None:
        doc = await self.event_docs.find_one({"dedupe_key": f"{channel}\x1f{external_id}"})
        return None if doc is None else event_from_doc(with_id(doc))

    async def find_event_by_provider_id(self, channel: str, provider_id: str) -> Event | None:
        doc = await self.event_docs.find_one(
            {"channel": channel, "delivery.provider_id": provider_id}
        )
        return None if doc is None else event_from_doc(with_id(doc))

    async def find_event_by_thread_ref(self, refs: list[str]) -> Event | None:
        if not refs:
            return None
        cursor = self.event_docs.find({"thread_ref": {"$in": list(refs)}}).sort("seq", -1).limit(1)
        async for doc in cursor:
            return event_from_doc(with_id(doc))
        return None

    async def _exists(self, query: Doc) -> bool:
        return await self.event_docs.find_one(query, {"_id": 1}) is not None

    async def events(
        self,
        *,
        customer_id: str | None = None,
        conversation_id: str | None = None,
        cursor: str | None = None,
        direction: PageDirection = "older",
        limit: int = 50,
    ) -> EventPage:
        if (customer_id is None) == (conversation_id is None):
            raise ValueError("events: give exactly one of customer_id and conversation_id")
        if direction not in ("older", "newer"):
            raise ValueError(f"events: direction must be 'older' or 'newer', not {direction!r}")
        limit = clamp(limit)
        base: Doc = (
            {"customer_id": customer_id}
            if customer_id is not None
            else {"conversation_id": conversation_id}
        )
        position = seq_cursor(cursor) if cursor is not None else None
        if direction == "older":
            query = dict(base)
            if position is not None:
                query["seq"] = {"$lt": position}
            found = self.event_docs.find(query).sort("seq", DESCENDING).limit(limit + 1)
            docs = [doc async for doc in found]
            items = [event_from_doc(with_id(doc)) for doc in reversed(docs[:limit])]
            older = encode_cursor(items[0].seq) if len(docs) > limit else None
            after = items[-1].seq if items else (position or 0)
            has_newer = await self._exists({**base, "seq": {"$gt": after}})
        else:
            query = {**base, "seq": {"$gt": position or 0}}
            found = self.event_docs.find(query).sort("seq", ASCENDING).limit(limit + 1)
            docs = [doc async for doc in found]
            items = [event_from_doc(with_id(doc)) for doc in docs[:limit]]
            has_newer = len(docs) > limit
            older = None
            if items and await self._exists({**base, "seq": {"$lt": items[0].seq}}):
                older = encode_cursor(items[0].seq)
        if items:
            newer = encode_cursor(items[-1].seq)
        else:
            newer = cursor if cursor is not None else encode_cursor(0)
        return EventPage(items=items, older=older, newer=newer, has_newer=has_newer)
