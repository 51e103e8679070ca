"""The bus never blocks a publisher; a subscriber that falls behind is told to resync."""

from __future__ import annotations

from hub.bus import Bus, BusMessage, Resync


def note(n: int) -> BusMessage:
    return BusMessage("event.created", f"cus_{n}", data={"n": n})


async def test_subscribers_receive_what_their_filter_accepts() -> None:
    bus = Bus()
    everything = bus.subscribe()
    odd = bus.subscribe(lambda m: m.data["n"] % 2 == 1)
    for n in range(4):
        bus.publish(note(n))
    got_all = [await everything.get() for _ in range(4)]
    assert [m.data["n"] for m in got_all if isinstance(m, BusMessage)] == [0, 1, 2, 3]
    got_odd = [await odd.get() for _ in range(2)]
    assert [m.data["n"] for m in got_odd if isinstance(m, BusMessage)] == [1, 3]


async def test_slow_subscriber_is_dropped_with_resync_and_others_keep_up() -> None:
    bus = Bus()
    slow = bus.subscribe(maxsize=3)
    fast = bus.subscribe(maxsize=100)
    for n in range(10):
        bus.publish(note(n))  # never awaits, never raises
    received = [m async for m in slow]
    assert len(received) == 1 and isinstance(received[0], Resync)
    assert slow.closed and bus.subscriber_count == 1
    assert [(await fast.get()).data["n"] for _ in range(10)] == list(range(10))  # type: ignore[union-attr]


async def test_closing_delivers_what_was_queued_then_ends_iteration() -> None:
    bus = Bus()
    sub = bus.subscribe()
    bus.publish(note(1))
    sub.close()
    bus.publish(note(2))
    got = [m async for m in sub]
    assert [m.data["n"] for m in got if isinstance(m, BusMessage)] == [1]
    assert bus.subscriber_count == 0
