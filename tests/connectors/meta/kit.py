"""The Meta side of the tests: a Graph API double, signed webhooks in Meta's shapes.

``GraphDouble`` is a real HTTP server speaking the parts of the Graph API the
connector uses: ``POST /{version}/{account}/messages`` (Send API and WhatsApp),
``GET /{version}/{media-id}`` and the download URL it hands out (both need the
WhatsApp bearer token), and a CDN serving Messenger attachment URLs (which must
*not* receive a token). It checks the bearer token of every call against the
account's, records the requests, and answers in Graph's shapes or with scripted
errors.

The payload builders follow REFERENCE.md §3-4; :func:`signed` signs a body
with HMAC-SHA256 over the raw bytes, as Meta does.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

APP_SECRET = "meta-app-secret-0123456789abcdef"
VERIFY_TOKEN = "verify-me-0123456789"
APP_ID = "4242424242"
OTHER_APP_ID = "7777777777"
VERSION = "v23.0"  # not the default: proves the Graph version is configurable
PAGE_ID = "1000000000000001"
PAGE_TOKEN = "EAAG-page-token-0123456789"
IG_ID = "17841400000000001"
IG_TOKEN = "IGAA-instagram-token-0123456789"
PHONE_NUMBER_ID = "106540352242922"
WA_TOKEN = "EAAW-system-user-token-0123456789"
DISPLAY_NUMBER = "15550001234"
TOKENS = {PAGE_ID: PAGE_TOKEN, IG_ID: IG_TOKEN, PHONE_NUMBER_ID: WA_TOKEN}


def signature(body: bytes, secret: str = APP_SECRET) -> str:
    """``X-Hub-Signature-256`` for ``body`` (Meta's algorithm)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def graph_error(status: int, code: int, message: str, subcode: int | None = None) -> JSONResponse:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return JSONResponse({"error": error}, status_code=status)


@dataclass
class Sent:
    path: str
    authorization: str | None
    body: dict[str, Any]


@dataclass
class GraphDouble:
    """The Graph API, the parts we use. ``script`` holds answers for the next sends."""

    sent: list[Sent] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    template_pages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """WABA id → the pages ``message_templates`` answers (``after`` picks one)."""
    script: list[Response] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    cdn: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    media_urls: dict[str, str] = field(default_factory=dict)
    downloads: list[tuple[str, str | None]] = field(default_factory=list)
    unauthorised: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/{version}/{account}/messages", self.messages, methods=["POST"]),
                Route("/{version}/{account}/media", self.upload, methods=["POST"]),
                Route(
                    "/{version}/{waba}/message_templates", self.message_templates, methods=["GET"]
                ),
                Route("/lookaside/{media_id}", self.lookaside, methods=["GET"]),
                Route("/cdn/{name}", self.cdn_file, methods=["GET"]),
                Route("/{version}/{media_id}", self.media_info, methods=["GET"]),
            ]
        )

    def _authorised(self, request: Request, account: str) -> bool:
        ok = request.headers.get("authorization") == f"Bearer {TOKENS.get(account)}"
        self.unauthorised += not ok
        return ok

    async def _body(self, request: Request) -> dict[str, Any]:
        """A JSON body, or a multipart form (JSON-valued fields decoded, files as bytes)."""
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            body: dict[str, Any] = json.loads(await request.body())
            return body
        found: dict[str, Any] = {}
        async with request.form() as form:
            for key, value in form.multi_items():
                if isinstance(value, str):
                    found[key] = json.loads(value) if value[:1] in "{[" else value
                else:
                    found[key] = {
                        "filename": value.filename,
                        "content_type": value.content_type,
                        "data": await value.read(),
                    }
        return found

    async def message_templates(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {WA_TOKEN}":
            self.unauthorised += 1
            return graph_error(401, 190, "Invalid OAuth access token.")
        pages = self.template_pages.get(request.path_params["waba"])
        if pages is None:
            return graph_error(400, 100, "Unsupported get request.", 33)
        index = int(request.query_params.get("after") or 0)
        page = dict(pages[index])
        if index + 1 < len(pages):
            page["paging"] = {"next": str(request.url.include_query_params(after=index + 1))}
        return JSONResponse(page)

    async def upload(self, request: Request) -> Response:
        account = request.path_params["account"]
        if not self._authorised(request, account):
            return graph_error(401, 190, "Invalid OAuth access token.")
        body = await self._body(request)
        if body.get("messaging_product") != "whatsapp" or not isinstance(body.get("file"), dict):
            return graph_error(400, 100, "Param file must be a file with one of the types")
        self.uploads.append(body)
        return JSONResponse({"id": f"MEDIA{len(self.uploads):04d}"})

    async def messages(self, request: Request) -> Response:
        account = request.path_params["account"]
        if not self._authorised(request, account):
            return graph_error(401, 190, "Invalid OAuth access token.")
        body = await self._body(request)
        self.sent.append(Sent(request.url.path, request.headers.get("authorization"), body))
        self.changed.set()
        if self.script:
            return self.script.pop(0)
        n = len(self.sent)
        if body.get("messaging_product") == "whatsapp":
            return JSONResponse(
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                    "messages": [{"id": f"wamid.OUT{n:04d}"}],
                }
            )
        return JSONResponse({"recipient_id": body["recipient"]["id"], "message_id": f"m_out{n}"})

    async def media_info(self, request: Request) -> Response:
        media_id = request.path_params["media_id"]
        self.downloads.append((f"info:{media_id}", request.headers.get("authorization")))
        if request.headers.get("authorization") != f"Bearer {WA_TOKEN}":
            self.unauthorised += 1
            return graph_error(401, 190, "Invalid OAuth access token.")
        if media_id not in self.media:
            return graph_error(404, 100, "Unsupported get request.", 33)
        data, mime = self.media[media_id]
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": self.media_urls.get(
                    media_id, f"{str(request.base_url).rstrip('/')}/lookaside/{media_id}"
                ),
                "mime_type": mime,
                "sha256": hashlib.sha256(data).hexdigest(),
                "file_size": len(data),
                "id": media_id,
            }
        )

    async def lookaside(self, request: Request) -> Response:
        media_id = request.path_params["media_id"]
        self.downloads.append((f"file:{media_id}", request.headers.get("authorization")))
        if request.headers.get("authorization") != f"Bearer {WA_TOKEN}":
            self.unauthorised += 1
            return Response(status_code=401)
        data, mime = self.media[media_id]
        return Response(data, media_type=mime)

    async def cdn_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.downloads.append((f"cdn:{name}", request.headers.get("authorization")))
        if name in self.redirects:
            return Response(status_code=302, headers={"location": self.redirects[name]})
        if name not in self.cdn:
            return Response(status_code=404)
        data, mime = self.cdn[name]
        return Response(data, media_type=mime)

    async def wait_sent(self, count: int, within: float = 10) -> None:
        async with asyncio.timeout(within):
            while len(self.sent) < count:
                self.changed.clear()
                await self.changed.wait()


# -- Messenger / Instagram payloads (REFERENCE.md §3) ------------------------------------
def messaging(obj: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"object": obj, "entry": list(entries)}


def entry(account: str, *items: dict[str, Any], standby: bool = False) -> dict[str, Any]:
    return {
        "id": account,
        "time": 1749416390000,
        "standby" if standby else "messaging": list(items),
    }


def message(
    customer: str,
    mid: str,
    text: str | None = None,
    *,
    account: str = PAGE_ID,
    ms: int = 1749416383000,
    attachments: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"mid": mid, **extra}
    if text is not None:
        body["text"] = text
    if attachments:
        body["attachments"] = attachments
    return {
        "sender": {"id": customer},
        "recipient": {"id": account},
        "timestamp": ms,
        "message": body,
    }


def echo(
    customer: str, mid: str, text: str, *, app_id: str, account: str = PAGE_ID
) -> dict[str, Any]:
    return {
        "sender": {"id": account},
        "recipient": {"id": customer},
        "timestamp": 1749416388000,
        "message": {"mid": mid, "is_echo": True, "app_id": int(app_id), "text": text},
    }


def delivery(
    customer: str, watermark: int, mids: list[str] | None = None, account: str = PAGE_ID
) -> dict[str, Any]:
    body: dict[str, Any] = {"watermark": watermark}
    if mids is not None:
        body["mids"] = mids
    return {
        "sender": {"id": customer},
        "recipient": {"id": account},
        "timestamp": watermark,
        "delivery": body,
    }


def read(
    customer: str, *, watermark: int | None = None, mid: str | None = None, account: str = PAGE_ID
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if watermark is not None:
        body["watermark"] = watermark
    if mid is not None:
        body["mid"] = mid
    return {
        "sender": {"id": customer},
        "recipient": {"id": account},
        "timestamp": 1749416399000,
        "read": body,
    }


# -- WhatsApp payloads (REFERENCE.md §4) ---------------------------------------------------
def whatsapp(*changes: dict[str, Any], waba: str = "102290129340398") -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba, "changes": list(changes)}],
    }


def wa_value(
    *,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    contacts: tuple[tuple[str, str], ...] = (),
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": phone_number_id},
    }
    if contacts:
        value["contacts"] = [{"profile": {"name": n}, "wa_id": w} for w, n in contacts]
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {"field": "messages", "value": value}


def wa_text(sender: str, wamid: str, body: str, *, ts: int = 1749416383) -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(ts),
        "type": "text",
        "text": {"body": body},
    }


def wa_media(sender: str, wamid: str, kind: str, media_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": "1749416383",
        "type": kind,
        kind: {"id": media_id, **fields},
    }


def wa_status(
    wamid: str, status: str, recipient: str, *, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": "1749416390",
        "recipient_id": recipient,
    }
    if errors:
        body["errors"] = errors
    return body
