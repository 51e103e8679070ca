"""What the connector remembers per phone number, in its checkpoints.

Connectors never read the store, so the few facts the Twilio connector needs
between requests live in ``context.checkpoints``:

* ``contact:<E.164>`` — the customer's last conversation on this account, the
  channel and time, and which of our numbers they used (replies come from it);
* ``optout:<E.164>`` — whether the number texted STOP (and when, and how);
* ``pending-media`` — downloads that failed and are retried in the background.

The :class:`CallerDirectory` seam is how the voice greeting learns who calls
(the handoff module plugs in one that reads the timeline: ``hub.handoff.voice``).
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hub.connectors.base import CheckpointStore
from hub.timeline.model import Identity, utcnow

__all__ = ["CallerDirectory", "CallerInfo", "Contact", "Memory", "OptOut", "RememberedCallers"]


@dataclass(frozen=True, slots=True)
class Contact:
    """The last time a number reached us."""

    conversation_id: str | None
    channel: str
    our_number: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OptOut:
    """A number's SMS consent: ``opted_out`` after STOP, cleared by START."""

    opted_out: bool
    keyword: str
    at: datetime
    our_number: str | None = None


class Memory:
    """Typed access to the connector's checkpoints."""

    def __init__(self, checkpoints: CheckpointStore) -> None:
        self.checkpoints = checkpoints
        self._pending_lock = asyncio.Lock()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def _set(self, key: str, value: dict[str, Any]) -> None:
        """One write per key at a time in this process (concurrent upserts of one key
        can collide on some servers)."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            await self.checkpoints.set(key, value)

    async def contact(self, number: str) -> Contact | None:
        raw = await self.checkpoints.get(f"contact:{number}")
        if not raw:
            return None
        return Contact(
            conversation_id=raw.get("conversation_id"),
            channel=str(raw.get("channel", "")),
            our_number=str(raw.get("our_number", "")),
            at=datetime.fromisoformat(raw["at"]),
        )

    async def remember_contact(
        self, number: str, *, conversation_id: str | None, channel: str, our_number: str
    ) -> None:
        await self._set(
            f"contact:{number}",
            {
                "conversation_id": conversation_id,
                "channel": channel,
                "our_number": our_number,
                "at": utcnow().isoformat(),
            },
        )

    async def opt_out(self, number: str) -> OptOut | None:
        raw = await self.checkpoints.get(f"optout:{number}")
        if not raw:
            return None
        return OptOut(
            opted_out=bool(raw.get("opted_out")),
            keyword=str(raw.get("keyword", "")),
            at=datetime.fromisoformat(raw["at"]),
            our_number=raw.get("our_number"),
        )

    async def set_opt_out(
        self, number: str, *, opted_out: bool, keyword: str, our_number: str | None
    ) -> None:
        await self._set(
            f"optout:{number}",
            {
                "opted_out": opted_out,
                "keyword": keyword,
                "our_number": our_number,
                "at": utcnow().isoformat(),
            },
        )

    # -- failed downloads, retried in the background -----------------------
    async def pending(self) -> dict[str, dict[str, Any]]:
        raw = await self.checkpoints.get("pending-media")
        return dict((raw or {}).get("items", {}))

    async def add_pending(self, key: str, item: dict[str, Any]) -> None:
        async with self._pending_lock:
            items = await self.pending()
            items[key] = item
            await self._set("pending-media", {"items": items})

    async def drop_pending(self, key: str) -> None:
        async with self._pending_lock:
            items = await self.pending()
            if items.pop(key, None) is not None:
                await self._set("pending-media", {"items": items})


@dataclass(frozen=True, slots=True)
class CallerInfo:
    """Who is calling, as far as the hub knows.

    ``context`` is a short sentence to speak (≤ 160 characters, nothing private
    beyond the caller's own words), e.g. from the handoff context packet.
    """

    known: bool
    name: str | None = None
    context: str | None = None


class CallerDirectory(Protocol):
    """Looks a caller up for the voice greeting (the handoff module plugs in here)."""

    async def lookup(self, caller: Identity) -> CallerInfo: ...


class RememberedCallers:
    """The default directory: a caller is known when the number reached us before."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory

    async def lookup(self, caller: Identity) -> CallerInfo:
        if caller.kind != "phone":
            return CallerInfo(known=False)
        return CallerInfo(known=await self.memory.contact(caller.value) is not None)
