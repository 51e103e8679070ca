"""Replies and notes on a conversation, and the channels a reply can take."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from hub.api.handling import endpoint, json_body
from hub.errors import InvalidInput
from hub.payloads import parse_json
from hub.timeline.model import Attachment, to_json

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.timeline.model import ApiToken


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
