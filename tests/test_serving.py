"""``omnihub serve``'s limits against slow and oversized peers (a real process, real sockets)."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.hubs import HubProcess, run_hubs
from tests.rawws import masked_frame, raw_upgrade

CHAT = "/connectors/chat/ws?site=default"


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubProcess]:
    async with run_hubs(1, tmp_path, {"OMNIHUB_SERVER__REQUEST_TIMEOUT": "1"}) as hubs:
        yield hubs[0]


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    async with asyncio.timeout(30):
        while chunk := await reader.read(65536):
            received += chunk
    return received


async def test_a_half_sent_request_is_dropped(hub: HubProcess) -> None:
    host, port = hub.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Slow: ")  # and never the rest
        await writer.drain()
        assert await _until_closed(reader) == b""
    finally:
        writer.close()


async def test_a_websocket_outlives_the_request_deadline(hub: HubProcess) -> None:
    reader, writer = await raw_upgrade(hub.url, CHAT, hub.url)
    try:
        writer.write(masked_frame(0x1, json.dumps({"type": "hello"}).encode()))
        await writer.drain()
        await reader.readexactly(2)  # the welcome frame has begun: the socket is in use
        await asyncio.sleep(1.5)  # past the 1 s request deadline
        writer.write(masked_frame(0x1, b'{"type": "ping"}'))
        await writer.drain()
        async with asyncio.timeout(30):
            received = b""
            while b'"pong"' not in received:
                chunk = await reader.read(65536)
                assert chunk, "the server closed a live websocket"
                received += chunk
    finally:
        writer.close()


async def test_a_16_mib_frame_is_refused_from_its_header(hub: HubProcess) -> None:
    reader, writer = await raw_upgrade(hub.url, CHAT, hub.url)
    size = 16 * 1024 * 1024
    head = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", size) + b"\0\0\0\0"
    try:
        writer.write(head + b" " * 1024)  # the header and 1 KiB of the 16 MiB it announces
        await writer.drain()
        received = await _until_closed(reader)
    finally:
        writer.close()
    assert received[:1] == b"\x88"  # a close frame, before the payload was sent
    assert struct.unpack("!H", received[2:4])[0] == 1009
