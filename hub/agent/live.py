"""The live socket (``/agent/live``): bus changes pushed to the open pages.

Each message is small JSON naming what changed — ``{"topic", "customer_id",
"conversation_id", "event_id"}`` — and the page fetches the rendered piece it
needs (an inbox row set, one timeline event). A subscriber that falls behind
gets ``{"topic": "resync"}`` and the page re-reads what it shows; the socket
then subscribes again. The socket needs a signed-in session and a same-origin
``Origin`` header (no cross-site websocket hijacking).

An open socket makes its agent online (:mod:`hub.agent.presence`). The page
sends ``{"type": "typing", "conversation_id", "channel", "typing"}`` while the
agent composes a reply, repeated every few seconds while they keep typing
(published as ``conversation.typing`` when the agent may reply there; a closing
socket stops its typing). A conversation page sends ``{"type": "viewing",
"conversation_id", "viewing"}`` when it connects and every 20 s (published as
``conversation.viewing``; a closing socket stops it), so other agents' pages show
who is viewing or typing there and two agents don't answer at once. Anything
else it sends is a keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

from hub.agent.actions import can_act
from hub.agent.presence import publish_typing
from hub.agent.sessions import read_session
from hub.bus import BusMessage, Resync, Subscription, Topic
from hub.errors import NotFound
from hub.operations.service import ALERT
from hub.payloads import parse_json
from hub.timeline.merges import survivor

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.timeline.model import Agent, Conversation

__all__ = ["live", "payload"]

QUEUE = 256


def payload(message: BusMessage) -> dict[str, Any]:
    """What the page is told about one bus message (for an agent's typing or viewing:
    who, and whether it started or stopped)."""
    conversation_id = message.data.get("conversation_id")
    if message.event is not None:
        conversation_id = conversation_id or message.event.conversation_id
    if message.conversation is not None:
        conversation_id = message.conversation.id
    out: dict[str, Any] = {
        "topic": message.topic,
        "customer_id": message.customer_id,
        "conversation_id": conversation_id,
        "event_id": message.event.id if message.event is not None else None,
    }
    if message.topic == Topic.VIEWING or (
        message.topic == Topic.TYPING and message.data.get("from") == "agent"
    ):
        out["agent"] = message.data.get("agent")
        out["name"] = message.data.get("name")
        out["active"] = bool(
            message.data.get("viewing" if message.topic == Topic.VIEWING else "typing")
        )
    return out


def same_origin(ws: WebSocket) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser: cookies are not sent cross-site anyway
    return urlsplit(origin).netloc == ws.headers.get("host")


async def _pump(ws: WebSocket, hub: Hub, first: Subscription, agent: Agent) -> None:
    """Forward bus messages; after a Resync, subscribe again; end when the bus closes.
    An operations alert goes only to the agent it names, with its reason and text."""
    sub: Subscription | None = first
    while sub is not None:
        with sub:
            resynced = False
            async for item in sub:
                if isinstance(item, Resync):
                    await ws.send_json({"topic": "resync", "reason": item.reason})
                    resynced = True
                elif item.topic == ALERT:
                    if item.data.get("agent") == agent.id:
                        alert = {k: item.data.get(k) for k in ("reason", "text")}
                        await ws.send_json({**payload(item), "alert": alert})
                else:
                    await ws.send_json(payload(item))
        sub = hub.bus.subscribe(maxsize=QUEUE) if resynced else None


async def live(ws: WebSocket) -> None:
    hub: Hub = ws.app.state.hub
    session = await read_session(ws, hub)
    if session.agent is None or not same_origin(ws):
        await ws.close(code=4401)
        return
    agent = session.agent
    # Subscribed before the page learns it is connected: the page re-reads what it
    # shows once open, and nothing published after that read may be missed.
    first = hub.bus.subscribe(maxsize=QUEUE)
    try:
        await ws.accept()
    except BaseException:
        first.close()
        raise
    presence = hub.agent_runtime.presence if hub.agent_runtime is not None else None
    if presence is not None:
        presence.opened(agent)
    pump = asyncio.create_task(_pump(ws, hub, first, agent))
    typing = Typing(hub, agent)
    try:
        while True:
            await typing.frame(await ws.receive_text())
    except WebSocketDisconnect:
        pass
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
        first.close()
        typing.stop_all()
        if presence is not None:
            presence.closed(agent)


class Typing:
    """One socket's typing state: which conversations its agent is typing in."""

    def __init__(self, hub: Hub, agent: Agent) -> None:
        self.hub = hub
        self.agent = agent
        self.active: dict[str, tuple[Conversation, str, str | None]] = {}
        self.viewing: dict[str, str] = {}

    async def view(self, conv_id: object, viewing: bool) -> None:
        """The page has conversation ``conv_id`` open (``viewing``) or has left it."""
        if not isinstance(conv_id, str):
            return
        customer_id = self.viewing.get(conv_id)
        if customer_id is None and viewing:
            try:
                conv = await self.hub.store.get_conversation(conv_id)
                customer_id = (await survivor(self.hub.store, conv.customer_id)).id
            except NotFound:
                return
            if len(self.viewing) >= 20:  # one page views one conversation; a few tabs at most
                return
            self.viewing[conv_id] = customer_id
        if customer_id is None:
            return
        if not viewing:
            self.viewing.pop(conv_id, None)
        self._announce(conv_id, customer_id, viewing)

    def _announce(self, conv_id: str, customer_id: str, viewing: bool) -> None:
        data = {
            "agent": self.agent.id,
            "name": self.agent.name,
            "conversation_id": conv_id,
            "viewing": viewing,
        }
        self.hub.bus.publish(BusMessage(Topic.VIEWING, customer_id, data=data))

    async def frame(self, text: str) -> None:
        """Handle one frame from the page (typing; anything else is a keep-alive)."""
        try:
            frame = parse_json(text, field="frame")
        except ValueError:
            return
        if isinstance(frame, dict) and frame.get("type") == "viewing":
            await self.view(frame.get("conversation_id"), frame.get("viewing") is True)
            return
        if not isinstance(frame, dict) or frame.get("type") != "typing":
            return
        conv_id, channel = frame.get("conversation_id"), frame.get("channel")
        if not isinstance(conv_id, str) or not (channel is None or isinstance(channel, str)):
            return
        typing = frame.get("typing") is True
        if not typing:
            self.stop(conv_id)
            return
        known = self.active.get(conv_id)
        if known is not None and known[2] == channel:  # still typing: refresh
            publish_typing(self.hub, self.agent, known[0], known[1], channel, True)
            return
        if known is not None:
            self.stop(conv_id)
        try:
            conv = await self.hub.store.get_conversation(conv_id)
            customer = await survivor(self.hub.store, conv.customer_id)
        except NotFound:
            return
        if not can_act(self.agent, conv):
            return
        self.active[conv_id] = (conv, customer.id, channel)
        publish_typing(self.hub, self.agent, conv, customer.id, channel, True)

    def stop(self, conv_id: str) -> None:
        known = self.active.pop(conv_id, None)
        if known is not None:
            conv, customer_id, channel = known
            publish_typing(self.hub, self.agent, conv, customer_id, channel, False)

    def stop_all(self) -> None:
        for conv_id in list(self.active):
            self.stop(conv_id)
        for conv_id, customer_id in list(self.viewing.items()):
            self._announce(conv_id, customer_id, False)
        self.viewing.clear()
