"""``/reports`` routes of the JSON API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response

from hub.api.handling import endpoint
from hub.metrics.macros import macro_rows
from hub.timeline.search import query_day

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.timeline.model import ApiToken


@endpoint
async def macro_report(request: Request, hub: Hub, token: ApiToken) -> Response:
    """Per macro: replies sent from it between ``from`` and ``to`` (dates, inclusive), and
    the CSAT of the conversations opened then that used it (``conversations``,
    ``csat_responses``, ``csat`` the share of 4-5 answers, ``csat_avg``)."""
    params = request.query_params
    since = query_day("from", params["from"], end=False) if params.get("from") else None
    until = query_day("to", params["to"], end=True) if params.get("to") else None
    return JSONResponse({"items": await macro_rows(hub, since, until)})
