"""``/api/v1/webhooks…``: the subscriptions (secrets left out) and the delivery log.

* ``GET /webhooks`` — each subscription's name, url and event types.
* ``GET /webhooks/deliveries?subscription=&limit=`` — deliveries newest first, each
  with its status, attempts, next attempt and a log of every attempt (status code,
  error). An unknown subscription is 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api import endpoint
from hub.errors import InvalidInput, NotFound
from hub.timeline.model import to_json

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.timeline.model import ApiToken

__all__ = ["routes"]


@endpoint
async def subscriptions(request: Request, hub: Hub, token: ApiToken) -> Response:
    subs = hub.settings.webhooks.subscriptions
    return JSONResponse(
        {"items": [{"name": s.name, "url": s.url, "events": list(s.events)} for s in subs]}
    )


@endpoint
async def deliveries(request: Request, hub: Hub, token: ApiToken) -> Response:
    name = request.query_params.get("subscription") or None
    if name is not None and name not in {s.name for s in hub.settings.webhooks.subscriptions}:
        raise NotFound(f"no webhook subscription {name!r}")
    raw = request.query_params.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise InvalidInput("limit", "limit must be a number from 1 to 500")
    found = await hub.store.webhook_deliveries(subscription=name, limit=int(raw))
    items = []
    for d in found:
        item = to_json(d)
        item.pop("lease_token", None)
        items.append(item)
    return JSONResponse({"items": items})


routes = [
    Route("/webhooks", subscriptions, methods=["GET"]),
    Route("/webhooks/deliveries", deliveries, methods=["GET"]),
]
