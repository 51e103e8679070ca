"""Agent presence, typing and read receipts, published on the bus for the channels.

An agent is **online** while they have an agent page open (its live socket);
when their last socket closes they stay online for ``presence_grace_seconds``
(moving from the inbox to a conversation reconnects), then go offline. While
online, presence is re-published every ``presence_heartbeat_seconds`` so a
channel that expires stale presence (the chat widget's ``presence_ttl_seconds``)
keeps seeing them. Typing and read receipts name the conversation's customer and
the channel; each connector decides what its customers see.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from hub.bus import Bus, BusMessage, Topic
from hub.timeline.store import encode_cursor

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.timeline.model import Agent, Conversation

__all__ = ["Presence", "publish_read", "publish_typing"]


class Presence:
    """Count each agent's open live sockets; publish ``agent.presence`` on changes."""

    def __init__(self, bus: Bus, *, grace: float, heartbeat: float) -> None:
        self.bus = bus
        self.grace = grace
        self.heartbeat = heartbeat
        self._sockets: dict[str, int] = {}
        self._names: dict[str, str] = {}
        self._leaving: dict[str, asyncio.TimerHandle] = {}

    @property
    def online(self) -> set[str]:
        """Ids of the agents currently online (open sockets or within the grace)."""
        return set(self._sockets) | set(self._leaving)

    @property
    def sockets(self) -> int:
        """Agent pages connected to this instance."""
        return sum(self._sockets.values())

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

    def _publish(self, agent_id: str, online: bool) -> None:
        data = {"agent": agent_id, "name": self._names.get(agent_id), "online": online}
        self.bus.publish(BusMessage(Topic.AGENT_PRESENCE, "", data=data))

    async def run(self) -> None:
        """Re-publish the online agents every ``heartbeat`` seconds (until cancelled)."""
        while True:
            await asyncio.sleep(self.heartbeat)
            for agent_id in sorted(self._sockets):
                self._publish(agent_id, True)

    def stop(self) -> None:
        """Go offline now for everyone still online (the hub is stopping)."""
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
