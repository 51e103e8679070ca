"""Units of work on MongoDB: a command per read, single-document writes, unique indexes.

:meth:`UnitOps.run` answers each read a plan yields with one command, then
writes in an order that keeps every intermediate state harmless:

1. a new customer's document, then its identity (the unique ``key`` decides
   who owns it; the loser deletes its customer and re-plans);
2. a linked identity (taken meanwhile: re-plan, the plan will suggest instead);
3. a new conversation, already folded with its events (its ``open_key`` names
   the conversation it follows, so two instances opening "the next
   conversation" for one customer open one; the loser joins it);
4. the events, each chained after the customer's latest (:mod:`.events`);
   the last one's dedupe key taken means a replay: what the unit wrote is
   removed and the stored event is the answer;
5. the fold of each existing conversation, suggestions, expectations.

A customer's known path costs five commands: the sender (identity and any
expected reply in one query), the latest event, its conversation, the insert,
the fold.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from hub.errors import Conflict, NotFound
from hub.timeline.codec import aware
from hub.timeline.fold import fold
from hub.timeline.model import Conversation, Event, Identity, utcnow
from hub.timeline.mongo.base import Doc, stored
from hub.timeline.mongo.conversations import ConversationOps, conversation, conversation_doc
from hub.timeline.mongo.events import Collision, EventOps, event_doc, stored_event
from hub.timeline.mongo.handoff import HandoffOps
from hub.timeline.store import InboxFilter
from hub.timeline.work import (
    ConversationEvents,
    CustomerConversations,
    CustomerSummary,
    DomainCustomers,
    Expectation,
    FindEvent,
    GetConversation,
    GetCustomer,
    Head,
    LastInbound,
    OpenConversation,
    Outcome,
    PlanFactory,
    Read,
    Sender,
    SenderInfo,
    SharedOf,
    SharedWith,
    Suggestions,
    ThreadParent,
    Writes,
    writes_only,
)

__all__ = ["UnitOps", "expectation_key"]

_ATTEMPTS = 30


def expectation_key(identity: Identity) -> str:
    """Where a reply we wait for from ``identity`` is kept: in ``identities``, under a key
    no identity can have (kinds are alphanumeric), so one query finds both."""
    return f"~expect:{identity}"


class _Replan(Exception):
    """A race was lost: run the plan again from the start."""


class _State:
    """What one attempt learnt: each customer's latest ``seq``, and whose head the plan
    decided on (an event of theirs must follow exactly that; others may follow any)."""

    def __init__(self) -> None:
        self.latest: dict[str, int] = {}
        self.decided_on: set[str] = set()


class UnitOps(ConversationOps, EventOps, HandoffOps):
    """``run``: units of work (see the module docstring)."""

    async def run(self, plan: PlanFactory) -> Outcome:
        """Run ``plan`` and apply its writes (see :mod:`hub.timeline.work`)."""
        for attempt in range(_ATTEMPTS):
            try:
                return await self._attempt(plan)
            except _Replan:
                ceiling = min(0.25, 0.002 * 2**attempt)
                await asyncio.sleep(ceiling / 2 + random.random() * ceiling / 2)  # noqa: S311
        raise Conflict("the customer's timeline kept changing; try again")

    async def read(self, request: Read) -> Any:
        """Answer one read outside a unit (see :func:`hub.timeline.work.drive`)."""
        return await self._answer(request, _State())

    async def append_event(self, event: Event) -> tuple[Event, bool]:
        """Append one event as its own unit (dedupe on its key, folded, ``seq`` assigned)."""
        outcome = await self.run(lambda: writes_only(Writes(event.customer_id, [event])))
        assert outcome.event is not None
        return outcome.event, outcome.created

    async def _attempt(self, factory: PlanFactory) -> Outcome:
        state = _State()
        plan = factory()
        answer: Any = None
        while True:
            try:
                request = plan.send(answer)
            except StopIteration as stop:
                writes: Writes = stop.value
                break
            answer = await self._answer(request, state)
        return await self._apply(writes, state)

    # -- reads ----------------------------------------------------------------------

    async def _answer(self, request: Read, state: _State) -> Any:
        match request:
            case Sender(identity):
                return await self._sender(identity)
            case Head(customer_id):
                return await self._head(customer_id, state)
            case GetConversation(conversation_id):
                found = await self.conversations.find_one({"_id": conversation_id})
                return None if found is None else conversation(found)
            case GetCustomer(customer_id):
                try:
                    return await self.get_customer(customer_id)
                except NotFound:
                    return None
            case ThreadParent(refs):
                return await self.find_event_by_thread_ref(list(refs))
            case OpenConversation(customer_id, channel):
                return await self.find_open_conversation(customer_id, channel=channel)
            case CustomerConversations(customer_id, limit, open_only):
                inbox = InboxFilter(customer_id=customer_id) if open_only else None
                page = await self.list_conversations(
                    inbox or InboxFilter(status=(), customer_id=customer_id), limit=limit
                )
                return page.items
            case ConversationEvents(conversation_id, limit):
                return await self._latest_events(conversation_id, limit)
            case LastInbound(customer_id, channel):
                return await self._last_inbound(customer_id, channel)
            case FindEvent(channel, external_id):
                return await self.find_event(channel, external_id)
            case DomainCustomers(domain, limit):
                return await self.customers_on_email_domain(domain, limit=limit)
            case Suggestions(customer_id, limit):
                return await self.list_suggestions(customer_id=customer_id, limit=limit)
            case SharedWith(identity):
                return await self.shared_with(identity)
            case SharedOf(customer_id):
                return await self.shared_of(customer_id)
        raise TypeError(f"not a read a plan can ask for: {request!r}")

    async def _sender(self, identity: Identity) -> SenderInfo:
        key = str(identity)
        found = [
            doc
            async for doc in self.identities.find(
                {"key": {"$in": [key, expectation_key(identity)]}}
            )
        ]
        customer = expectation = None
        for doc in found:
            if doc["key"] == key and doc.get("customer_id"):
                customer = CustomerSummary(doc["customer_id"], named=bool(doc.get("named")))
            elif doc["key"] != key and isinstance(doc.get("expects"), dict):
                expects = doc["expects"]
                until = aware(expects.get("until"))
                if until is not None and until > utcnow():
                    expectation = Expectation(
                        identity,
                        expects["customer_id"],
                        expects["conversation_id"],
                        until,
                        expects.get("purpose", "text_me"),
                    )
        return SenderInfo(customer, expectation)

    async def _head(self, customer_id: str, state: _State) -> Conversation | None:
        latest = await self._latest(customer_id)
        state.latest[customer_id] = int(latest["seq"]) if latest else 0
        state.decided_on.add(customer_id)
        if latest is None:
            return None
        if latest.get("conversation_id") is None:
            latest = await self._latest(customer_id, with_conversation=True)
            if latest is None:
                return None
        found = await self.conversations.find_one({"_id": latest["conversation_id"]})
        return None if found is None else conversation(found)

    # -- writes ---------------------------------------------------------------------

    async def _apply(self, writes: Writes, state: _State) -> Outcome:
        new_customer = await self._customer(writes)
        if new_customer:
            state.latest[writes.customer_id] = 0  # nothing of theirs to follow yet
        opened = await self._open(writes)
        try:
            inserted = await self._insert_events(writes, state)
        except Collision as exc:
            await self._undo(writes, [], opened)
            if exc.what == "dedupe" and exc.existing is not None:
                return Outcome(customer_id=exc.existing.customer_id, event=exc.existing)
            if exc.what == "id":
                raise Conflict("an event with this id exists under another dedupe key") from None
            raise _Replan from None
        except _PartialInsert as partial:
            await self._undo(writes, partial.inserted, opened)
            if partial.existing is not None:
                return Outcome(customer_id=partial.existing.customer_id, event=partial.existing)
            raise _Replan from None
        if writes.link is not None:
            try:
                await self._attach_identity(writes.customer_id, writes.link, named=True)
            except DuplicateKeyError:
                await self._undo(writes, inserted, opened)
                raise _Replan from None
        convs: dict[str, Conversation] = {}
        if opened is not None:
            convs[opened.id] = opened
        for record in inserted:
            cid = record.conversation_id
            if cid is None or (opened is not None and cid == opened.id):
                continue
            doc = await self._fold(record)
            if doc is not None:
                convs[cid] = conversation(doc)
        suggestions = []
        for suggestion in writes.suggestions:
            made, created = await self.add_suggestion(suggestion)
            if created:
                suggestions.append(made)
        if writes.expect is not None:
            await self._expect(writes.expect)
        planned = writes.events[-1] if writes.events else None
        return Outcome(
            customer_id=writes.customer_id,
            event=planned,
            created=planned is not None,
            created_events=inserted,
            conversations=list(convs.values()),
            new_customer=new_customer,
            suggestions=suggestions,
        )

    async def _customer(self, writes: Writes) -> bool:
        new = writes.new_customer
        if new is None:
            if writes.set_name:
                named = await self.customers.update_one(
                    {"_id": writes.customer_id, "name": None},
                    {"$set": {"name": writes.set_name, "updated_at": utcnow()}},
                )
                if named.matched_count or named.modified_count:
                    await self.identities.update_many(
                        {"customer_id": writes.customer_id}, {"$set": {"named": True}}
                    )
            return False
        now = utcnow()
        await self.customers.insert_one(
            {
                "_id": new.id,
                "name": new.name,
                "attributes": dict(new.attributes),
                "merged_into": None,
                "created_at": now,
                "updated_at": now,
            }
        )
        try:
            await self._attach_identity(new.id, new.identity, named=new.name is not None)
        except DuplicateKeyError:
            await self.customers.delete_one({"_id": new.id})
            raise _Replan from None
        return True

    async def _open(self, writes: Writes) -> Conversation | None:
        """Insert the new conversation, folded with its events; ``None`` if there is none
        (or another instance opened it first: the events then go to that one)."""
        record = writes.new_conversation
        if record is None:
            return None
        for event in writes.events:
            if event.conversation_id == record.id:
                fold(record, event)
        doc = conversation_doc(record)
        try:
            await self.conversations.insert_one(doc)
        except DuplicateKeyError:
            winner = await self.conversations.find_one({"open_key": record.open_key})
            if winner is None:
                raise _Replan from None
            for event in writes.events:
                if event.conversation_id == record.id:
                    event.conversation_id = winner["_id"]
            writes.new_conversation = None
            return None
        return conversation(stored(doc))

    async def _insert_events(self, writes: Writes, state: _State) -> list[Event]:
        inserted: list[Event] = []
        last = len(writes.events) - 1
        for index, record in enumerate(writes.events):
            record.origin_customer_id = record.origin_customer_id or record.customer_id
            try:
                await self._insert_after_latest(record, state)
            except Collision as exc:
                if exc.what == "dedupe" and index != last:
                    continue
                if inserted:
                    existing = exc.existing if exc.what == "dedupe" else None
                    raise _PartialInsert(inserted, existing) from None
                raise
            state.latest[record.customer_id] = record.seq
            inserted.append(record)
        return [stored_event(_event_doc_of(e)) for e in inserted]

    async def _insert_after_latest(self, record: Event, state: _State) -> None:
        """Chain ``record`` after its customer's latest event. When the plan did not
        decide on that customer's timeline (a reply, a note), losing the race only
        means reading the latest again; otherwise the plan must be made again."""
        customer_id = record.customer_id
        for _ in range(_ATTEMPTS):
            after = state.latest.get(customer_id)
            if after is None:
                latest = await self._latest(customer_id)
                after = int(latest["seq"]) if latest else 0
            try:
                await self._insert_chained(record, after)
            except Collision as exc:
                if exc.what != "chain" or customer_id in state.decided_on:
                    raise
                state.latest.pop(customer_id, None)
                await asyncio.sleep(random.random() * 0.002)  # noqa: S311
                continue
            return
        raise Collision("chain")

    async def _undo(
        self, writes: Writes, inserted: list[Event], opened: Conversation | None
    ) -> None:
        if inserted:
            await self.event_docs.delete_many({"_id": {"$in": [e.id for e in inserted]}})
        # Another unit may have joined the conversation this one opened (its
        # open_key) and stored its events there: then it stays.
        if (
            opened is not None
            and await self.event_docs.find_one({"conversation_id": opened.id}, {"_id": 1}) is None
        ):
            await self.conversations.delete_one({"_id": opened.id})

    async def _attach_identity(self, customer_id: str, identity: Identity, *, named: bool) -> None:
        await self.identities.insert_one(
            {
                "_id": ObjectId(),
                "key": str(identity),
                "customer_id": customer_id,
                "origin_customer_id": customer_id,
                "linked_at": utcnow(),
                "named": named,
            }
        )

    async def _expect(self, expectation: Expectation) -> None:
        key = expectation_key(expectation.identity)
        doc: Doc = {
            "key": key,
            "expects": {
                "customer_id": expectation.customer_id,
                "conversation_id": expectation.conversation_id,
                "until": expectation.until,
                "purpose": expectation.purpose,
            },
        }
        for _ in range(3):
            try:
                await self.identities.replace_one({"key": key}, doc, upsert=True)
                return
            except DuplicateKeyError:
                continue


class _PartialInsert(Exception):
    """Some of the unit's events went in before one collided."""

    def __init__(self, inserted: list[Event], existing: Event | None) -> None:
        super().__init__(len(inserted))
        self.inserted = inserted
        self.existing = existing


def _event_doc_of(record: Event) -> Doc:
    doc = event_doc(record)
    doc["seq"] = record.seq
    return doc
