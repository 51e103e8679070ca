"""The bus contract, run on every adapter: in-process and MongoDB (two instances on one
database, as two hub processes would be).

A publisher never blocks; a subscriber that falls behind is told to resync; what one
instance publishes reaches the subscribers of every instance, in order, exactly once,
or they are told to resync — never a silent gap.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from hub.bus import Bus, BusMessage, Resync, Subscription, Topic
from hub.bus.mongo import MongoBus
from hub.timeline.model import Conversation, Direction, Event, utcnow

WAIT = 10.0


@dataclass
class Instances:
    """Buses of hub instances sharing one backend (the in-process one is its own peer)."""

    make: Callable[..., Bus]
    started: list[Bus] = field(default_factory=list)

    async def start(self, **options: Any) -> Bus:
        bus = self.make(**options)
        await bus.start()
        self.started.append(bus)
        return bus


@pytest.fixture(params=["memory", pytest.param("mongo", marks=pytest.mark.mongo)])
async def instances(request: pytest.FixtureRequest) -> AsyncIterator[Instances]:
    if request.param == "memory":
        shared = Bus()
        yield Instances(lambda **_: shared)
        await shared.stop()
        return
    uri: str = request.getfixturevalue("mongo_uri")
    name = f"omnihub_bus_{uuid.uuid4().hex[:10]}"
    clients: list[AsyncMongoClient[dict[str, Any]]] = []

    def make(**options: Any) -> Bus:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
        clients.append(client)
        return MongoBus(lambda: client[name], **options)

    found = Instances(make)
    yield found
    for bus in found.started:
        await bus.stop()
    if clients:
        await clients[0].drop_database(name)
    for client in clients:
        await client.close()


def note(n: int) -> BusMessage:
    return BusMessage("event.created", f"cus_{n}", data={"n": n})


async def collect(sub: Subscription, count: int) -> list[BusMessage | Resync]:
    got: list[BusMessage | Resync] = []
    async with asyncio.timeout(WAIT):
        async for item in sub:
            got.append(item)
            if len(got) == count:
                break
    return got


async def test_subscribers_receive_what_their_filter_accepts(instances: Instances) -> None:
    bus = await instances.start()
    everything = bus.subscribe()
    odd = bus.subscribe(lambda m: m.data["n"] % 2 == 1)
    for n in range(4):
        bus.publish(note(n))
    got_all = [await everything.get() for _ in range(4)]
    assert [m.data["n"] for m in got_all if isinstance(m, BusMessage)] == [0, 1, 2, 3]
    got_odd = [await odd.get() for _ in range(2)]
    assert [m.data["n"] for m in got_odd if isinstance(m, BusMessage)] == [1, 3]


async def test_a_keyed_subscription_receives_only_what_concerns_its_key(
    instances: Instances,
) -> None:
    a, b = await instances.start(), await instances.start()
    ana = b.subscribe(customer="cus_1")
    room = b.subscribe(conversation="conv_9")
    sam = b.subscribe(agent="ag_sam")
    everything = b.subscribe()
    signal = {"conversation_id": "conv_9", "agent": "ag_sam"}
    a.publish(note(0))
    a.publish(note(1))
    a.publish(BusMessage(Topic.TYPING, "cus_2", data={"n": 2, **signal}))
    a.publish(note(3))
    a.publish(BusMessage(Topic.TYPING, "cus_1", data={"n": 4, **signal}))
    got = await collect(everything, 5)
    assert [m.data["n"] for m in got if isinstance(m, BusMessage)] == [0, 1, 2, 3, 4]
    for sub, expected in ((ana, [1, 4]), (room, [2, 4]), (sam, [2, 4])):
        seen = await collect(sub, 2)
        assert [m.data["n"] for m in seen if isinstance(m, BusMessage)] == expected
    with pytest.raises(ValueError, match="at most one"):
        b.subscribe(customer="cus_1", agent="ag_sam")


async def test_slow_subscriber_is_dropped_with_resync_and_others_keep_up(
    instances: Instances,
) -> None:
    bus = await instances.start()
    before = bus.subscriber_count
    slow = bus.subscribe(maxsize=3)
    fast = bus.subscribe(maxsize=100)
    for n in range(10):
        bus.publish(note(n))  # never awaits, never raises
    received = [m async for m in slow]
    assert len(received) == 1 and isinstance(received[0], Resync)
    assert slow.closed and bus.subscriber_count == before + 1
    assert [(await fast.get()).data["n"] for _ in range(10)] == list(range(10))  # type: ignore[union-attr]


async def test_closing_delivers_what_was_queued_then_ends_iteration(instances: Instances) -> None:
    bus = await instances.start()
    sub = bus.subscribe()
    bus.publish(note(1))
    sub.close()
    bus.publish(note(2))
    got = [m async for m in sub]
    assert [m.data["n"] for m in got if isinstance(m, BusMessage)] == [1]


async def test_another_instance_receives_records_intact_in_order_and_once(
    instances: Instances,
) -> None:
    a = await instances.start()
    b = await instances.start()
    on_a, on_b = a.subscribe(), b.subscribe()
    event = Event(
        id="evt_1",
        customer_id="cus_1",
        conversation_id="con_1",
        channel="chat",
        direction=Direction.OUT,
        author="agt_1",
        text="Your refund is on its way",
        meta={"odd.key": 1, "$also": [1, 2]},
        seq=7,
        origin_customer_id="cus_1",
    )
    now = utcnow()
    conversation = Conversation(
        id="con_1",
        customer_id="cus_1",
        origin_customer_id="cus_1",
        opened_at=now,
        last_activity_at=now,
        tags=["vip"],
    )
    a.publish(BusMessage(Topic.EVENT_CREATED, "cus_1", event=event))
    a.publish(BusMessage(Topic.CONVERSATION_UPDATED, "cus_1", conversation=conversation))
    for n in range(20):
        a.publish(note(n))
    b.publish(BusMessage(Topic.AGENT_PRESENCE, "", data={"agent": "agt_1", "online": True}))

    presence = BusMessage(Topic.AGENT_PRESENCE, "", data={"agent": "agt_1", "online": True})
    for sub in (on_b, on_a):  # each hears both instances, each message once
        heard = await collect(sub, 23)
        assert [m for m in heard if m == presence] == [presence]
        from_a = [m for m in heard if m != presence]
        assert from_a[0] == BusMessage(Topic.EVENT_CREATED, "cus_1", event=event)
        assert from_a[1] == BusMessage(
            Topic.CONVERSATION_UPDATED, "cus_1", conversation=conversation
        )
        assert [m.data["n"] for m in from_a[2:] if isinstance(m, BusMessage)] == list(range(20))
    with pytest.raises(TimeoutError):  # nothing more: a's own messages came back once
        async with asyncio.timeout(1.0):
            await on_a.get()


async def test_an_instance_started_later_hears_only_what_follows(instances: Instances) -> None:
    a = await instances.start()
    a.publish(note(1))
    await a.flush()  # published, and stored, before the late instance starts
    late = await instances.start()
    sub = late.subscribe()
    a.publish(note(2))
    got = await collect(sub, 1)
    assert [m.data["n"] for m in got if isinstance(m, BusMessage)] == [2]


async def test_a_subscriber_gets_every_message_or_a_resync_never_a_silent_gap(
    instances: Instances,
) -> None:
    a = await instances.start(backlog=4)
    b = await instances.start()
    sub = b.subscribe()
    for n in range(50):  # more than the publisher's backlog holds at once
        a.publish(note(n))
    await asyncio.sleep(0)
    a.publish(note(50))
    got: list[BusMessage | Resync] = []
    async with asyncio.timeout(WAIT):
        async for item in sub:
            got.append(item)
            if isinstance(item, BusMessage) and item.data["n"] == 50:
                break
    numbers = [m.data["n"] for m in got if isinstance(m, BusMessage)]
    assert numbers == list(range(len(numbers)))  # in order, no gap before the end
    assert isinstance(got[-1], Resync) or numbers == list(range(51))
