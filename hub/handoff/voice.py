"""The voice greeting: a :class:`~hub.connectors.twilio.memory.CallerDirectory` backed by
the timeline, speaking the context packet's short text."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from hub.connectors.twilio.memory import CallerInfo
from hub.handoff.context import build_packet
from hub.timeline.model import utcnow
from hub.timeline.store import InboxFilter

if TYPE_CHECKING:
    from hub.settings import HandoffSettings
    from hub.timeline.model import Identity
    from hub.timeline.store import TimelineStore

__all__ = ["TimelineCallers", "agent_name", "display_name"]

TAIL = " Connecting you now."


async def display_name(store: TimelineStore, assignee: str | None) -> str | None:
    """The first word of the assigned agent's display name ("Sam"), else a name made
    from the assignee (:func:`agent_name`)."""
    if assignee and "@" in assignee:
        agent = await store.find_agent(assignee.split(":")[-1])
        first = (agent.name if agent else "").split()
        if first:
            return first[0]
    return agent_name(assignee)


def agent_name(assignee: str | None) -> str | None:
    """A speakable first name for an assignee (``sam@acme.test`` → ``Sam``)."""
    if not assignee:
        return None
    name = assignee.split(":")[-1].split("@")[0].replace(".", " ").split()
    return name[0].capitalize() if name and name[0].isalpha() else None


class TimelineCallers:
    """Knows a caller by their identity; greets with the short context when their
    conversation (active within the window) was last on another channel."""

    def __init__(self, store: TimelineStore, settings: HandoffSettings) -> None:
        self.store = store
        self.settings = settings

    async def lookup(self, caller: Identity) -> CallerInfo:
        customer = await self.store.find_customer(caller)
        if customer is None or await self.store.shared_with(caller):
            # Nobody, or several people (a shared phone): greet nobody by name or topic.
            return CallerInfo(known=False)
        first = (customer.name or "").split()
        name = first[0] if first else None
        page = await self.store.list_conversations(
            InboxFilter(status=(), customer_id=customer.id), limit=1
        )
        window = timedelta(hours=self.settings.window_hours)
        if not page.items or page.items[0].last_activity_at < utcnow() - window:
            return CallerInfo(known=True, name=name)
        conv = page.items[0]
        packet = await build_packet(self.store, conv, to_channel="voice")
        from_channel = next(
            (e.channel for e in reversed(packet.latest) if e.direction == "in"), None
        )
        if from_channel is None or from_channel == "voice":
            return CallerInfo(known=True, name=name)
        packet.from_channel = from_channel
        agent = await display_name(self.store, conv.assignee)
        if agent:
            return CallerInfo(known=True, name=name, context=packet.short_text(agent=agent))
        text = packet.short_text()
        if len(text) + len(TAIL) > 160:
            text = text[: 160 - len(TAIL) - 1] + "…"
        return CallerInfo(known=True, name=name, context=text)
