"""The live socket (``/agent/live``): bus changes pushed to the open pages.

Each message is small JSON naming what changed — ``{"topic", "customer_id",
"conversation_id", "event_id"}`` — and the page fetches the rendered piece it
needs (an inbox row set, one timeline event). A subscriber that falls behind
gets ``{"topic": "resync"}`` and the page re-reads what it shows; the socket
then subscribes again. The socket needs a signed-in session and a same-origin
``Origin`` header (no cross-site websocket hijacking).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

from hub.agent.sessions import read_session
from hub.bus import BusMessage, Resync

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["live", "payload"]

QUEUE = 256


def payload(message: BusMessage) -> dict[str, Any]:
    """What the page is told about one bus message."""
    conversation_id = message.data.get("conversation_id")
    if message.event is not None:
        conversation_id = conversation_id or message.event.conversation_id
    if message.conversation is not None:
        conversation_id = message.conversation.id
    return {
        "topic": message.topic,
        "customer_id": message.customer_id,
        "conversation_id": conversation_id,
        "event_id": message.event.id if message.event is not None else None,
    }


def same_origin(ws: WebSocket) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser: cookies are not sent cross-site anyway
    return urlsplit(origin).netloc == ws.headers.get("host")


async def _pump(ws: WebSocket, hub: Hub) -> None:
    """Forward bus messages; after a Resync, subscribe again; end when the bus closes."""
    resynced = True
    while resynced:
        resynced = False
        with hub.bus.subscribe(maxsize=QUEUE) as sub:
            async for item in sub:
                if isinstance(item, Resync):
                    await ws.send_json({"topic": "resync", "reason": item.reason})
                    resynced = True
                else:
                    await ws.send_json(payload(item))


async def live(ws: WebSocket) -> None:
    hub: Hub = ws.app.state.hub
    session = await read_session(ws, hub)
    if session.agent is None or not same_origin(ws):
        await ws.close(code=4401)
        return
    await ws.accept()
    pump = asyncio.create_task(_pump(ws, hub))
    try:
        while True:
            await ws.receive_text()  # pings; a disconnect ends the loop
    except WebSocketDisconnect:
        pass
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
