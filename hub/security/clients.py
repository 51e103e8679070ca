"""Who a request comes from, and per-client sliding-window limits.

The client is the connection's address. ``omnihub serve`` lets uvicorn replace
it with the ``X-Forwarded-For`` address only when the connection comes from one
of ``security.trusted_proxies`` (uvicorn's ``forwarded_allow_ips``), so a
client cannot pick its own address by sending the header.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from starlette.requests import HTTPConnection

from hub.settings import SecuritySettings

__all__ = ["ClientBudgets", "ClientLimit", "client_of"]


def client_of(request: HTTPConnection) -> str:
    """The client address of ``request`` (or websocket), ``"unknown"`` if the server has none."""
    return request.client.host if request.client else "unknown"


class ClientLimit:
    """At most ``limit`` hits per ``seconds`` per key; least recently used keys evicted past
    ``keep`` (never everyone's counts at once)."""

    def __init__(
        self,
        limit: int,
        seconds: float,
        *,
        keep: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self.keep = keep
        self.clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self.refused = 0

    def allow(self, key: str) -> bool:
        """Count a hit for ``key``; False (not counted) when it is over the limit."""
        now = self.clock()
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self.keep:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and now - hits[0] >= self.seconds:
            hits.popleft()
        if len(hits) >= self.limit:
            self.refused += 1
            return False
        hits.append(now)
        return True


class ClientBudgets:
    """The hub's ``context.client_budget`` (:class:`hub.connectors.ClientBudget`): one
    :class:`ClientLimit` per budget, from ``security`` settings."""

    def __init__(self, settings: SecuritySettings) -> None:
        window = settings.client_window_seconds
        self.limits = {
            "new_visitor": ClientLimit(settings.visitors_per_client, window),
            "visitor_message": ClientLimit(settings.visitor_messages_per_client, window),
        }

    def __call__(self, budget: str, connection: HTTPConnection) -> bool:
        """Spend one unit of ``budget`` for ``connection``'s client; False when it is spent."""
        return self.limits[budget].allow(client_of(connection))
