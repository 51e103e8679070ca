"""Visitor flooding: one client address cannot create visitors and messages without end.

The hub runs with the uvicorn configuration ``omnihub serve`` uses, so the client
address is what uvicorn's proxy handling makes it: the ``X-Forwarded-For`` address
only when the connection comes from a configured trusted proxy.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hub.app import Hub, build_app
from hub.serving import server_config
from hub.settings import SecuritySettings, Settings
from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from tests.servers import serving

Open = Callable[[str | None], AbstractAsyncContextManager[ClientConnection]]


def _settings(tmp_path: Path, **security: Any) -> Settings:
    return Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        secret_key="visitor-flood-secret-0123456789",
        security=SecuritySettings(**security),
        connectors={"chat": {"availability": "online", "sites": {"default": {"origins": ["*"]}}}},
    )


@pytest.fixture
def hub_with(
    store: TimelineStore, tmp_path: Path
) -> Callable[..., AbstractAsyncContextManager[tuple[Hub, Open]]]:
    """The hub behind real uvicorn with ``security`` settings; yields (hub, open) where
    ``open(forwarded_for)`` opens a widget socket, claiming that client address."""

    @contextlib.asynccontextmanager
    async def run(**security: Any) -> AsyncIterator[tuple[Hub, Open]]:
        settings = _settings(tmp_path, **security)
        app = build_app(settings, store=store)
        config = server_config(settings, app, host="127.0.0.1", port=0)
        config.log_level = "warning"
        async with serving(config) as (base, _):
            url = base.replace("http://", "ws://") + "/connectors/chat/ws?site=default"

            def open_socket(forwarded_for: str | None) -> Any:
                headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
                return connect(url, origin=base, additional_headers=headers)  # type: ignore[arg-type]

            yield app.state.hub, open_socket

    return run


async def _hello(ws: ClientConnection, token: str | None = None) -> dict[str, Any]:
    """The welcome, or the error frame the hub answered hello with."""
    await ws.send(json.dumps({"type": "hello", "token": token}))
    first: dict[str, Any] = json.loads(await ws.recv())
    if first["type"] == "welcome":
        await ws.recv()  # the history
    return first


async def _closed_code(ws: ClientConnection) -> int | None:
    try:
        await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return None


async def test_new_visitors_are_limited_per_forwarded_client_address(hub_with: Any) -> None:
    async with hub_with(visitors_per_client=3) as (_, open_socket):
        tokens = []
        for _ in range(3):
            async with open_socket("203.0.113.5") as ws:
                welcome = await _hello(ws)
                assert welcome["type"] == "welcome"
                tokens.append(welcome["token"])
        async with open_socket("203.0.113.5") as ws:
            refused = await _hello(ws)
            assert refused["code"] == "too_many_visitors"
            assert await _closed_code(ws) == 1013  # try again later: the widget backs off
        async with open_socket("203.0.113.5") as ws:  # a returning visitor is not new
            assert (await _hello(ws, tokens[0]))["type"] == "welcome"
        async with open_socket("198.51.100.7") as ws:  # another client behind the proxy
            assert (await _hello(ws))["type"] == "welcome"


async def test_a_forwarded_address_counts_only_from_a_trusted_proxy(hub_with: Any) -> None:
    async with hub_with(visitors_per_client=3, trusted_proxies=("10.9.9.9",)) as (_, open_socket):
        for n in range(3):
            async with open_socket(f"203.0.113.{n}") as ws:
                assert (await _hello(ws))["type"] == "welcome"
        async with open_socket("203.0.113.99") as ws:  # a new header fools nobody
            assert (await _hello(ws))["code"] == "too_many_visitors"


async def test_messages_are_limited_per_client_address_across_visitors(hub_with: Any) -> None:
    async with hub_with(visitor_messages_per_client=5) as (hub, open_socket):
        answers: list[dict[str, Any]] = []
        visitors = []
        for _ in range(2):
            async with open_socket("203.0.113.5") as ws:
                visitors.append((await _hello(ws))["visitor"])
                for m in range(3):
                    await ws.send(json.dumps({"type": "message", "id": f"m{m}", "text": "buy"}))
                    while (answer := json.loads(await ws.recv()))["type"] not in ("ack", "error"):
                        pass
                    answers.append(answer)
        assert [a["type"] for a in answers] == ["ack"] * 5 + ["error"]
        assert answers[-1]["code"] == "rate_limited" and answers[-1]["id"] == "m2"
        stored = 0
        for visitor in visitors:
            customer = await hub.store.find_customer(Identity("chat", visitor))
            if customer is not None:
                stored += len((await hub.store.events(customer_id=customer.id, limit=50)).items)
        assert stored == 5
        async with open_socket("198.51.100.7") as ws:  # another client still gets through
            await _hello(ws)
            await ws.send(json.dumps({"type": "message", "id": "x", "text": "hello"}))
            while (answer := json.loads(await ws.recv()))["type"] not in ("ack", "error"):
                pass
            assert answer["type"] == "ack"
