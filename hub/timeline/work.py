"""Units of work: the pipeline plans a change, a store executes it atomically.

A **plan** is a generator: it yields read requests (the dataclasses below),
receives each answer, and finally returns :class:`Writes` — everything the
change stores. :meth:`~hub.timeline.store.TimelineStore.run` drives it::

    def plan() -> Plan:
        sender = yield Sender(identity)          # answer: SenderInfo
        head = yield Head(sender.customer.id)    # answer: Conversation | None
        ...
        return Writes(customer_id=..., events=[...])

    outcome = await store.run(plan)

How each adapter keeps a unit atomic, in the fewest round trips its engine allows:

* **SQLite** runs the whole generator and the writes inside one
  ``BEGIN IMMEDIATE`` transaction, in one hop to the database thread: nothing
  can change between a read and the write that depends on it.
* **MongoDB** answers each read with one command and writes with
  single-document operations; unique indexes settle every race between
  instances — a new customer's identity, an event's dedupe key, the
  conversation that follows the customer's latest one, and the customer's
  timeline itself: each event names the event it follows (``after``), and only
  one event may follow a given one. A unit that loses such a race is re-planned
  from the start, so one customer's units take effect one after another.

Rules for plans: no I/O but yielded reads, no ``await``, no asyncio (SQLite runs
them on its database thread), and they may run more than once, so they must
not change anything outside what they return.

Every unit appends its events in order with increasing ``seq`` and folds each
into its conversation's summary; readers paging a timeline by cursor never pass
an event whose unit has not committed. If the *last* planned event's dedupe key
(``channel`` + ``external_id``) is stored already, the unit writes nothing and
the outcome carries the stored event with ``created=False``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from hub.timeline.handoff import LinkSuggestion
from hub.timeline.model import Conversation, Event, Identity

__all__ = [
    "ConversationEvents",
    "CustomerConversations",
    "CustomerSummary",
    "DomainCustomers",
    "Expectation",
    "FindEvent",
    "GetConversation",
    "GetCustomer",
    "Head",
    "LastInbound",
    "NewCustomer",
    "OpenConversation",
    "Outcome",
    "Plan",
    "PlanFactory",
    "Read",
    "Reader",
    "Sender",
    "SenderInfo",
    "SharedOf",
    "SharedWith",
    "Suggestions",
    "ThreadParent",
    "Writes",
    "drive",
    "writes_only",
]


# -- answers -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    """The customer an identity resolves to: ``named`` is false when they may have no
    name yet (ask :class:`GetCustomer` for the record itself)."""

    id: str
    named: bool


@dataclass(frozen=True, slots=True)
class Expectation:
    """We contacted ``identity`` for ``customer_id`` in ``conversation_id`` and wait for
    a reply from it until ``until`` ("text me instead": a reply proves the number)."""

    identity: Identity
    customer_id: str
    conversation_id: str
    until: datetime
    purpose: str = "text_me"


@dataclass(frozen=True, slots=True)
class SenderInfo:
    """Who owns an identity (following merges), and any reply we expect from it."""

    customer: CustomerSummary | None
    expectation: Expectation | None = None


# -- reads ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sender:
    """Answer: :class:`SenderInfo` for ``identity``."""

    identity: Identity


@dataclass(frozen=True, slots=True)
class Head:
    """Answer: the conversation of the customer's latest event that has one (their most
    recently active conversation), or ``None``."""

    customer_id: str


@dataclass(frozen=True, slots=True)
class GetConversation:
    """Answer: the :class:`~hub.timeline.model.Conversation`, or ``None``."""

    conversation_id: str


@dataclass(frozen=True, slots=True)
class GetCustomer:
    """Answer: the :class:`~hub.timeline.model.Customer` as stored, or ``None``."""

    customer_id: str


@dataclass(frozen=True, slots=True)
class ThreadParent:
    """Answer: the most recent event whose ``thread_ref`` is one of ``refs``, or ``None``."""

    refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OpenConversation:
    """Answer: the customer's most recently active conversation that is not resolved
    (with ``channel``: one that used it), or ``None``."""

    customer_id: str
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerConversations:
    """Answer: up to ``limit`` of the customer's conversations, most recently active first
    (``open_only``: not resolved)."""

    customer_id: str
    limit: int = 10
    open_only: bool = False


@dataclass(frozen=True, slots=True)
class ConversationEvents:
    """Answer: the conversation's latest ``limit`` events, oldest first."""

    conversation_id: str
    limit: int = 200


@dataclass(frozen=True, slots=True)
class LastInbound:
    """Answer: the customer's latest inbound event on ``channel`` with an identity, or ``None``."""

    customer_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class FindEvent:
    """Answer: the event stored under ``(channel, external_id)``, or ``None``."""

    channel: str
    external_id: str


@dataclass(frozen=True, slots=True)
class DomainCustomers:
    """Answer: ``customers_on_email_domain(domain, limit=limit)``."""

    domain: str
    limit: int = 200


@dataclass(frozen=True, slots=True)
class Suggestions:
    """Answer: the suggestions naming ``customer_id`` on either side, newest first."""

    customer_id: str
    limit: int = 500


@dataclass(frozen=True, slots=True)
class SharedWith:
    """Answer: the ids of the customers an agent said also use ``identity`` (besides its
    owner: a household phone), oldest first, as a tuple."""

    identity: Identity


@dataclass(frozen=True, slots=True)
class SharedOf:
    """Answer: the identities shared with ``customer_id`` (owned by others), as a tuple."""

    customer_id: str


Read = (
    Sender
    | Head
    | GetConversation
    | GetCustomer
    | ThreadParent
    | OpenConversation
    | CustomerConversations
    | ConversationEvents
    | LastInbound
    | FindEvent
    | DomainCustomers
    | Suggestions
    | SharedWith
    | SharedOf
)


# -- writes and outcome --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """A customer the unit creates, owning ``identity`` (which must still be unowned)."""

    id: str
    identity: Identity
    name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Writes:
    """What a plan stores, all or nothing.

    ``customer_id`` is the customer the events belong to (``new_customer.id``
    when the unit creates one). ``set_name`` names a customer who has no name
    yet. ``link`` attaches an unowned identity to the customer (verified
    evidence; the plan records why in a ``link`` event). ``new_conversation``
    is inserted before the events. ``events`` are appended in order and folded
    into their conversations. ``suggestions`` are added (one per customer and
    identity pair). ``expect`` remembers a reply we wait for. ``read`` lists
    conversations exactly as this unit's reads answered them (an adapter may fold
    into these instead of reading them again).
    """

    customer_id: str
    events: list[Event] = field(default_factory=list)
    new_customer: NewCustomer | None = None
    set_name: str | None = None
    link: Identity | None = None
    new_conversation: Conversation | None = None
    suggestions: list[LinkSuggestion] = field(default_factory=list)
    expect: Expectation | None = None
    read: list[Conversation] = field(default_factory=list)


@dataclass(slots=True)
class Outcome:
    """What a unit did.

    ``event`` is the last planned event as stored (or the stored duplicate,
    with ``created`` false and nothing written); ``created_events`` every event
    the unit appended, in order; ``conversations`` each folded conversation as
    it is now.
    """

    customer_id: str
    event: Event | None = None
    created: bool = False
    created_events: list[Event] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    new_customer: bool = False
    suggestions: list[LinkSuggestion] = field(default_factory=list)

    @property
    def conversation(self) -> Conversation | None:
        """The conversation of ``event`` as it is now, if the unit folded one."""
        if self.event is None or self.event.conversation_id is None:
            return None
        return next((c for c in self.conversations if c.id == self.event.conversation_id), None)


Plan = Generator[Read, Any, Writes]
PlanFactory = Callable[[], Plan]

T = TypeVar("T")


class Reader(Protocol):
    """Anything that answers a read outside a unit (the store's ``read``)."""

    def read(self, request: Read) -> Awaitable[Any]: ...


async def drive(reader: Reader, step: Generator[Read, Any, T]) -> T:
    """Run a read-only step (a generator yielding reads) against ``reader``; its result.

    Each read is answered on its own, so the answers need not be consistent with
    each other: for decisions that write, use a unit of work instead.
    """
    answer: Any = None
    while True:
        try:
            request = step.send(answer)
        except StopIteration as stop:
            result: T = stop.value
            return result
        answer = await reader.read(request)


def writes_only(writes: Writes) -> Plan:
    """A plan that reads nothing and returns ``writes`` (``functools.partial`` it)."""
    return writes
    yield  # pragma: no cover - makes this a generator
