"""How ``omnihub serve`` runs uvicorn: limits that keep slow or hostile peers from holding it.

* A request's head and body must arrive within ``server.request_timeout`` seconds of
  the connection opening (or of the previous answer on a kept-alive connection);
  otherwise the connection is dropped (slowloris). uvicorn itself only times out idle
  kept-alive connections, so :class:`DeadlineHttp` adds the deadline.
* ``server.max_connections`` is uvicorn's ``limit_concurrency`` (503 past it).
* ``ws_max_size`` is the chat widget's ``max_frame_bytes``: a larger frame is refused
  (1009) from its header, before its payload is buffered.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hub.connectors.chat.settings import ChatSettings

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from hub.settings import Settings

__all__ = ["DeadlineHttp", "server_config"]


class DeadlineHttp(HttpToolsProtocol):
    """uvicorn's HTTP protocol, dropping a connection whose request is not in on time."""

    request_timeout: float = 30.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()  # the next request on this connection gets the whole budget

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        transport = self.transport
        if transport.is_closing() or transport.get_protocol() is not self:
            return  # closed, or upgraded to a websocket
        cycle: Any = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.more_body:
            return  # the whole request is in: the hub is answering it
        transport.close()


def server_config(settings: Settings, app: ASGIApp, *, host: str, port: int) -> uvicorn.Config:
    """The uvicorn configuration ``omnihub serve`` runs ``app`` with."""
    chat = ChatSettings.model_validate(settings.connectors.get("chat", {}))
    limits = settings.server
    protocol = type("OmnihubHttp", (DeadlineHttp,), {"request_timeout": limits.request_timeout})
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=list(settings.security.trusted_proxies),
        http=protocol,
        timeout_keep_alive=int(limits.keep_alive_timeout),
        limit_concurrency=limits.max_connections,
        ws_max_size=chat.max_frame_bytes,
        # The sans-I/O websockets protocol compresses with 4 KiB windows: an idle
        # widget connection costs about half the memory of the default 32 KiB ones.
        ws="websockets-sansio",
        # Widget frames are small JSON: compressing them saves little and costs each
        # connection its deflate state (about half its memory).
        ws_per_message_deflate=False,
    )
