"""Rate limits keep every key's count however many keys arrive (eviction is per key)."""

from __future__ import annotations

from hub.ratelimit import SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_of_new_keys_does_not_reset_a_limited_one() -> None:
    clock = Clock()
    limit = SlidingWindow(3, 60, max_keys=50_000, clock=clock)
    assert [limit.allow("abuser") for _ in range(4)] == [True, True, True, False]
    for n in range(60_000):  # one address per request, as a botnet would
        limit.allow(f"203.0.{n // 256}.{n % 256}")
        if n % 1000 == 0:
            assert not limit.allow("abuser")
    assert not limit.allow("abuser")
    assert len(limit) <= 50_000


def test_the_window_slides_and_memory_stays_bounded() -> None:
    clock = Clock()
    limit = SlidingWindow(2, 10, max_keys=100, clock=clock)
    assert limit.allow("a") and limit.allow("a") and not limit.allow("a")
    clock.now += 5
    assert not limit.allow("a")
    clock.now += 5.01
    assert limit.allow("a")
    for n in range(1000):
        assert limit.allow(f"k{n}")
    assert len(limit) == 100
