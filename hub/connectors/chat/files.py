"""Attachments: ``POST /connectors/chat/uploads`` then a ``ref`` in a message frame.

An upload is checked against ``upload_max_bytes`` and ``upload_types`` by its
bytes (magic numbers), not by what the browser claims; it is stored in the blob
store and answered with a signed ``ref`` only the same visitor can use in a
message. Files are served back at ``/connectors/chat/files/<signed token>``:
an unguessable URL that only the customer's own events carry, with
``nosniff``, a sandboxing CSP, and ``attachment`` disposition except for images.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from hub.connectors.chat.protocol import FrameError
from hub.connectors.chat.settings import served_hosts
from hub.connectors.chat.visitors import Visitor, read_visitor
from hub.errors import BadToken, NotFound
from hub.signing import Signer
from hub.timeline.model import Attachment

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.connectors.chat.connector import ChatConnector

__all__ = ["file_url", "read_ref", "serve", "sniff", "upload"]

REF_PURPOSE = "chat.upload"
FILE_PURPOSE = "chat.file"
REF_MAX_AGE = 24 * 3600

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


def sniff(data: bytes, declared: str | None) -> str | None:
    """The content type ``data`` really has (of the ones we know), else ``None``."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if (declared or "").split(";")[0].strip() == "text/plain" and b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/plain"
    return None


def _filename(name: str | None) -> str:
    name = (name or "file").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if c.isprintable())
    return name.strip()[:200] or "file"


def read_ref(signer: Signer, ref: str, visitor: Visitor, frame_id: str) -> Attachment:
    """The attachment an upload ``ref`` stands for, if ``visitor`` uploaded it."""
    try:
        data = signer.loads(REF_PURPOSE, ref, max_age=REF_MAX_AGE)
    except BadToken:
        raise FrameError("bad_attachment", "unknown or expired upload", frame_id) from None
    if data.get("v") != visitor.id:
        raise FrameError("bad_attachment", "unknown or expired upload", frame_id)
    return Attachment(blob_id=data["b"], filename=data["n"], content_type=data["t"], size=data["z"])


def file_url(signer: Signer, attachment: Attachment) -> str:
    """Where the widget fetches ``attachment`` (relative to the hub)."""
    token = signer.dumps(
        FILE_PURPOSE,
        {"b": attachment.blob_id, "n": attachment.filename, "t": attachment.content_type},
    )
    return f"/connectors/chat/files/{token}"


def _cors(connector: ChatConnector, request: Request, site: str) -> dict[str, str] | None:
    origin = request.headers.get("origin")
    settings = connector.site(site)
    allowed = origin is None or (
        settings is not None and settings.allows(origin, served_hosts(request.headers))
    )
    if settings is None or not allowed:
        return None
    if origin is None:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Authorization",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


def _error(status: int, message: str, headers: dict[str, str], field: str) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status, headers=headers)


async def upload(connector: ChatConnector, request: Request) -> Response:
    """``POST /connectors/chat/uploads?site=…``: multipart ``file``, visitor token as
    ``Authorization: Bearer …`` or a ``token`` field."""
    site = request.query_params.get("site", "default")
    headers = _cors(connector, request, site)
    if headers is None:
        return JSONResponse({"error": "origin not allowed", "field": "origin"}, status_code=403)
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=headers)
    config = connector.config
    try:
        form = await request.form(max_files=1, max_fields=4)
    except Exception:
        return _error(400, "expected multipart/form-data with one file", headers, "file")
    try:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        token_field = form.get("token")
        token = token or (token_field if isinstance(token_field, str) else None)
        max_age = config.visitor_token_days * 86400
        visitor = read_visitor(connector.signer, site, token, max_age)
        if visitor is None:
            return _error(401, "a visitor token is required", headers, "token")
        if not connector.limiter.allow(visitor.id):
            return _error(429, "too many requests: slow down", headers, "file")
        item = form.get("file")
        if not isinstance(item, UploadFile):
            return _error(422, "no file in the form", headers, "file")
        data = await item.read(config.upload_max_bytes + 1)
        declared, filename = item.content_type, item.filename
    finally:
        await form.close()
    if len(data) > config.upload_max_bytes:
        return _error(413, f"files are limited to {config.upload_max_bytes} bytes", headers, "file")
    if not data:
        return _error(422, "the file is empty", headers, "file")
    kind = sniff(data, declared)
    if kind is None or kind not in config.upload_types:
        allowed = ", ".join(config.upload_types)
        return _error(415, f"this file type is not accepted (allowed: {allowed})", headers, "file")
    blob_id = await connector.context.blobs.put(data)
    name = _filename(filename)
    ref = connector.signer.dumps(
        REF_PURPOSE, {"v": visitor.id, "b": blob_id, "n": name, "t": kind, "z": len(data)}
    )
    attachment = Attachment(blob_id, name, kind, len(data))
    body = {
        "ref": ref,
        "name": name,
        "type": kind,
        "size": len(data),
        "url": file_url(connector.signer, attachment),
    }
    return JSONResponse(body, status_code=201, headers=headers)


_TOKEN = re.compile(r"[A-Za-z0-9_.\-]{10,1000}")


async def serve(connector: ChatConnector, request: Request) -> Response:
    """``GET /connectors/chat/files/<token>``."""
    token = request.path_params["token"]
    if not _TOKEN.fullmatch(token):
        return Response(status_code=404)
    try:
        data = connector.signer.loads(FILE_PURPOSE, token)
        body = await connector.context.blobs.get(str(data["b"]))
    except (BadToken, NotFound, KeyError):
        return Response(status_code=404)
    kind = str(data.get("t", "application/octet-stream"))
    disposition = "inline" if kind.startswith("image/") else "attachment"
    return Response(
        body,
        media_type=kind,
        headers={
            "Cache-Control": "private, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(str(data['n']))}",
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )
