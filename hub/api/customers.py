"""``/customers`` routes: look-up, timeline, merge and unmerge."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from hub.api.handling import direction_param, endpoint, error, json_body, limit_param
from hub.timeline.merges import survivor
from hub.timeline.model import Identity, to_json

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.timeline.model import ApiToken


@endpoint
async def search_customers(request: Request, hub: Hub, token: ApiToken) -> Response:
    raw = request.query_params.get("identity")
    if not raw:
        return error(422, "give identity=kind:value", "identity")
    identity = Identity.parse(raw, default_region=hub.settings.default_region)
    customer = await hub.store.find_customer(identity)
    return JSONResponse({"items": [to_json(customer)] if customer else []})


@endpoint
async def get_customer(request: Request, hub: Hub, token: ApiToken) -> Response:
    customer = await hub.store.get_customer(request.path_params["customer_id"])
    return JSONResponse(to_json(customer))


@endpoint
async def customer_timeline(request: Request, hub: Hub, token: ApiToken) -> Response:
    customer = await survivor(hub.store, request.path_params["customer_id"])
    page = await hub.store.events(
        customer_id=customer.id,
        cursor=request.query_params.get("cursor"),
        direction=direction_param(request),
        limit=limit_param(request),
    )
    return JSONResponse(
        {
            "customer_id": customer.id,
            "items": to_json(page.items),
            "older": page.older,
            "newer": page.newer,
            "has_newer": page.has_newer,
        }
    )


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: str = Field(min_length=1)
    reason: str | None = Field(None, max_length=1000)


class UnmergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=1000)


@endpoint
async def merge_customer(request: Request, hub: Hub, token: ApiToken) -> Response:
    body = MergeBody.model_validate(await json_body(request))
    target = await hub.pipeline.merge(
        request.path_params["customer_id"], body.into, by=f"token:{token.name}", reason=body.reason
    )
    return JSONResponse(to_json(target))


@endpoint
async def unmerge_customer(request: Request, hub: Hub, token: ApiToken) -> Response:
    body = UnmergeBody.model_validate(await json_body(request))
    restored = await hub.pipeline.unmerge(
        request.path_params["customer_id"], by=f"token:{token.name}", reason=body.reason
    )
    return JSONResponse(to_json(restored))
