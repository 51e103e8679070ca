"""Tokens are credentials: kept out of the hub's log, and a leaked file link stops working."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from itsdangerous.timed import TimestampSigner

from hub.app import build_app
from hub.connectors.chat import files
from hub.connectors.chat.connector import ChatConnector
from hub.logs import configure_logging
from hub.settings import Settings
from hub.timeline.model import Attachment
from hub.timeline.store import TimelineStore
from tests.servers import serve

PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)


def hub_settings(tmp_path: Path) -> Settings:
    return Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        secret_key="token-tests-secret-key-0123456789",
        connectors={"chat": {"availability": "online", "file_link_hours": 1}},
    )


@pytest.fixture
def hub_log() -> Iterator[io.StringIO]:
    """The hub's own logging (``omnihub serve``'s), written to a buffer."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("info", "json", [])
    out = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    try:
        yield out
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


async def test_link_and_file_tokens_never_reach_the_log(
    store: TimelineStore, tmp_path: Path, hub_log: io.StringIO
) -> None:
    app = build_app(hub_settings(tmp_path), store=store)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    config = uvicorn.Config(app, log_config=None, access_log=True, log_level="info")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/healthz")).status_code == 200  # lifespan has run
        hub = app.state.hub
        chat = hub.connectors["chat"]
        assert isinstance(chat, ChatConnector)
        blob = await hub.blobs.put(PNG)
        url = files.file_url(chat.signer, Attachment(blob, "photo.png", "image/png", len(PNG)))
        file_token = url.rsplit("/", 1)[1]
        link_token = "lnk" + "Q" * 40
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get(url)).status_code == 200
            await client.get(f"/c/{link_token}")
            await client.get(f"/connectors/chat/files/{file_token}?token={link_token}")
    finally:
        server.should_exit = True
        await task
        sock.close()
    lines = [json.loads(line) for line in hub_log.getvalue().splitlines()]
    access = [
        line["msg"]
        for line in lines
        if line["logger"] == "uvicorn.access" and "/healthz" not in line["msg"]
    ]
    assert len(access) == 3 and "/connectors/chat/files/********" in access[0]
    assert "/c/********" in access[1]
    text = hub_log.getvalue()
    assert file_token not in text and link_token not in text


async def test_a_leaked_file_link_stops_working(
    store: TimelineStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(hub_settings(tmp_path), store=store)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        hub = app.state.hub
        chat = hub.connectors["chat"]
        assert isinstance(chat, ChatConnector)
        attachment = Attachment(await hub.blobs.put(PNG), "photo.png", "image/png", len(PNG))
        fresh = files.file_url(chat.signer, attachment)
        with monkeypatch.context() as past:  # a link handed out two hours ago
            signed_at = int(time.time()) - 7200
            past.setattr(TimestampSigner, "get_timestamp", lambda self: signed_at)
            leaked = files.file_url(chat.signer, attachment)
        ok = await client.get(fresh)
        assert ok.status_code == 200 and ok.content == PNG
        assert "immutable" not in ok.headers["cache-control"]
        gone = await client.get(leaked)
        assert gone.status_code == 404 and PNG not in gone.content
