"""The shared-state port and its in-process adapter.

:class:`SharedState` is what hub instances must agree on beyond the timeline:

* **expiring entries** — each instance's own, under a kind and a key (an agent's
  presence: ``put("presence", agent_id, {...}, seconds=…)``), visible to every
  instance until they expire or are dropped, so a crashed instance's entries
  lapse by themselves;
* **budgets** — ``spend(key, limit, seconds)``: at most ``limit`` per ``seconds``
  across every instance (a window opens at the first spend and lasts ``seconds``);
* **leases** — ``lease(name, seconds)``: one holder per name at a time, renewed by
  asking again, so a scheduler runs on one instance and moves on when it stops.

This class is the in-process adapter (one process: the instance holds every
lease); :class:`hub.shared.mongo.MongoSharedState` keeps the same state in the
store's MongoDB database.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Entry", "SharedState"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One instance's live entry: its ``key``, the ``instance`` that put it, its ``data``."""

    key: str
    instance: str
    data: dict[str, Any] = field(default_factory=dict)


class SharedState:
    """State all hub instances share; this adapter keeps it in the process.

    ``clock`` is wall-clock seconds (instances compare times with each other).
    ``joining`` shares another object's state, as a second instance in this process
    (the contract tests use it).
    """

    distributed = False
    """Whether other processes share this state (False: this process is the only one)."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, joining: SharedState | None = None
    ) -> None:
        self.clock = clock
        self.instance = os.urandom(8).hex()
        self._entries: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}
        self._budgets: dict[str, tuple[float, int]] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        if joining is not None:
            self._entries, self._budgets = joining._entries, joining._budgets
            self._leases = joining._leases

    async def start(self) -> None:
        """Prepare the backing store (nothing to do in process)."""

    async def stop(self) -> None:
        """Drop this instance's entries: it is going away."""
        for kind, key, instance in list(self._entries):
            if instance == self.instance:
                await self.drop(kind, key)

    # -- expiring entries ------------------------------------------------------------
    async def put(self, kind: str, key: str, data: dict[str, Any], *, seconds: float) -> None:
        """This instance's entry ``kind``/``key``, live for ``seconds`` unless put again."""
        self._entries[(kind, key, self.instance)] = (self.clock() + seconds, dict(data))

    async def drop(self, kind: str, key: str) -> None:
        """Remove this instance's entry ``kind``/``key`` (other instances' stay)."""
        self._entries.pop((kind, key, self.instance), None)

    async def entries(self, kind: str) -> list[Entry]:
        """Every instance's live entries of ``kind``."""
        now = self.clock()
        live: list[Entry] = []
        for (k, key, instance), (until, data) in list(self._entries.items()):
            if until <= now:
                del self._entries[(k, key, instance)]
            elif k == kind:
                live.append(Entry(key, instance, dict(data)))
        return live

    # -- budgets ---------------------------------------------------------------------
    async def spend(self, key: str, limit: int, seconds: float) -> bool:
        """Spend one unit of ``key``'s budget of ``limit`` per ``seconds``; False (and
        nothing spent) when it is used up."""
        if await self._bump(key, 1, seconds) > limit:
            await self._bump(key, -1, seconds, start=False)
            return False
        return True

    async def used(self, key: str, seconds: float) -> int:
        """What ``key``'s current window has spent (0 once it lapsed)."""
        return await self._read(key, seconds)

    async def record(self, key: str, seconds: float) -> None:
        """Spend one unit of ``key`` whatever its limit (count something that happened)."""
        await self._bump(key, 1, seconds)

    async def refund(self, key: str, seconds: float) -> None:
        """Give back one unit spent on ``key`` in its current window."""
        await self._bump(key, -1, seconds, start=False)

    async def reset(self, key: str, seconds: float) -> None:
        """Forget what was spent on ``key`` (its budget is whole again)."""
        self._budgets.pop(key, None)

    async def _bump(self, key: str, delta: int, seconds: float, *, start: bool = True) -> int:
        """Add ``delta`` to ``key``'s live window (one lasts ``seconds`` from its first
        spend), or begin a new window with it (``start``); the window's count."""
        now = self.clock()
        since, count = self._budgets.get(key, (0.0, 0))
        if since > now - seconds:
            count += delta
        elif start:
            since, count = now, delta
            if len(self._budgets) > 100_000:
                for stale in [k for k, v in self._budgets.items() if v[0] <= now - seconds]:
                    del self._budgets[stale]
        else:
            return 0
        self._budgets[key] = (since, count)
        return count

    async def _read(self, key: str, seconds: float) -> int:
        since, count = self._budgets.get(key, (0.0, 0))
        return count if since > self.clock() - seconds else 0

    # -- leases ------------------------------------------------------------------------
    async def lease(self, name: str, seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``seconds``; False while another
        instance holds it."""
        now = self.clock()
        holder = self._leases.get(name)
        if holder is not None and holder[0] != self.instance and holder[1] > now:
            return False
        self._leases[name] = (self.instance, now + seconds)
        return True

    async def release(self, name: str) -> None:
        """Give up the lease ``name`` if this instance holds it."""
        holder = self._leases.get(name)
        if holder is not None and holder[0] == self.instance:
            del self._leases[name]
