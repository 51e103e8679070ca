"""The agent view under test: a running hub with agents, and a signed-in HTTP client.

``hub_for_agents`` serves the whole app (real uvicorn, real store) with the
``api`` channel (signed JSON webhooks, replies POSTed to a local receiver) so
conversations arrive through the real ingest path. ``Agentside`` signs in the
way a browser does: fetch the sign-in page, post the form with its CSRF token.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.agent.auth import create_agent
from hub.app import Hub, build_app
from hub.connectors.api import sign
from hub.settings import AgentSettings, OutboxSettings, SecuritySettings, Settings
from hub.timeline.model import Agent, AgentRole
from hub.timeline.store import TimelineStore
from tests.servers import serve

API_SECRET = "api-secret-0123456789abcdef"
PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page embeds in its forms."""
    found = CSRF_FIELD.search(html)
    assert found, "page has no CSRF token"
    return found.group(1)


@dataclass
class Running:
    """A served hub: base ``url``, the ``hub`` object and replies the api channel sent."""

    url: str
    hub: Hub
    client: httpx.AsyncClient
    replies: list[dict[str, Any]] = field(default_factory=list)

    async def agent(self, email: str, *, admin: bool = False, name: str | None = None) -> Agent:
        return await create_agent(
            self.hub.store,
            email=email,
            name=name or email.split("@")[0].title(),
            password=PASSWORD,
            role=AgentRole.ADMIN if admin else AgentRole.AGENT,
        )

    async def push(self, message_id: str, **fields: Any) -> dict[str, Any]:
        """A customer message through the signed ``api`` webhook; its ingest result."""
        payload = {"id": message_id, "from": "email:ana@example.com", "name": "Ana", **fields}
        body = json.dumps(payload).encode()
        ts = str(int(time.time()))
        r = await self.client.post(
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

    @contextlib.asynccontextmanager
    async def signed_in(
        self, email: str, password: str = PASSWORD, **headers: str
    ) -> AsyncIterator[Agentside]:
        async with httpx.AsyncClient(base_url=self.url, headers=headers) as client:
            side = Agentside(client)
            r = await side.sign_in(email, password)
            assert r.status_code == 303, r.text
            yield side


@dataclass
class Agentside:
    """A browser-like client of the agent view (keeps its cookies)."""

    client: httpx.AsyncClient
    csrf: str = ""

    async def sign_in(self, email: str, password: str) -> httpx.Response:
        page = await self.client.get("/agent/login")
        token = csrf_of(page.text)
        r = await self.client.post(
            "/agent/login", data={"email": email, "password": password, "csrf": token}
        )
        if r.status_code == 303:
            inbox = await self.client.get("/agent/")
            self.csrf = csrf_of(inbox.text)
        return r

    async def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: str | None = None
    ) -> httpx.Response:
        """A script-style POST (``Accept: application/json``) with this session's token."""
        token = self.csrf if csrf is None else csrf
        headers = {"Accept": "application/json"}
        if token:
            headers["X-CSRF-Token"] = token
        return await self.client.post(path, data=data or {}, headers=headers)


def settings_for(
    tmp_path: Path,
    callback_url: str,
    *,
    connectors: dict[str, Any] | None = None,
    public_url: str = "http://127.0.0.1:8000",
    security: dict[str, Any] | None = None,
    **agent: Any,
) -> Settings:
    return Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        public_url=public_url,
        secret_key="agent-tests-secret-key-0123456789",
        outbox=OutboxSettings(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05),
        connectors={
            "api": {"secret": API_SECRET, "callback_url": callback_url},
            **(connectors or {}),
        },
        agent=AgentSettings(**agent),
        security=SecuritySettings(**(security or {})),
    )


@contextlib.asynccontextmanager
async def hub_for_agents(
    store: TimelineStore,
    tmp_path: Path,
    *,
    connectors: dict[str, Any] | None = None,
    public_url: str = "http://127.0.0.1:8000",
    security: dict[str, Any] | None = None,
    **agent: Any,
) -> AsyncIterator[Running]:
    """The app served on loopback with the ``api`` channel (plus ``connectors``)
    and a receiver for the ``api`` channel's replies."""
    replies: list[dict[str, Any]] = []

    async def callback(request: Request) -> JSONResponse:
        replies.append(json.loads(await request.body()))
        return JSONResponse({"id": f"ext-{len(replies)}"})

    receiver = Starlette(routes=[Route("/cb", callback, methods=["POST"])])
    async with serve(receiver) as cb_url:
        settings = settings_for(
            tmp_path,
            f"{cb_url}/cb",
            connectors=connectors,
            public_url=public_url,
            security=security,
            **agent,
        )
        app = build_app(settings, store=store)
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            yield Running(url, app.state.hub, client, replies)
