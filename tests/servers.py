"""Run ASGI apps on real loopback sockets inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, *, lifespan: str = "on") -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port); yields the base URL.

    The socket is bound and listening before uvicorn starts, so clients may
    connect at once: the kernel queues them until the server accepts.
    """
    async with serving(app, lifespan=lifespan) as (url, _):
        yield url


@contextlib.asynccontextmanager
async def serving(
    app: ASGIApp | uvicorn.Config, *, lifespan: str = "on", **config: Any
) -> AsyncIterator[tuple[str, uvicorn.Server]]:
    """:func:`serve`, yielding the server too (its ``server_state`` shows running app calls).
    ``app`` may be a whole ``uvicorn.Config`` (host and port are ignored)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    if isinstance(app, uvicorn.Config):
        settings = app
    else:
        config.setdefault("log_level", "warning")
        config.setdefault("ws", "websockets-sansio")
        settings = uvicorn.Config(app, lifespan=lifespan, **config)
    server = uvicorn.Server(settings)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        await task
        sock.close()
