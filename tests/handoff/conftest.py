"""A running hub for the handoff journeys: real store, real connectors, doubles only at
the providers' HTTP boundary (Twilio REST, Graph API) and real mail servers."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets.asyncio.client
from websockets.typing import Origin

from hub.app import Hub, build_app
from hub.handoff import Handoff
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import Customer, Identity
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.buswatch import BusWatch
from tests.connectors.email.conftest import dovecot, mailbox, smtp_sink
from tests.connectors.twilio_kit import PUBLIC, TwilioSide
from tests.servers import serve

__all__ = [
    "CHAT",
    "PUBLIC",
    "HubRig",
    "Widget",
    "dovecot",
    "mailbox",
    "running_hub",
    "smtp_sink",
    "widget",
]


@dataclass
class HubRig(BusWatch):
    """One running hub, a plain client, an agent's API client and a bus watcher."""

    url: str
    client: httpx.AsyncClient
    api: httpx.AsyncClient
    twilio: TwilioSide

    @property
    def handoff(self) -> Handoff:
        assert self.hub.handoff is not None
        return self.hub.handoff

    async def customer(self, identity: Identity) -> Customer:
        found = await self.hub.store.find_customer(identity)
        assert found is not None, f"no customer {identity}"
        return found

    async def timeline(self, customer_id: str) -> list[dict[str, Any]]:
        r = await self.api.get(f"/api/v1/customers/{customer_id}/timeline", params={"limit": 200})
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    async def open_link(
        self,
        path: str,
        *,
        visitor_token: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """Open a continuation link as a browser does: the confirm page, then its form
        (with the browser's widget visitor token when it has one)."""
        client = client or self.client
        asked = await client.get(path)
        found = re.search(r'name="confirm" value="([^"]+)"', asked.text)
        if found is None:
            return asked
        form = {"confirm": html.unescape(found.group(1)), "visitor": visitor_token or ""}
        return await client.post(path, data=form, headers={"Origin": self.url})

    def local(self, public_url: str) -> str:
        """A URL the hub handed out (under the public URL) as a path on this server."""
        assert public_url.startswith(PUBLIC), public_url
        return public_url.removeprefix(PUBLIC)


@contextlib.asynccontextmanager
async def running_hub(
    store: TimelineStore,
    tmp_path: Path,
    connectors: dict[str, dict[str, Any]],
    **handoff: Any,
) -> AsyncIterator[HubRig]:
    settings = Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        public_url=PUBLIC,
        secret_key="handoff-tests-secret-key-0123456789",
        outbox=OutboxSettings(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05),
        connectors=connectors,
        enabled_connectors=list(connectors),
        handoff={"business_name": "Acme", **handoff},
    )
    app = build_app(settings, store=store)
    hub: Hub = app.state.hub
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        _, token = await issue_token(store, "agent")
        api = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"})
        rig = HubRig(hub, url, client, api, TwilioSide(url, client))
        async with api, rig.watching():
            yield rig


CHAT = {"sites": {"default": {"origins": [PUBLIC]}}, "availability": "online"}


@dataclass
class Widget:
    """The chat widget's side of the websocket (real frames over a real socket)."""

    socket: Any
    frames: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(frame))

    async def receive(self, kind: str, within: float = 10) -> dict[str, Any]:
        """The next frame of type ``kind`` (others are kept in ``frames``)."""
        async with asyncio.timeout(within):
            while True:
                frame: dict[str, Any] = json.loads(await self.socket.recv())
                self.frames.append(frame)
                if frame.get("type") == kind:
                    return frame

    async def hello(self, token: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        await self.send({"type": "hello", "token": token})
        return await self.receive("welcome"), await self.receive("events")

    async def say(self, frame_id: str, text: str) -> dict[str, Any]:
        await self.send({"type": "message", "id": frame_id, "text": text})
        return await self.receive("ack")


@contextlib.asynccontextmanager
async def widget(rig: HubRig) -> AsyncIterator[Widget]:
    """A browser's widget connected to the hub (``Origin`` is the public site)."""
    url = rig.url.replace("http://", "ws://") + "/connectors/chat/ws?site=default"
    async with websockets.asyncio.client.connect(url, origin=Origin(PUBLIC)) as socket:
        yield Widget(socket)
