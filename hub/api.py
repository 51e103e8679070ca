"""The JSON API for agents and integrations, mounted at ``/api/v1``.

Every route needs ``Authorization: Bearer <token>`` (``omnihub tokens create``).
Errors are JSON ``{"error": …, "field": …}``: 401 without a valid token, 404
for unknown records, 409 for conflicts, 400 for a bad cursor, 422 for invalid
input (naming the field), 413 for a body over the limit.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.errors import Conflict, InvalidInput, NotFound
from hub.payloads import parse_json
from hub.timeline.merges import survivor
from hub.timeline.model import Attachment, ConversationStatus, Identity, Priority, to_json
from hub.timeline.search import query_day, query_from_params
from hub.timeline.store import ConversationUpdate, InboxFilter, InvalidCursor
from hub.tokens import authenticate

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.timeline.model import ApiToken

__all__ = ["routes"]

Handler = Callable[["Request", "Hub", "ApiToken"], Awaitable[Response]]


def error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, then map the hub's errors to HTTP answers in one place."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        hub: Hub = request.app.state.hub
        token = await authenticate(hub.store, request.headers.get("authorization"))
        if token is None:
            response = error(401, "missing or invalid API token")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        try:
            return await handler(request, hub, token)
        except NotFound as exc:
            return error(404, str(exc))
        except InvalidInput as exc:
            return error(exc.status, exc.reason, exc.field)
        except InvalidCursor as exc:
            return error(400, str(exc), "cursor")
        except ValidationError as exc:
            first = exc.errors()[0]
            return error(422, first["msg"], ".".join(str(p) for p in first["loc"]) or "body")
        except Conflict as exc:
            return error(409, str(exc))

    return wrapped


async def json_body(request: Request) -> Any:
    body = await request.body()
    if not body:
        return {}
    return parse_json(body)


def _limit(request: Request, default: int = 50) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise InvalidInput("limit", "limit must be an integer from 1 to 500")
    return int(raw)


def _direction(request: Request) -> Literal["older", "newer"]:
    value = request.query_params.get("direction", "older")
    if value not in ("older", "newer"):
        raise InvalidInput("direction", "direction must be older or newer")
    return "older" if value == "older" else "newer"


# -- search --------------------------------------------------------------------
@endpoint
async def search(request: Request, hub: Hub, token: ApiToken) -> Response:
    """Events of every customer matching ``q`` and the filters, newest first."""
    query = query_from_params(request.query_params)
    if query.customer_id is not None:
        found = await survivor(hub.store, query.customer_id)
        query = dataclasses.replace(query, customer_id=found.id)
    page = await hub.store.search(
        query, cursor=request.query_params.get("cursor") or None, limit=_limit(request, 20)
    )
    return JSONResponse({"items": [to_json(e) for e in page.items], "next": page.next})


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


# -- customers -----------------------------------------------------------------
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
        direction=_direction(request),
        limit=_limit(request),
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


# -- conversations ---------------------------------------------------------------
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
        limit=_limit(request),
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
        direction=_direction(request),
        limit=_limit(request),
    )
    return JSONResponse(
        {
            "items": to_json(page.items),
            "older": page.older,
            "newer": page.newer,
            "has_newer": page.has_newer,
        }
    )


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, max_length=100_000)
    html: str | None = Field(None, max_length=500_000)
    subject: str | None = Field(None, max_length=500)
    channel: str | None = Field(None, max_length=64)
    author: str | None = Field(None, max_length=200)
    tag: str | None = Field(None, max_length=64)
    template: dict[str, Any] | None = None
    follow_up: bool = False
    fulfils: str | None = Field(None, max_length=64)


@endpoint
async def reply_options(request: Request, hub: Hub, token: ApiToken) -> Response:
    options = await hub.pipeline.reply_options(request.path_params["conversation_id"])
    return JSONResponse(
        {
            "items": [
                {
                    "channel": o.channel,
                    "available": o.available,
                    "to": str(o.to) if o.to else None,
                    "text_limit": o.text_limit,
                    "attachments": o.attachments,
                    "max_attachment_bytes": o.max_attachment_bytes,
                    "window_closes_at": to_json(o.window_closes_at),
                    "needs": o.needs,
                }
                for o in options
            ]
        }
    )


MAX_FILES = 10


async def _reply_request(request: Request, hub: Hub) -> tuple[ReplyBody, list[Attachment]]:
    """The reply's fields and files: JSON, or ``multipart/form-data`` with ``files`` parts
    (each stored as a blob; the body limit bounds their total size)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return ReplyBody.model_validate(await json_body(request)), []
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=50)
    except Exception as exc:  # python-multipart's errors carry no common base
        raise InvalidInput("files", f"not a usable multipart body: {exc}") from None
    fields: dict[str, Any] = {}
    attachments: list[Attachment] = []
    try:
        for name, value in form.multi_items():
            if isinstance(value, str):
                fields[name] = value in ("true", "1", "on") if name == "follow_up" else value
                continue
            if name != "files":
                raise InvalidInput(name, "files go in parts named 'files'")
            data = await value.read()
            if not data:
                raise InvalidInput("files", f"{value.filename or 'a file'} is empty")
            filename = (value.filename or "file").replace("/", "_")[-200:]
            content_type = value.content_type or "application/octet-stream"
            blob_id = await hub.blobs.put(data)
            attachments.append(Attachment(blob_id, filename, content_type, len(data)))
    finally:
        await form.close()
    if "template" in fields:
        fields["template"] = parse_json(str(fields["template"]).encode())
    return ReplyBody.model_validate(fields), attachments


@endpoint
async def reply(request: Request, hub: Hub, token: ApiToken) -> Response:
    body, attachments = await _reply_request(request, hub)
    key = request.headers.get("idempotency-key")
    event = await hub.pipeline.send(
        request.path_params["conversation_id"],
        text=body.text,
        html=body.html,
        subject=body.subject,
        attachments=attachments,
        channel=body.channel,
        author=body.author or f"token:{token.name}",
        client_ref=f"{token.id}:{key}" if key else None,
        meta={
            k: v
            for k, v in (
                ("tag", body.tag),
                ("template", body.template),
                ("follow_up", body.follow_up),
                ("fulfils", body.fulfils),
            )
            if v
        },
    )
    return JSONResponse(to_json(event), status_code=202)


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=100_000)
    author: str | None = Field(None, max_length=200)
    follow_up: bool = False
    fulfils: str | None = Field(None, max_length=64)


@endpoint
async def add_note(request: Request, hub: Hub, token: ApiToken) -> Response:
    body = NoteBody.model_validate(await json_body(request))
    event = await hub.pipeline.note(
        request.path_params["conversation_id"],
        body.text,
        author=body.author or f"token:{token.name}",
        meta={k: v for k, v in (("follow_up", body.follow_up), ("fulfils", body.fulfils)) if v},
    )
    return JSONResponse(to_json(event), status_code=201)


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


routes = [
    Route("/conversations", start_conversation, methods=["POST"]),
    Route("/search", search, methods=["GET"]),
    Route("/reports/macros", macro_report, methods=["GET"]),
    Route("/customers", search_customers, methods=["GET"]),
    Route("/customers/{customer_id}", get_customer, methods=["GET"]),
    Route("/customers/{customer_id}/timeline", customer_timeline, methods=["GET"]),
    Route("/customers/{customer_id}/merge", merge_customer, methods=["POST"]),
    Route("/customers/{customer_id}/unmerge", unmerge_customer, methods=["POST"]),
    Route("/conversations", list_conversations, methods=["GET"]),
    Route("/conversations/{conversation_id}", get_conversation, methods=["GET"]),
    Route("/conversations/{conversation_id}", update_conversation, methods=["PATCH"]),
    Route("/conversations/{conversation_id}/events", conversation_events, methods=["GET"]),
    Route("/conversations/{conversation_id}/reply", reply, methods=["POST"]),
    Route("/conversations/{conversation_id}/reply-options", reply_options, methods=["GET"]),
    Route("/conversations/{conversation_id}/notes", add_note, methods=["POST"]),
]
