"""Serve an ASGI app on a real loopback socket inside the running event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Literal

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["serve"]


class _Started:
    """Wraps an app to notice when its lifespan startup has finished (either way)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.done = asyncio.Event()
        self.failed: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def watched(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                self.failed = str(message.get("message", ""))
            await send(message)
            if message["type"] in ("lifespan.startup.complete", "lifespan.startup.failed"):
                self.done.set()

        await self.app(scope, receive, watched)


@contextlib.asynccontextmanager
async def serve(
    app: ASGIApp, *, lifespan: Literal["auto", "on", "off"] = "on"
) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 at a free port; yields its base URL once the
    app's startup has completed (a failed startup raises ``RuntimeError``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    started = _Started(app)
    config = uvicorn.Config(started, lifespan=lifespan, log_level="warning", ws="websockets-sansio")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"kit-serve-{port}")
    try:
        if lifespan == "on":
            ready = asyncio.ensure_future(started.done.wait())
            await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if started.failed is not None or task.done():
                raise RuntimeError(f"the app failed to start: {started.failed or 'exited'}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
