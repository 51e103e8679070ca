"""The hub served by uvicorn on a fixed loopback port, so a test can restart it.

``LiveHub.start()`` builds a fresh app from the same settings (same SQLite file,
same secret key file) and serves it; ``stop()`` shuts it down as a deploy
would (open websockets are closed). The port is kept between restarts.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from hub.app import Hub, build_app
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import Event, Identity
from hub.tokens import issue_token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveHub:
    """A restartable hub with the chat connector (and an API token for agent replies)."""

    tmp: Path
    chat: dict[str, Any] = field(default_factory=lambda: {"availability": "online"})
    port: int = field(default_factory=free_port)
    hub: Hub | None = None
    token: str = ""
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> Settings:
        return Settings(
            store=str(self.tmp / "hub.db"),
            blobs=str(self.tmp / "blobs"),
            secret_key_file=str(self.tmp / "secret"),
            public_url=self.url,
            outbox=OutboxSettings(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05),
            connectors={"chat": self.chat},
        )

    async def start(self) -> None:
        app = build_app(self.settings())
        self.hub = app.state.hub
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(128)
        config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            # the socket is listening already: this waits until the app has started
            assert (await client.get("/healthz")).status_code == 200
        if not self.token:
            assert self.hub is not None
            _, self.token = await issue_token(self.hub.store, "browser-tests")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            async with asyncio.timeout(15):
                await self._task
        self._server = self._task = None

    async def timeline(self, visitor: str) -> list[Event]:
        assert self.hub is not None
        customer = await self.hub.store.find_customer(Identity("chat", visitor))
        if customer is None:
            return []
        return (await self.hub.store.events(customer_id=customer.id, limit=500)).items

    async def reply(self, visitor: str, text: str, author: str | None = None) -> dict[str, Any]:
        """An agent answers the visitor's conversation through ``/api/v1``."""
        events = await self.timeline(visitor)
        conversation = next(e.conversation_id for e in events if e.conversation_id)
        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.post(
                f"/api/v1/conversations/{conversation}/reply",
                json={"text": text, "channel": "chat", "author": author},
                headers={"Authorization": f"Bearer {self.token}"},
            )
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body
