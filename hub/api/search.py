"""``GET /search``: events of every customer matching a query."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response

from hub.api.handling import endpoint, limit_param
from hub.timeline.merges import survivor
from hub.timeline.model import to_json
from hub.timeline.search import query_from_params

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.timeline.model import ApiToken


@endpoint
async def search(request: Request, hub: Hub, token: ApiToken) -> Response:
    """Events of every customer matching ``q`` and the filters, newest first."""
    query = query_from_params(request.query_params)
    if query.customer_id is not None:
        found = await survivor(hub.store, query.customer_id)
        query = dataclasses.replace(query, customer_id=found.id)
    page = await hub.store.search(
        query, cursor=request.query_params.get("cursor") or None, limit=limit_param(request, 20)
    )
    return JSONResponse({"items": [to_json(e) for e in page.items], "next": page.next})
