"""Sliding-window rate limits in memory, with per-key eviction.

Memory is bounded by ``max_keys``: past it, the least recently seen key is
forgotten (usually one whose window has long passed). An abuser who keeps
hitting stays remembered however many other keys arrive; no one else's count
is wiped.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["SlidingWindow"]


class SlidingWindow:
    """At most ``limit`` hits per ``seconds`` per key."""

    def __init__(
        self,
        limit: int,
        seconds: float,
        *,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self.max_keys = max_keys
        self.clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hits)

    def allow(self, key: str) -> bool:
        """Count a hit for ``key``; False (and not counted) when it is over the limit."""
        now = self.clock()
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque(maxlen=self.limit)
        else:
            self._hits.move_to_end(key)
        while hits and now - hits[0] >= self.seconds:
            hits.popleft()
        allowed = len(hits) < self.limit
        if allowed:
            hits.append(now)
        self._evict()
        return allowed

    def _evict(self) -> None:
        while len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)  # the least recently seen key
