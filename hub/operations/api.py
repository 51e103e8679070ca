"""``/api/v1/operations/…``: the configuration (read-only) and the reports.

* ``GET /operations/config`` — rules, SLA policies, calendars, teams, thresholds.
* ``GET /operations/accuracy?since=&until=`` — each triage rule's accuracy
  (default: the last 30 days) against the target.
* ``GET /operations/breaches?since=&until=`` — SLA breaches by priority and agent,
  and compliance per priority against its target (default: the last 7 days).

* ``PUT /operations/{teams|staff|calendars}/{name}`` — an admin's edit of a team,
  an agent's staffing (by email) or a calendar, JSON as in ``omnihub.toml``;
  ``DELETE`` the same path removes the edit. Answers the configuration.

404 while operations are off.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api import endpoint, json_body
from hub.errors import InvalidInput, NotFound
from hub.operations.display import config_summary
from hub.operations.overrides import EDITABLE
from hub.operations.report import breaches, rule_accuracy

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.operations.service import Operations
    from hub.timeline.model import ApiToken

__all__ = ["routes"]


def _ops(hub: Hub) -> Operations:
    if hub.operations is None:
        raise NotFound("operations are off ([operations] enabled = false)")
    return hub.operations


def _period(request: Request, ops: Operations, days: int) -> tuple[datetime, datetime]:
    out: list[datetime] = []
    for name, default in (("since", None), ("until", ops.clock())):
        raw = request.query_params.get(name)
        if raw is None:
            out.append(default or ops.clock() - timedelta(days=days))
            continue
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(name, f"{name} must be an ISO 8601 time") from None
        if value.tzinfo is None:
            raise InvalidInput(name, f"{name} needs a time zone (e.g. Z)")
        out.append(value)
    return out[0], out[1]


@endpoint
async def config(request: Request, hub: Hub, token: ApiToken) -> Response:
    return JSONResponse(config_summary(_ops(hub)))


@endpoint
async def accuracy(request: Request, hub: Hub, token: ApiToken) -> Response:
    ops = _ops(hub)
    since, until = _period(request, ops, 30)
    rows = await rule_accuracy(
        hub.store, since=since, until=until, target=ops.settings.accuracy_target
    )
    return JSONResponse(
        {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "rules": [r.as_json() for r in rows],
        }
    )


@endpoint
async def breach_report(request: Request, hub: Hub, token: ApiToken) -> Response:
    ops = _ops(hub)
    since, until = _period(request, ops, 7)
    targets = {str(k): v for k, v in ops.settings.sla.compliance_targets.items()}
    report = await breaches(hub.store, since=since, until=until, targets=targets)
    return JSONResponse(
        {"since": since.isoformat(), "until": until.isoformat(), **report.as_json()}
    )


@endpoint
async def edit(request: Request, hub: Hub, token: ApiToken) -> Response:
    ops = _ops(hub)
    section = request.path_params["section"]
    if section not in EDITABLE:
        raise NotFound(f"editable sections are {', '.join(EDITABLE)}")
    value = None
    if request.method == "PUT":
        body = await json_body(request)
        if not isinstance(body, dict):
            raise InvalidInput("body", "a JSON object")
        value = body
    await ops.edit(section, request.path_params["name"], value)
    return JSONResponse(config_summary(ops))


routes = [
    Route("/operations/config", config, methods=["GET"]),
    Route("/operations/accuracy", accuracy, methods=["GET"]),
    Route("/operations/breaches", breach_report, methods=["GET"]),
    Route("/operations/{section}/{name}", edit, methods=["PUT", "DELETE"]),
]
