"""``/reports`` routes of the JSON API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response

from hub.api.handling import endpoint
from hub.timeline.search import query_day

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.timeline.model import ApiToken


@endpoint
async def macro_report(request: Request, hub: Hub, token: ApiToken) -> Response:
    """Replies sent from each macro between ``from`` and ``to`` (dates, inclusive)."""
    from hub.agent.macros import every_macro

    params = request.query_params
    since = query_day("from", params["from"], end=False) if params.get("from") else None
    until = query_day("to", params["to"], end=True) if params.get("to") else None
    used = await hub.store.macro_usage(since=since, until=until)
    titles = {m.id: m.title for m in every_macro(hub.settings.agent)}
    items = [
        {"macro": macro, "title": titles.get(macro), "replies": n}
        for macro, n in sorted(used.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return JSONResponse({"items": items})
