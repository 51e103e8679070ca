"""Which of our replies a watermark receipt covers.

Messenger says "everything up to ``watermark`` was read" without naming
messages, and Instagram names only the last one seen. The connector cannot read
the store, so it keeps, per customer, the replies it sent recently (mid, when
Meta accepted it, how far it got) in a checkpoint, and turns a watermark into
one delivery report per reply it covers.

The time kept is when the Send API *answered*: Meta stamped the message before
that, so a reply counts as covered only when it certainly is (a clock skew can
delay a receipt to the next one, never invent one). A reply whose report found
no event yet (the outbox records the provider id just after the send returns)
is reported again by the next receipt, for up to ``GRACE`` after it was sent.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.timeline.model import DeliveryStatus, Event, Identity, utcnow

if TYPE_CHECKING:
    from hub.connectors.base import CheckpointStore

__all__ = ["GRACE", "Ledger"]

GRACE = timedelta(minutes=10)
Report = Callable[[str, DeliveryStatus], Awaitable[Event | None]]


class Ledger:
    """Recent replies per customer, kept in the connector's checkpoints."""

    def __init__(
        self,
        checkpoints: CheckpointStore,
        *,
        keep: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.checkpoints = checkpoints
        self.keep = keep
        self.clock = clock
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @staticmethod
    def key(channel: str, customer: Identity) -> str:
        return f"sent:{channel}:{customer}"

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def _load(self, key: str) -> list[dict[str, Any]]:
        saved = await self.checkpoints.get(key) or {}
        entries = saved.get("sent")
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []

    async def record(self, channel: str, customer: Identity, mid: str) -> None:
        """Remember that ``mid`` was just accepted by Meta for ``customer``."""
        key = self.key(channel, customer)
        async with self._lock(key):
            entries = await self._load(key)
            entries.append({"mid": mid, "at": self.clock().isoformat(), "rank": 0})
            await self.checkpoints.set(key, {"sent": entries[-self.keep :]})

    async def settle(
        self,
        channel: str,
        customer: Identity,
        status: DeliveryStatus,
        report: Report,
        *,
        watermark: datetime | None = None,
        up_to: tuple[str, ...] = (),
    ) -> set[str]:
        """Report ``status`` for every remembered reply sent at or before
        ``watermark`` or before the last of ``up_to``; the mids it reported."""
        key = self.key(channel, customer)
        async with self._lock(key):
            entries = await self._load(key)
            limit = watermark
            for entry in entries:
                if entry.get("mid") in up_to:
                    at = datetime.fromisoformat(entry["at"])
                    limit = at if limit is None else max(limit, at)
            if limit is None:
                return set()
            now = self.clock()
            reported: set[str] = set()
            changed = False
            for entry in entries:
                at = datetime.fromisoformat(entry["at"])
                if at > limit or int(entry.get("rank", 0)) >= status.rank:
                    continue
                found = await report(str(entry["mid"]), status)
                reported.add(str(entry["mid"]))
                if found is not None or now - at > GRACE:
                    entry["rank"] = status.rank
                    changed = True
            if changed:
                kept = [e for e in entries if e["rank"] < DeliveryStatus.READ.rank]
                await self.checkpoints.set(key, {"sent": kept[-self.keep :]})
            return reported
