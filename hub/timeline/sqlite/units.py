"""Units of work on SQLite: a plan and its writes in one transaction, one hop.

:meth:`UnitOps.run` takes the plan (see :mod:`hub.timeline.work`) to the
database thread and, inside one transaction (shared with the units queued
beside it, each in its own savepoint: :mod:`.engine`), answers each
read the plan yields, then applies what it returns: the new customer and its
identity, the new conversation, the events (inserted with their dedupe keys
arbitrated by the unique index) folded into their conversations, suggestions
and expectations. Nothing can change between the reads and the writes, in this
process or another one sharing the file.
"""

from __future__ import annotations

import functools
import sqlite3
from datetime import datetime
from typing import Any

from hub.errors import Conflict, IdentityTaken
from hub.timeline.fold import fold
from hub.timeline.handoff import LinkSuggestion
from hub.timeline.model import Conversation, Event, Identity, utcnow
from hub.timeline.sqlite.base import SQLiteBase, parse_ts, ts
from hub.timeline.sqlite.conversations import (
    conversation,
    conversation_by_id,
    conversations_of,
    insert_conversation,
    open_conversation_of,
)
from hub.timeline.sqlite.customers import (
    customer_record,
    insert_customer,
    insert_identity,
    survivor_row,
)
from hub.timeline.sqlite.engine import one, run
from hub.timeline.sqlite.events import (
    event_by_key,
    insert_event,
    last_inbound,
    latest_events,
    save_fold,
    thread_parent,
)
from hub.timeline.sqlite.handoff import (
    domain_customers,
    insert_suggestion,
    shared_of,
    shared_with,
    suggestions_of,
)
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

__all__ = ["UnitOps"]

_SENDER = """
    SELECT i.customer_id AS customer_id, c.name AS name, c.merged_into AS merged_into,
           x.customer_id AS x_customer,
           x.conversation_id AS x_conversation, x.until AS x_until, x.purpose AS x_purpose
    FROM (SELECT ? AS k) q
    LEFT JOIN identities i ON i.key = q.k
    LEFT JOIN customers c ON c.id = i.customer_id
    LEFT JOIN expectations x ON x.identity = q.k
"""
_HEAD = """
    SELECT c.* FROM events e JOIN conversations c ON c.id = e.conversation_id
    WHERE e.customer_id = ? AND e.conversation_id IS NOT NULL
    ORDER BY e.seq DESC LIMIT 1
"""


class _Duplicate(Exception):
    """The unit's last event is stored already: roll back, answer with the stored one."""

    def __init__(self, event: Event) -> None:
        super().__init__(event.id)
        self.event = event


def _sender(conn: sqlite3.Connection, identity: Identity, now: datetime) -> SenderInfo:
    row = one(conn, _SENDER, (str(identity),))
    assert row is not None
    customer: CustomerSummary | None = None
    if row["customer_id"] is not None:
        found: dict[str, Any] | None = {"id": row["customer_id"], "name": row["name"]}
        if row["merged_into"] is not None:  # a merge is being finished: follow it
            found = survivor_row(conn, row["customer_id"])
        if found is not None:
            customer = CustomerSummary(found["id"], named=found["name"] is not None)
    expectation = None
    until = parse_ts(row["x_until"])
    if until is not None and until > now:
        expectation = Expectation(
            identity, row["x_customer"], row["x_conversation"], until, row["x_purpose"]
        )
    return SenderInfo(customer, expectation)


def _answer(conn: sqlite3.Connection, request: Read) -> Any:
    match request:
        case Sender(identity):
            return _sender(conn, identity, utcnow())
        case Head(customer_id):
            row = one(conn, _HEAD, (customer_id,))
            return None if row is None else conversation(row)
        case GetConversation(conversation_id):
            return conversation_by_id(conn, conversation_id)
        case GetCustomer(customer_id):
            found = one(conn, "SELECT * FROM customers WHERE id = ?", (customer_id,))
            return None if found is None else customer_record(conn, found)
        case ThreadParent(refs):
            return thread_parent(conn, list(refs))
        case OpenConversation(customer_id, channel):
            return open_conversation_of(conn, customer_id, channel)
        case CustomerConversations(customer_id, limit, open_only):
            return conversations_of(conn, customer_id, limit, open_only=open_only)
        case ConversationEvents(conversation_id, limit):
            return latest_events(conn, "conversation_id", conversation_id, limit)
        case LastInbound(customer_id, channel):
            return last_inbound(conn, customer_id, channel)
        case FindEvent(channel, external_id):
            return event_by_key(conn, f"{channel}\x1f{external_id}")
        case DomainCustomers(domain, limit):
            return domain_customers(conn, domain, limit)
        case Suggestions(customer_id, limit):
            return suggestions_of(conn, customer_id, limit)
        case SharedWith(identity):
            return shared_with(conn, identity)
        case SharedOf(customer_id):
            return shared_of(conn, customer_id)
    raise TypeError(f"not a read a plan can ask for: {request!r}")


def _plan(conn: sqlite3.Connection, factory: PlanFactory) -> Writes:
    plan = factory()
    answer: Any = None
    while True:
        try:
            request = plan.send(answer)
        except StopIteration as stop:
            writes: Writes = stop.value
            return writes
        answer = _answer(conn, request)


def _customer(conn: sqlite3.Connection, writes: Writes) -> bool:
    """Create or name the customer; True when the unit creates it."""
    new = writes.new_customer
    if new is not None:
        insert_customer(conn, new.name, new.attributes, customer_id=new.id)
        if not insert_identity(conn, new.id, new.identity):
            raise IdentityTaken(str(new.identity), "?")
    elif writes.set_name:
        run(
            conn,
            "UPDATE customers SET name = ?, updated_at = ? WHERE id = ? AND name IS NULL",
            (writes.set_name, ts(utcnow()), writes.customer_id),
        )
    if writes.link is not None and not insert_identity(conn, writes.customer_id, writes.link):
        raise IdentityTaken(str(writes.link), "?")
    return new is not None


def _append(conn: sqlite3.Connection, writes: Writes) -> tuple[list[Event], list[Conversation]]:
    known = {c.id: c for c in writes.read}
    convs: dict[str, Conversation] = {}
    if writes.new_conversation is not None:
        convs[writes.new_conversation.id] = writes.new_conversation
    stored: list[Event] = []
    last = len(writes.events) - 1
    for index, record in enumerate(writes.events):
        record.origin_customer_id = record.origin_customer_id or record.customer_id
        seq = insert_event(conn, record)
        if seq is None:
            existing = event_by_key(conn, record.dedupe_key)
            assert existing is not None
            if index == last:
                raise _Duplicate(existing)
            continue
        record.seq = seq
        stored.append(record)
        cid = record.conversation_id
        if cid is None:
            continue
        conv = convs.get(cid) or known.get(cid)
        if conv is not None:
            convs[cid] = conv
        else:
            found = one(conn, "SELECT * FROM conversations WHERE id = ?", (cid,))
            if found is None:
                continue
            conv = convs[cid] = conversation(found)
        fold(conv, record)
    if writes.new_conversation is not None:
        insert_conversation(conn, writes.new_conversation)
    for conv in convs.values():
        if conv is not writes.new_conversation:
            save_fold(conn, conv)
    return stored, list(convs.values())


def _suggest(conn: sqlite3.Connection, writes: Writes) -> list[LinkSuggestion]:
    return [s for s in writes.suggestions if insert_suggestion(conn, s)[1]]


def _expect(conn: sqlite3.Connection, expectation: Expectation) -> None:
    run(
        conn,
        "INSERT INTO expectations (identity, customer_id, conversation_id, until, purpose) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (identity) DO UPDATE SET "
        "customer_id = excluded.customer_id, conversation_id = excluded.conversation_id, "
        "until = excluded.until, purpose = excluded.purpose",
        (
            str(expectation.identity),
            expectation.customer_id,
            expectation.conversation_id,
            ts(expectation.until),
            expectation.purpose,
        ),
    )


def _apply(conn: sqlite3.Connection, factory: PlanFactory) -> Outcome:
    writes = _plan(conn, factory)
    new_customer = _customer(conn, writes)
    events, convs = _append(conn, writes)
    suggestions = _suggest(conn, writes)
    if writes.expect is not None:
        _expect(conn, writes.expect)
    planned = writes.events[-1] if writes.events else None
    return Outcome(
        customer_id=writes.customer_id,
        event=planned,
        created=planned is not None,
        created_events=events,
        conversations=convs,
        new_customer=new_customer,
        suggestions=suggestions,
    )


class UnitOps(SQLiteBase):
    """``run``: units of work in one transaction and one hop."""

    async def run(self, plan: PlanFactory) -> Outcome:
        """Run ``plan`` and apply its writes atomically (see :mod:`hub.timeline.work`)."""
        try:
            return await self._unit(_apply, plan)
        except _Duplicate as dup:
            return Outcome(customer_id=dup.event.customer_id, event=dup.event, created=False)
        except IdentityTaken as exc:
            raise Conflict(f"{exc.identity} belongs to another customer already") from None

    async def read(self, request: Read) -> Any:
        """Answer one read outside a unit (see :func:`hub.timeline.work.drive`)."""
        return await self._query(_answer, request)

    async def append_event(self, event: Event) -> tuple[Event, bool]:
        """Append one event as its own unit (dedupe on its key, folded, ``seq`` assigned)."""
        outcome = await self.run(functools.partial(writes_only, Writes(event.customer_id, [event])))
        assert outcome.event is not None
        return outcome.event, outcome.created
