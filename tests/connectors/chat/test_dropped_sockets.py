"""Sockets that go away at awkward moments, on a real uvicorn server (both stores)."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect

from hub.app import Hub, build_app
from hub.connectors.chat.connector import ChatConnector
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import DeliveryStatus, Identity
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.rawws import masked_frame, raw_upgrade
from tests.servers import serving
from tests.waiting import until


@pytest.fixture
async def live(
    store: TimelineStore, tmp_path: Path
) -> AsyncIterator[tuple[str, Hub, str, uvicorn.Server]]:
    """The hub on a real socket: (base URL, hub, API token, server)."""
    settings = Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        secret_key="dropped-sockets-secret-0123456789",
        outbox=OutboxSettings(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05),
        connectors={"chat": {"availability": "online"}},
    )
    app = build_app(settings, store=store)
    async with serving(app) as (base, server):
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/healthz")).status_code == 200
        _, token = await issue_token(store, "tests")
        yield base, app.state.hub, token, server


async def _finished(server: uvicorn.Server) -> bool:
    return not server.server_state.tasks


async def test_a_socket_dropped_during_start_up_leaves_nothing_registered(
    live: tuple[str, Hub, str, uvicorn.Server],
) -> None:
    base, hub, api_token, server = live
    chat = hub.connectors["chat"]
    assert isinstance(chat, ChatConnector)
    ws_url = base.replace("http://", "ws://") + "/connectors/chat/ws?site=default"
    async with connect(ws_url, origin=base) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "hello"}))
        welcome = json.loads(await ws.recv())
        await ws.recv()
        await ws.send(json.dumps({"type": "message", "id": "m1", "text": "still there?"}))
        while json.loads(await ws.recv())["type"] != "ack":
            pass

    async def alone() -> bool:  # every socket's app call has returned
        return not server.server_state.tasks and not chat.sessions

    await until(alone)

    # The visitor comes back and is gone again before the welcome can reach them:
    # hello and close arrive together.
    reader, writer = await raw_upgrade(base, "/connectors/chat/ws?site=default", base)
    hello = json.dumps({"type": "hello", "token": welcome["token"]}).encode()
    writer.write(masked_frame(0x1, hello) + masked_frame(0x8, struct.pack("!H", 1000)))
    await writer.drain()
    async with asyncio.timeout(10):
        while await reader.read(65536):
            pass
    writer.close()
    await until(lambda: _finished(server))
    assert not chat.sessions

    customer = await hub.store.find_customer(Identity("chat", welcome["visitor"]))
    assert customer is not None
    conversation = (await hub.store.events(customer_id=customer.id, limit=5)).items[0]
    async with httpx.AsyncClient(base_url=base) as client:
        reply = await client.post(
            f"/api/v1/conversations/{conversation.conversation_id}/reply",
            json={"text": "are you there?", "channel": "chat"},
            headers={"Authorization": f"Bearer {api_token}"},
        )
    assert reply.status_code == 202, reply.text

    async def settled() -> bool:
        event = await hub.store.get_event(reply.json()["id"])
        return bool(event.delivery and event.delivery.status.final)

    await until(settled)
    event = await hub.store.get_event(reply.json()["id"])
    assert event.delivery is not None
    assert event.delivery.status is DeliveryStatus.SENT  # in the history, not seen live
