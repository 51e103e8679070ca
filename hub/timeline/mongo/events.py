"""Events on MongoDB: the customer's chain, the conversation fold, lookups, pages.

Order without a counter. Each event carries ``seq`` (unique; time-based,
higher than the event it follows) and ``after``, the ``seq`` of the customer's
latest event when it was appended (0 for a customer's first event). A unique
index on ``(customer_id, after)`` lets only one event follow a given one, so a
customer's events are inserted one after another in ``seq`` order: a reader
paging a timeline by ``seq`` can never pass an event that is not yet
committed, and writers of different customers never touch a shared document.
An insert that loses the race is re-planned (:mod:`.units`). A merge first
turns the merged customer's first event's ``after`` into minus its ``seq`` (no
other event can have that), so the two timelines join without a clash; events
from before release 0.2 carry that form too.

The fold is one find-and-modify with update operators (``$max`` activity,
``$min`` waiting/first response, which are absent rather than null while
unset, ``$addToSet`` channels): atomic on MongoDB; FerretDB v1 applies it as
read-then-write, so concurrent folds into one conversation can lose a field
there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from hub.errors import Conflict, NotFound
from hub.timeline.codec import event_from_doc, event_to_doc
from hub.timeline.cursors import clamp, seq_cursor
from hub.timeline.fold import is_conversational, is_reply, preview
from hub.timeline.model import ConversationStatus, Direction, Event, EventKind
from hub.timeline.mongo.base import Doc, MongoBase, as_stored_id, stored, with_id
from hub.timeline.search import event_terms
from hub.timeline.store import Direction as PageDirection
from hub.timeline.store import EventPage, encode_cursor

__all__ = ["Collision", "EventOps", "event_doc", "fold_update", "next_seq", "stored_event"]

_REOPENED = {
    "status": ConversationStatus.OPEN.value,
    "resolved_at": None,
    "snoozed_until": None,
}


_AMEND_TRIES = 8


class Collision(Exception):
    """An insert lost a race on ``what`` ("dedupe", "chain", "seq", "id")."""

    def __init__(self, what: str, existing: Event | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.existing = existing


def next_seq(previous: int) -> int:
    """A ``seq`` after ``previous``: the current time in microseconds if that is later."""
    return max(time.time_ns() // 1000, previous + 1)


def event_doc(record: Event) -> Doc:
    """The document for an event (``seq`` and ``after`` set by the caller), with its
    search ``terms`` (:mod:`hub.timeline.search`)."""
    doc = as_stored_id(event_to_doc(record))
    found = event_terms(record)
    if found:
        doc["terms"] = found
    if record.delivery is not None:
        doc["delivery"]["rank"] = record.delivery.status.rank
    return doc


def fold_update(record: Event) -> Doc:
    """The update that folds ``record`` into its conversation (see :mod:`hub.timeline.fold`)."""
    at = record.occurred_at
    update: Doc = {"$max": {"last_activity_at": at}}
    sets: Doc = {}
    if record.kind is EventKind.HANDOFF and isinstance(record.meta.get("to"), str):
        sets["customer_channel"] = record.meta["to"]
    if is_conversational(record):
        sets["last_channel"] = record.channel
        shown = preview(record)
        if shown:
            sets["last_message_preview"] = shown
        update["$addToSet"] = {"channels": record.channel}
        if record.direction is Direction.IN:
            sets["customer_channel"] = record.channel
            sets.update(_REOPENED)
            update["$min"] = {"waiting_since": at}
        elif is_reply(record):
            update["$unset"] = {"waiting_since": ""}
            update["$min"] = {"first_response_at": at}
    if sets:
        update["$set"] = sets
    return update


class EventOps(MongoBase):
    """The event half of the store (reads, the chained insert and the fold)."""

    async def _latest(self, customer_id: str, *, with_conversation: bool = False) -> Doc | None:
        query: Doc = {"customer_id": customer_id}
        if with_conversation:
            query["conversation_id"] = {"$ne": None}
        return await self.event_docs.find_one(
            query,
            {"seq": 1, "conversation_id": 1},
            sort=[("seq", DESCENDING)],
        )

    async def _insert_chained(self, record: Event, after: int) -> None:
        """Insert ``record`` after the event with ``seq`` ``after`` (0: the first).

        Raises :class:`Collision` when the dedupe key is taken (``existing`` set),
        another event follows ``after`` already, or the id exists.
        """
        seq = next_seq(after)
        doc = event_doc(record)
        for _ in range(20):
            doc["seq"] = seq
            doc["after"] = after
            try:
                await self.event_docs.insert_one(doc)
            except DuplicateKeyError as exc:
                pattern = (exc.details or {}).get("keyPattern") or {}
                if "seq" in pattern and len(pattern) == 1:
                    seq += 1 + (time.time_ns() // 1000) % 97
                    continue
                existing = await self.event_docs.find_one({"dedupe_key": record.dedupe_key})
                if existing is not None:
                    raise Collision("dedupe", event_from_doc(with_id(existing))) from None
                if await self.event_docs.find_one({"_id": record.id}, {"_id": 1}):
                    raise Collision("id") from None
                if await self.event_docs.find_one({"seq": seq}, {"_id": 1}):
                    seq += 1 + (time.time_ns() // 1000) % 97
                    continue
                raise Collision("chain") from None
            record.seq = seq
            return
        raise Collision("seq")

    async def _fold(self, record: Event) -> Doc | None:
        """Fold ``record`` into its conversation; the conversation document after it."""
        if record.conversation_id is None:
            return None
        return await self.conversations.find_one_and_update(
            {"_id": record.conversation_id},
            fold_update(record),
            return_document=ReturnDocument.AFTER,
        )

    async def get_event(self, event_id: str) -> Event:
        doc = await self.event_docs.find_one({"_id": event_id})
        if doc is None:
            raise NotFound(f"no event {event_id!r}")
        return event_from_doc(with_id(doc))

    async def amend_event(
        self, event_id: str, change: Callable[[Event], Event | None]
    ) -> Event | None:
        for _ in range(_AMEND_TRIES):
            doc = await self.event_docs.find_one({"_id": event_id})
            if doc is None:
                raise NotFound(f"no event {event_id!r}")
            old = event_from_doc(with_id(doc))
            new = change(old)
            if new is None:
                return None
            rev = int(old.meta.get("rev") or 0)
            new.meta = {**new.meta, "rev": rev + 1}
            query: Doc = {"_id": event_id, "meta.rev": rev if rev else {"$exists": False}}
            done = await self.event_docs.update_one(
                query, {"$set": {"text": new.text, "html": new.html, "meta": new.meta}}
            )
            if done.modified_count:
                return new
        raise Conflict(f"event {event_id!r} kept changing while it was amended")

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
        doc = await self.event_docs.find_one(
            {"thread_ref": {"$in": list(dict.fromkeys(refs))}}, sort=[("seq", DESCENDING)]
        )
        return None if doc is None else event_from_doc(with_id(doc))

    async def _last_inbound(self, customer_id: str, channel: str) -> Event | None:
        doc = await self.event_docs.find_one(
            {
                "customer_id": customer_id,
                "channel": channel,
                "direction": Direction.IN.value,
                "identity": {"$ne": None},
            },
            sort=[("seq", DESCENDING)],
        )
        return None if doc is None else event_from_doc(with_id(doc))

    async def _latest_events(self, conversation_id: str, limit: int) -> list[Event]:
        found = (
            self.event_docs.find({"conversation_id": conversation_id})
            .sort("seq", DESCENDING)
            .limit(clamp(limit))
        )
        docs = [doc async for doc in found]
        return [event_from_doc(with_id(doc)) for doc in reversed(docs)]

    async def unread_counts(self, after: dict[str, int], *, cap: int = 99) -> dict[str, int]:
        if not after:
            return {}
        match = {
            "direction": Direction.IN.value,
            "$or": [{"conversation_id": cid, "seq": {"$gt": seq}} for cid, seq in after.items()],
        }
        counts = dict.fromkeys(after, 0)
        pipeline: list[Doc] = [
            {"$match": match},
            {"$group": {"_id": "$conversation_id", "n": {"$sum": 1}}},
        ]
        async for doc in await self.event_docs.aggregate(pipeline):
            counts[doc["_id"]] = min(int(doc["n"]), cap)
        return counts

    async def macro_usage(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, int]:
        """Replies sent from each macro in [``since``, ``until``), by macro id."""
        match: Doc = {"direction": "out", "meta.macro": {"$exists": True}}
        when: Doc = {}
        if since is not None:
            when["$gte"] = since
        if until is not None:
            when["$lt"] = until
        if when:
            match["occurred_at"] = when
        pipeline: list[Doc] = [
            {"$match": match},
            {"$group": {"_id": "$meta.macro", "n": {"$sum": 1}}},
        ]
        return {
            str(doc["_id"]): int(doc["n"])
            async for doc in await self.event_docs.aggregate(pipeline)
        }

    async def conversation_events(self, conversation_ids: list[str]) -> dict[str, list[Event]]:
        ids = list(dict.fromkeys(conversation_ids))
        out: dict[str, list[Event]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            found = self.event_docs.find({"conversation_id": {"$in": ids[start : start + 500]}})
            async for doc in found:
                event = event_from_doc(with_id(doc))
                assert event.conversation_id is not None
                out[event.conversation_id].append(event)
        for events in out.values():
            events.sort(key=lambda e: e.seq)
        return out

    async def report_marks(self, since: datetime) -> dict[str, tuple[str, str]]:
        convs = [d async for d in self.conversations.find({"last_activity_at": {"$gte": since}})]
        ids = [d["_id"] for d in convs]
        customers = list({d["customer_id"] for d in convs})
        updated: dict[str, Any] = {}
        events: dict[str, str] = {}
        for start in range(0, len(ids), 500):  # never more customers than conversations
            part = customers[start : start + 500]
            found = self.customers.find({"_id": {"$in": part}}, {"updated_at": 1})
            async for doc in found:
                updated[doc["_id"]] = doc.get("updated_at")
            # summed here: FerretDB answers only a $group's first accumulator right
            sums: dict[str, list[int]] = {}
            query = {"conversation_id": {"$in": ids[start : start + 500]}}
            async for doc in self.event_docs.find(query, {"conversation_id": 1, "seq": 1}):
                n_s = sums.setdefault(doc["conversation_id"], [0, 0])
                n_s[0] += 1
                n_s[1] += int(doc.get("seq") or 0)
            events |= {conv: f"{n}:{total}" for conv, (n, total) in sums.items()}
        out: dict[str, tuple[str, str]] = {}
        for d in convs:
            mark = events.get(d["_id"], "")
            out[d["_id"]] = (mark, repr((sorted(d.items()), updated.get(d["customer_id"]), mark)))
        return out

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


def stored_event(doc: Doc) -> Event:
    """An event document as it reads back (times in milliseconds) as the model record."""
    return event_from_doc(with_id(stored(doc)))
