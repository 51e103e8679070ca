"""``/conversations`` routes: start, list, read, update and read events."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from hub.api.handling import direction_param, endpoint, error, json_body, limit_param
from hub.errors import InvalidInput
from hub.timeline.model import ConversationStatus, Priority, to_json
from hub.timeline.store import ConversationUpdate, InboxFilter

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.timeline.model import ApiToken


def _inbox_filter(request: Request) -> InboxFilter:
    q = request.query_params
    status: tuple[ConversationStatus, ...] = InboxFilter().status
    if "status" in q:
        raw = [s for s in q["status"].split(",") if s]
        try:
            status = () if raw == ["any"] else tuple(ConversationStatus(s) for s in raw)
        except ValueError:
            raise InvalidInput(
                "status", f"status must be any of {[s.value for s in ConversationStatus]}"
            ) from None
    priority = None
    if q.get("priority"):
        try:
            priority = Priority(q["priority"])
        except ValueError:
            raise InvalidInput(
                "priority", f"priority must be one of {[p.value for p in Priority]}"
            ) from None
    return InboxFilter(
        status=status,
        assignee=q.get("assignee") or None,
        unassigned=q.get("unassigned") in ("1", "true"),
        priority=priority,
        channel=q.get("channel") or None,
        customer_id=q.get("customer_id") or None,
    )


@endpoint
async def list_conversations(request: Request, hub: Hub, token: ApiToken) -> Response:
    sort = request.query_params.get("sort", "last_activity")
    if sort not in ("last_activity", "waiting"):
        return error(422, "sort must be last_activity or waiting", "sort")
    page = await hub.store.list_conversations(
        _inbox_filter(request),
        sort="waiting" if sort == "waiting" else "last_activity",
        cursor=request.query_params.get("cursor"),
        limit=limit_param(request),
    )
    return JSONResponse({"items": to_json(page.items), "next": page.next})


@endpoint
async def get_conversation(request: Request, hub: Hub, token: ApiToken) -> Response:
    conv = await hub.store.get_conversation(request.path_params["conversation_id"])
    return JSONResponse(to_json(conv))


class ConversationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ConversationStatus | None = None
    subject: str | None = Field(None, max_length=500)
    assignee: str | None = Field(None, max_length=200)
    priority: Priority | None = None
    tags: list[str] | None = Field(None, max_length=50)
    snoozed_until: datetime | None = None


@endpoint
async def update_conversation(request: Request, hub: Hub, token: ApiToken) -> Response:
    patch = ConversationPatch.model_validate(await json_body(request))
    nullable: dict[str, Any] = {
        name: getattr(patch, name)
        for name in ("assignee", "snoozed_until")
        if name in patch.model_fields_set
    }
    update = ConversationUpdate(
        status=patch.status,
        subject=patch.subject,
        priority=patch.priority,
        tags=patch.tags,
        **nullable,
    )
    conv_id = request.path_params["conversation_id"]
    before = await hub.store.get_conversation(conv_id)
    conv = await hub.pipeline.update_conversation(
        conv_id, update, by=f"api:{token.name}", before=before
    )
    return JSONResponse(to_json(conv))


@endpoint
async def conversation_events(request: Request, hub: Hub, token: ApiToken) -> Response:
    conv = await hub.store.get_conversation(request.path_params["conversation_id"])
    page = await hub.store.events(
        conversation_id=conv.id,
        cursor=request.query_params.get("cursor"),
        direction=direction_param(request),
        limit=limit_param(request),
    )
    return JSONResponse(
        {
            "items": to_json(page.items),
            "older": page.older,
            "newer": page.newer,
            "has_newer": page.has_newer,
        }
    )


class StartBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str = Field(min_length=1, max_length=64)
    to: str = Field(min_length=1, max_length=320)
    text: str = Field(min_length=1, max_length=100_000)
    subject: str | None = Field(None, max_length=998)
    name: str | None = Field(None, max_length=200)
    template: str | None = Field(None, max_length=200)


@endpoint
async def start_conversation(request: Request, hub: Hub, token: ApiToken) -> Response:
    body = StartBody.model_validate(await json_body(request))
    started = await hub.pipeline.start_conversation(
        channel=body.channel,
        to=body.to,
        text=body.text,
        subject=body.subject,
        name=body.name,
        author=f"token:{token.name}",
        client_ref=request.headers.get("idempotency-key"),
        meta={"template": body.template} if body.template else None,
        default_region=hub.settings.default_region,
    )
    return JSONResponse(
        {
            "conversation": to_json(started.conversation),
            "event": to_json(started.event),
            "customer_id": started.customer.id,
            "new_customer": started.new_customer,
        },
        status_code=201,
    )
