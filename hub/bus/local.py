"""The bus port and its in-process adapter: publish/subscribe for timeline changes.

:class:`Bus` is both the port and the in-process adapter (one process, the
embedded default); other adapters (:class:`hub.bus.mongo.MongoBus`) subclass it,
keep its local fan-out and carry messages between instances.

Publishing never waits: each subscriber has a bounded queue, and a subscriber
that falls behind is dropped and handed a :class:`Resync` marker, after which
it re-reads what it needs from the store (by cursor) and subscribes again.
Ingest is never slowed down by a slow websocket.

A subscription may name what it concerns — a ``customer``, a ``conversation`` or
an ``agent`` — and is then filed under that key: a publish touches only the
subscriptions filed under the keys its message carries (:func:`keys_of`) and the
unkeyed ones, so its cost does not grow with unrelated subscribers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from hub.timeline.model import Conversation, Event

__all__ = ["Bus", "BusMessage", "Resync", "Subscription", "Topic", "keys_of"]

log = logging.getLogger("hub.bus")


class Topic:
    """What a :class:`BusMessage` is about: a stored change (event created or
    updated, conversation or customer updated) or an ephemeral signal."""

    EVENT_CREATED = "event.created"
    EVENT_UPDATED = "event.updated"
    CONVERSATION_UPDATED = "conversation.updated"
    CUSTOMER_UPDATED = "customer.updated"
    # Ephemeral signals (nothing stored); ``data`` says who and where:
    TYPING = "conversation.typing"
    """``{"from": "agent"|"customer", "typing": bool, "agent"?, "conversation_id"?}``"""
    VIEWING = "conversation.viewing"
    """An agent has the conversation open: ``{"agent", "name", "conversation_id", "viewing"}``."""
    READ = "conversation.read"
    """An agent read the customer's messages: ``{"agent", "up_to": event id}``."""
    AGENT_PRESENCE = "agent.presence"
    """``{"agent": id, "online": bool}``; ``customer_id`` is ``""``."""


@dataclass(frozen=True, slots=True)
class BusMessage:
    """One change: ``topic`` plus the record it concerns."""

    topic: str
    customer_id: str
    event: Event | None = None
    conversation: Conversation | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resync:
    """Delivered instead of messages that were dropped; the subscription has ended."""

    reason: str


Filter = Callable[[BusMessage], bool]
Key = tuple[str, str]


def keys_of(message: BusMessage) -> list[Key]:
    """The index keys ``message`` concerns: its customer, its conversation (the
    conversation's, the event's or ``data["conversation_id"]``) and its agent
    (``data["agent"]``, or the conversation's assignee)."""
    keys: list[Key] = []
    if message.customer_id:
        keys.append(("customer", message.customer_id))
    conv, event, data = message.conversation, message.event, message.data
    conversation_id = (
        conv.id if conv is not None else event.conversation_id if event is not None else None
    ) or data.get("conversation_id")
    if isinstance(conversation_id, str):
        keys.append(("conversation", conversation_id))
    agent = data.get("agent") or (conv.assignee if conv is not None else None)
    if isinstance(agent, str) and agent:
        keys.append(("agent", agent))
    return keys


class Subscription:
    """Receive messages with ``async for``; ends after a :class:`Resync` or ``close``."""

    def __init__(
        self, bus: Bus, maxsize: int, accept: Filter | None, key: Key | None = None
    ) -> None:
        self._bus = bus
        self.key = key
        self._queue: asyncio.Queue[BusMessage | Resync | None] = asyncio.Queue(maxsize + 1)
        self._maxsize = maxsize
        self._accept = accept
        self.closed = False

    def _offer(self, message: BusMessage) -> None:
        if self.closed or (self._accept is not None and not self._accept(message)):
            return
        if self._queue.qsize() >= self._maxsize:
            self._drop("subscriber fell behind")
            return
        self._queue.put_nowait(message)

    def _drop(self, reason: str, *, warn: bool = True) -> None:
        if self.closed:
            return
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(Resync(reason))
        self.closed = True
        self._bus._remove(self)
        if warn:
            self._bus.dropped += 1
            log.warning("bus subscriber dropped: %s", reason)

    async def get(self) -> BusMessage | Resync | None:
        """The next message, a Resync (then nothing more), or None once closed."""
        if self.closed and self._queue.empty():
            return None
        return await self._queue.get()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._remove(self)
            self._queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[BusMessage | Resync]:
        while True:
            item = await self.get()
            if item is None:
                return
            yield item
            if isinstance(item, Resync):
                return

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Bus:
    """The hub's fan-out to its subscribers, in this process.

    The port every adapter keeps: :meth:`subscribe`, :meth:`publish` (never
    waits), :meth:`start` / :meth:`stop` from the hub's lifespan, and
    :meth:`close`. This class is the in-process adapter: nothing leaves the
    process, so start and stop only close subscriptions.
    """

    def __init__(self, default_maxsize: int = 1000) -> None:
        self._subscribers: set[Subscription] = set()
        self._unkeyed: set[Subscription] = set()
        self._index: dict[Key, set[Subscription]] = {}
        self.default_maxsize = default_maxsize
        self.dropped = 0
        """Subscribers dropped for falling behind, since start (``/metrics``)."""
        self.resyncs = 0
        """Subscribers told to resync because messages may have been missed."""

    def subscribe(
        self,
        accept: Filter | None = None,
        *,
        maxsize: int | None = None,
        customer: str | None = None,
        conversation: str | None = None,
        agent: str | None = None,
    ) -> Subscription:
        """A new subscription receiving the messages ``accept`` lets through; naming a
        ``customer``, ``conversation`` or ``agent`` (at most one) limits it to the
        messages concerning it (see :func:`keys_of`)."""
        named = [
            (kind, value)
            for kind, value in (
                ("customer", customer),
                ("conversation", conversation),
                ("agent", agent),
            )
            if value is not None
        ]
        if len(named) > 1:
            raise ValueError("a subscription names at most one customer, conversation or agent")
        key = named[0] if named else None
        sub = Subscription(self, maxsize or self.default_maxsize, accept, key)
        self._subscribers.add(sub)
        if key is None:
            self._unkeyed.add(sub)
        else:
            self._index.setdefault(key, set()).add(sub)
        return sub

    def publish(self, message: BusMessage) -> None:
        """Hand ``message`` to every subscriber without waiting."""
        self._fan_out(message)

    async def flush(self) -> None:
        """Wait until what this instance published has been handed to the other
        instances' transport (in process: at once)."""

    def _fan_out(self, message: BusMessage) -> None:
        targets = list(self._unkeyed)
        for key in keys_of(message):
            filed = self._index.get(key)
            if filed:
                targets.extend(filed)
        for sub in targets:
            sub._offer(message)

    def resync_all(self, reason: str) -> None:
        """End every subscription with a :class:`Resync` (messages may have been missed)."""
        subscribers = list(self._subscribers)
        for sub in subscribers:
            sub._drop(reason, warn=False)
        self.resyncs += len(subscribers)
        if subscribers:
            log.warning("bus: %d subscribers told to resync: %s", len(subscribers), reason)

    async def start(self) -> None:
        """Begin carrying messages (the in-process adapter has nothing to start)."""

    async def stop(self) -> None:
        """Stop carrying messages and close every subscription."""
        self.close()

    def _remove(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
        if sub.key is None:
            self._unkeyed.discard(sub)
            return
        filed = self._index.get(sub.key)
        if filed is not None:
            filed.discard(sub)
            if not filed:
                del self._index[sub.key]

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        for sub in list(self._subscribers):
            sub.close()
