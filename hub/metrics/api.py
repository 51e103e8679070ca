"""``GET /api/v1/metrics/service?since=&until=&by=`` — the service metrics of the
conversations opened in the period (default: the last 7 days), in total and by
``agent``, ``team``, ``channel``, ``priority``, ``tier`` or ``support_tier``
(default ``channel``); ``format=csv`` answers a CSV file instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api import endpoint
from hub.metrics.report import build_report, parse_period

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.timeline.model import ApiToken

__all__ = ["routes"]


@endpoint
async def service(request: Request, hub: Hub, token: ApiToken) -> Response:
    since, until = parse_period(request.query_params)
    report = await build_report(hub, since, until, request.query_params.get("by", "channel"))
    if request.query_params.get("format") == "csv":
        return Response(
            report.csv(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="service-metrics.csv"'},
        )
    return JSONResponse(report.as_json())


routes = [Route("/metrics/service", service, methods=["GET"])]
