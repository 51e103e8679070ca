"""Who a request comes from, and the per-client budgets connectors spend.

The client is the connection's address. ``omnihub serve`` lets uvicorn replace
it with the ``X-Forwarded-For`` address only when the connection comes from one
of ``security.trusted_proxies`` (uvicorn's ``forwarded_allow_ips``), so a
client cannot pick its own address by sending the header.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from hub.settings import SecuritySettings
from hub.shared import SharedState

__all__ = ["ClientBudgets", "client_of"]


def client_of(request: HTTPConnection) -> str:
    """The client address of ``request`` (or websocket), ``"unknown"`` if the server has none."""
    return request.client.host if request.client else "unknown"


class ClientBudgets:
    """The hub's ``context.client_budget`` (:class:`hub.connectors.ClientBudget`), from
    ``security`` settings, spent in the hub's shared state: instances on one MongoDB
    store share the counts, so a client cannot multiply its budget by their number."""

    def __init__(self, settings: SecuritySettings, shared: SharedState) -> None:
        self.window = settings.client_window_seconds
        self.limits = {
            "new_visitor": settings.visitors_per_client,
            "visitor_message": settings.visitor_messages_per_client,
        }
        self.shared = shared

    async def __call__(self, budget: str, connection: HTTPConnection) -> bool:
        """Spend one unit of ``budget`` for ``connection``'s client; False when it is spent."""
        key = f"client:{budget}:{client_of(connection)}"
        return await self.shared.spend(key, self.limits[budget], self.window)
