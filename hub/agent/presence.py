"""Agent presence, typing and read receipts, published on the bus for the channels.

An agent is **online** while they have an agent page open (its live socket);
when their last socket closes they stay online for ``presence_grace_seconds``
(moving from the inbox to a conversation reconnects), then go offline. While
online, presence is re-published every ``presence_heartbeat_seconds`` so a
channel that expires stale presence (the chat widget's ``presence_ttl_seconds``)
keeps seeing them, and kept in the hub's shared state (:mod:`hub.shared`) so an
instance that starts later, or missed the bus, knows who is online elsewhere.
Typing and read receipts name the conversation's customer and the channel; each
connector decides what its customers see.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from hub.bus import Bus, BusMessage, Topic
from hub.shared import SharedState
from hub.timeline.store import encode_cursor

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.timeline.model import Agent, Conversation

__all__ = ["KIND", "Presence", "publish_read", "publish_typing"]

log = logging.getLogger("hub.agent")

KIND = "presence"


class Presence:
    """Count each agent's open live sockets; publish ``agent.presence`` on changes and
    keep this instance's online agents in the shared state (``presence`` entries,
    renewed with each heartbeat, so a stopped instance's agents lapse by themselves)."""

    def __init__(
        self, bus: Bus, *, grace: float, heartbeat: float, shared: SharedState | None = None
    ) -> None:
        self.bus = bus
        self.grace = grace
        self.heartbeat = heartbeat
        self.shared = shared or SharedState()
        self._sockets: dict[str, int] = {}
        self._names: dict[str, str] = {}
        self._leaving: dict[str, asyncio.TimerHandle] = {}
        self._syncing: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    @property
    def online(self) -> set[str]:
        """Ids of the agents online on this instance (open sockets or within the grace)."""
        return set(self._sockets) | set(self._leaving)

    @property
    def sockets(self) -> int:
        """Agent pages connected to this instance."""
        return sum(self._sockets.values())

    async def everywhere(self) -> dict[str, str]:
        """The agents online on any instance: id → name."""
        entries = await self.shared.entries(KIND)
        mine = self.shared.instance
        found = {e.key: str(e.data.get("name") or "") for e in entries if e.instance != mine}
        return found | {a: self._names.get(a, "") for a in self.online}

    @property
    def ttl(self) -> float:
        """How long a shared presence entry lives without a heartbeat."""
        return self.heartbeat * 2 + 5

    def opened(self, agent: Agent) -> None:
        """An agent page connected."""
        count = self._sockets.get(agent.id, 0)
        self._sockets[agent.id] = count + 1
        self._names[agent.id] = agent.name
        leaving = self._leaving.pop(agent.id, None)
        if leaving is not None:
            leaving.cancel()  # back within the grace: never went offline
        elif count == 0:
            self._publish(agent.id, True)
            self._sync(agent.id)

    def closed(self, agent: Agent) -> None:
        """An agent page disconnected; the last one starts the grace period."""
        count = self._sockets.get(agent.id, 0) - 1
        if count > 0:
            self._sockets[agent.id] = count
            return
        self._sockets.pop(agent.id, None)
        if agent.id not in self._leaving:
            loop = asyncio.get_running_loop()
            self._leaving[agent.id] = loop.call_later(self.grace, self._gone, agent.id)

    def _gone(self, agent_id: str) -> None:
        self._leaving.pop(agent_id, None)
        if agent_id not in self._sockets:
            self._publish(agent_id, False)
            self._sync(agent_id)

    def _sync(self, agent_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._store(agent_id))
        self._syncing.add(task)
        task.add_done_callback(self._syncing.discard)

    async def _store(self, agent_id: str) -> None:
        """Make the shared entry match what this instance knows now (in whatever order
        the changes' tasks run, the last one writes the current state)."""
        async with self._lock:
            try:
                if agent_id in self.online:
                    data = {"name": self._names.get(agent_id, "")}
                    await self.shared.put(KIND, agent_id, data, seconds=self.ttl)
                else:
                    await self.shared.drop(KIND, agent_id)
            except Exception:  # the store may be briefly away: the heartbeat repairs it
                log.exception("storing the presence of %s failed", agent_id)

    async def settle(self) -> None:
        """Wait until the shared state has every change made so far."""
        while self._syncing:
            await asyncio.gather(*self._syncing, return_exceptions=True)

    def _publish(self, agent_id: str, online: bool) -> None:
        data = {"agent": agent_id, "name": self._names.get(agent_id), "online": online}
        self.bus.publish(BusMessage(Topic.AGENT_PRESENCE, "", data=data))

    async def run(self) -> None:
        """Re-publish the online agents every ``heartbeat`` seconds (until cancelled)."""
        while True:
            await asyncio.sleep(self.heartbeat)
            for agent_id in sorted(self._sockets):
                self._publish(agent_id, True)
                await self._store(agent_id)

    def stop(self) -> None:
        """Go offline now for everyone still online (the hub is stopping; the shared
        state drops this instance's entries when it stops)."""
        for handle in self._leaving.values():
            handle.cancel()
        gone = self.online
        self._sockets.clear()
        self._leaving.clear()
        for agent_id in sorted(gone):
            self._publish(agent_id, False)


def publish_typing(
    hub: Hub, agent: Agent, conv: Conversation, customer_id: str, channel: str | None, typing: bool
) -> None:
    """``conversation.typing`` from an agent composing a reply on ``channel``."""
    data: dict[str, Any] = {
        "from": "agent",
        "typing": typing,
        "agent": agent.id,
        "name": agent.name,
        "conversation_id": conv.id,
        "channel": channel,
    }
    hub.bus.publish(BusMessage(Topic.TYPING, customer_id, data=data))


async def publish_read(
    hub: Hub, agent: Agent, conv: Conversation, customer_id: str, seq: int
) -> None:
    """``conversation.read``: the agent has seen the customer's timeline up to ``seq``."""
    page = await hub.store.events(
        customer_id=customer_id, cursor=encode_cursor(seq + 1), direction="older", limit=1
    )
    if not page.items:
        return
    last = page.items[-1]
    data = {
        "agent": agent.id,
        "name": agent.name,
        "up_to": last.id,
        "seq": last.seq,
        "conversation_id": conv.id,
    }
    hub.bus.publish(BusMessage(Topic.READ, customer_id, data=data))
