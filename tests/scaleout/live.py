"""Drive real hub processes the way people do: a widget's websocket, an agent's
signed-in browser session and live socket, and signed ``api`` webhooks.

Everything waits for state with a generous timeout (these run two hub processes
on one FerretDB on a loaded machine); nothing asserts on how long it took.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from hub.connectors.api import sign
from tests.agent.kit import PASSWORD, csrf_of
from tests.hubs import HubProcess

WAIT = 60.0
API_SECRET = "scaleout-api-secret-0123456789"


def ws_url(hub: HubProcess, path: str) -> str:
    return "ws" + hub.url.removeprefix("http") + path


async def push(hub: HubProcess, payload: dict[str, Any]) -> dict[str, Any]:
    """A customer message through ``hub``'s signed ``api`` webhook; its ingest result."""
    body = json.dumps(payload).encode()
    ts = str(int(time.time()))
    async with httpx.AsyncClient(base_url=hub.url, timeout=WAIT) as client:
        r = await client.post(
            "/connectors/api/messages",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Omnihub-Timestamp": ts,
                "X-Omnihub-Signature": sign(API_SECRET, ts, body),
            },
        )
    assert r.status_code in (200, 201), r.text
    result: dict[str, Any] = r.json()
    return result


async def frame_where(
    ws: ClientConnection, match: Callable[[dict[str, Any]], bool], *, within: float = WAIT
) -> dict[str, Any]:
    """The first frame ``match`` accepts (others are skipped)."""
    async with asyncio.timeout(within):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if match(frame):
                return frame


@dataclass
class Widget:
    """One visitor's widget socket on one hub."""

    ws: ClientConnection
    welcome: dict[str, Any]

    @property
    def visitor(self) -> str:
        return str(self.welcome["visitor"])

    async def say(self, frame_id: str, text: str) -> dict[str, Any]:
        """Send a message; the stored event from its ack."""
        await self.ws.send(json.dumps({"type": "message", "id": frame_id, "text": text}))
        ack = await frame_where(self.ws, lambda f: f["type"] == "ack" and f["id"] == frame_id)
        event: dict[str, Any] = ack["event"]
        return event


@contextlib.asynccontextmanager
async def widget(hub: HubProcess, token: str | None = None) -> AsyncIterator[Widget]:
    """A widget connected to ``hub`` (hello sent, welcome and history read)."""
    async with connect(
        ws_url(hub, "/connectors/chat/ws?site=default"), origin=hub.url, open_timeout=WAIT
    ) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "hello", "token": token}))
        welcome = await frame_where(ws, lambda f: f["type"] == "welcome")
        await frame_where(ws, lambda f: f["type"] == "events")
        yield Widget(ws, welcome)


@contextlib.asynccontextmanager
async def agent_session(hub: HubProcess, email: str) -> AsyncIterator[httpx.AsyncClient]:
    """An agent signed in on ``hub`` the way a browser does (cookies kept)."""
    async with httpx.AsyncClient(base_url=hub.url, timeout=WAIT) as client:
        page = await client.get("/agent/login")
        r = await client.post(
            "/agent/login",
            data={"email": email, "password": PASSWORD, "csrf": csrf_of(page.text)},
        )
        assert r.status_code == 303, r.text
        yield client


@contextlib.asynccontextmanager
async def agent_live(hub: HubProcess, client: httpx.AsyncClient) -> AsyncIterator[ClientConnection]:
    """The agent page's live socket on ``hub`` for the signed-in ``client``."""
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    async with connect(
        ws_url(hub, "/agent/live"),
        origin=hub.url,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie},
        open_timeout=WAIT,
    ) as ws:
        yield ws
