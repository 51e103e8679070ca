"""Telegram Bot API: a webhook in, ``sendMessage`` out (plain httpx, no bot framework).

Setup: :func:`setup_webhook` (``omnihub connectors setup telegram``) calls
``setWebhook`` with ``<public_url>/connectors/telegram/webhook``, a secret token,
``allowed_updates = ["message", "edited_message"]`` and ``max_connections = 1``,
so Telegram delivers updates one at a time, in ``update_id`` order. The secret
is ``webhook_secret`` if configured, else derived from the bot token
(HMAC-SHA256), so nothing has to be stored: whoever holds the bot token can
re-register the webhook anyway.

Inbound: ``X-Telegram-Bot-Api-Secret-Token`` is compared in constant time
(403 on mismatch, nothing read). Updates are applied one at a time; the
checkpoint ``updates`` keeps the highest ``update_id`` applied and the ids
below it not seen yet, so a redelivered update is answered at once and a late
one (after a gap) is still applied. Private chats only: ``telegram:<user id>``;
text, captions, photos (largest size), documents, voice, audio and video
(files fetched with ``getFile`` into the blob store; a failed fetch keeps the
message and records the error). Edits are new events.

Outbound: ``sendMessage`` to the customer's chat. 429 retries after the given
``retry_after``; 5xx and network errors retry; other errors (bot blocked,
chat not found) fail the delivery with Telegram's description.

The bot token is part of every Bot API URL; the connector's HTTP client writes
it in only on the wire, so logs and errors show ``botTOKEN`` instead.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import mimetypes
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from pydantic import Field, SecretStr, field_validator
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.connectors.base import (
    Capabilities,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    InboundMessage,
    OutboundMessage,
    SendResult,
)
from hub.connectors.media import MediaError, download
from hub.errors import ConnectorError, InvalidInput, PermanentError, TransientError
from hub.timeline.model import Attachment, normalise_identity

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.requests import Request
    from starlette.routing import BaseRoute

__all__ = [
    "SECRET_HEADER",
    "TelegramConnector",
    "TelegramSettings",
    "setup_webhook",
    "webhook_secret",
]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
ALLOWED_UPDATES = ("message", "edited_message")
TOKEN_MARK = "TOKEN"  # noqa: S105 - stands in for the real token in URLs
CHECKPOINT = "updates"
GAP_WINDOW = 1000
MEDIA_FIELDS = ("document", "voice", "audio", "video", "video_note", "animation")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{20,100}")


class TelegramSettings(ConnectorSettings):
    """``[connectors.telegram]``: the bot and where its API lives.

    ``api_url`` exists so tests can point the connector at a double.
    """

    bot_token: SecretStr
    webhook_secret: SecretStr | None = None
    api_url: str = "https://api.telegram.org"
    timeout_seconds: float = Field(15.0, gt=0)
    max_media_bytes: int = Field(20 * 1024 * 1024, gt=0)

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("expected a bot token like 123456:ABC-DEF… (from @BotFather)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")


def webhook_secret(settings: TelegramSettings) -> str:
    """The secret token Telegram sends with every update (see the module docstring)."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    key = settings.bot_token.get_secret_value().encode()
    digest = hmac.new(key, b"omnihub telegram webhook secret", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class _TokenOnTheWire(httpx.AsyncBaseTransport):
    """Replaces ``botTOKEN`` in request paths with the real token when sending."""

    def __init__(self, inner: httpx.AsyncBaseTransport, token: str) -> None:
        self.inner = inner
        self.mark = b"/bot" + TOKEN_MARK.encode() + b"/"
        self.real = b"/bot" + token.encode() + b"/"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.replace(self.mark, self.real, 1)
        wire = httpx.Request(
            request.method,
            request.url.copy_with(raw_path=path),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return await self.inner.handle_async_request(wire)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _client(
    settings: TelegramSettings, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    inner = transport or httpx.AsyncHTTPTransport()
    token = settings.bot_token.get_secret_value()
    return httpx.AsyncClient(
        transport=_TokenOnTheWire(inner, token), timeout=settings.timeout_seconds
    )


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def telegram_error(response: httpx.Response, data: dict[str, Any]) -> ConnectorError:
    """The hub error for an unsuccessful Bot API answer."""
    code = data.get("error_code") or response.status_code
    description = str(data.get("description") or response.reason_phrase)[:300]
    params = _obj(data.get("parameters"))
    reason = f"Telegram {code}: {description}"
    if code == 429 or response.status_code == 429 or response.status_code >= 500:
        delay = params.get("retry_after")
        header = response.headers.get("retry-after", "")
        if not isinstance(delay, int | float) and header.isdigit():
            delay = int(header)
        return TransientError(
            reason, retry_after=float(delay) if isinstance(delay, int | float) else None
        )
    if params.get("migrate_to_chat_id") is not None:
        reason += f" (the chat is now {params['migrate_to_chat_id']})"
    return PermanentError(reason)


async def call(
    client: httpx.AsyncClient, settings: TelegramSettings, method: str, payload: dict[str, Any]
) -> Any:
    """Call Bot API ``method``; its ``result``, or a TransientError / PermanentError."""
    url = f"{settings.api_url}/bot{TOKEN_MARK}/{method}"
    try:
        response = await client.post(url, json=payload)
    except httpx.HTTPError as exc:
        raise TransientError(f"Telegram unreachable: {type(exc).__name__}") from exc
    try:
        data = response.json()
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    if response.is_success and data.get("ok") is True:
        return data.get("result")
    raise telegram_error(response, data)


async def setup_webhook(
    settings: TelegramSettings,
    public_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """Register the hub's webhook with Telegram (``setWebhook``); the URL registered.

    Raises TransientError / PermanentError with Telegram's description if refused.
    """
    url = public_url.rstrip("/") + "/connectors/telegram/webhook"
    async with _client(settings, transport) as client:
        await call(
            client,
            settings,
            "setWebhook",
            {
                "url": url,
                "secret_token": webhook_secret(settings),
                "allowed_updates": list(ALLOWED_UPDATES),
                "max_connections": 1,
            },
        )
    return url


@dataclass
class _Position:
    """Which update ids were applied: everything up to ``last`` except ``gaps``."""

    last: int | None = None
    gaps: tuple[int, ...] = ()

    def seen(self, update_id: int) -> bool:
        if self.last is None or update_id > self.last:
            return False
        return update_id > self.last - GAP_WINDOW and update_id not in self.gaps

    def advance(self, update_id: int) -> _Position:
        if self.last is None:
            return _Position(update_id)
        if update_id > self.last:
            missing = range(max(self.last + 1, update_id - GAP_WINDOW), update_id)
            gaps = (*self.gaps, *missing)[-100:]
            return _Position(update_id, tuple(g for g in gaps if g > update_id - GAP_WINDOW))
        return _Position(self.last, tuple(g for g in self.gaps if g != update_id))


class TelegramConnector(Connector):
    """A Telegram bot as a channel: ``telegram:<user id>`` customers in private chats."""

    name: ClassVar[str] = "telegram"
    identity_kind: ClassVar[str | None] = "telegram"
    capabilities: ClassVar[Capabilities] = Capabilities(text_limit=4096)
    settings_model: ClassVar[type[ConnectorSettings]] = TelegramSettings

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, TelegramSettings)
        self.config = settings
        self.log = context.logger
        self._secret = webhook_secret(settings).encode()
        self._client: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()
        self._position: _Position | None = None

    @classmethod
    async def setup(cls, settings: ConnectorSettings, public_url: str) -> str:
        """``omnihub connectors setup telegram``: register the webhook."""
        assert isinstance(settings, TelegramSettings)
        return await setup_webhook(settings, public_url)

    def routes(self) -> Sequence[BaseRoute]:
        return [Route("/webhook", self.receive, methods=["POST"])]

    async def start(self) -> None:
        if self._client is None:
            self._client = _client(self.config, None)

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _started(self) -> httpx.AsyncClient:
        if self._client is None:
            raise TransientError("telegram connector is not started")
        return self._client

    # -- inbound -----------------------------------------------------------
    async def receive(self, request: Request) -> Response:
        """One update from Telegram's webhook."""
        header = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(header, self._secret):
            self.log.warning("telegram webhook refused: bad or missing %s", SECRET_HEADER)
            return JSONResponse({"error": "invalid or missing secret token"}, status_code=403)
        try:
            update = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "body is not valid JSON"}, status_code=400)
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            self.log.warning("telegram webhook ignored: no update_id")
            return JSONResponse({"ignored": True})
        async with self._lock:
            position = await self._load_position()
            if position.seen(update_id):
                return JSONResponse({"duplicate": True})
            try:
                created = await self._apply(update)
            except InvalidInput as exc:
                self.log.warning("telegram update %s refused: %s", update_id, exc)
                created = False
            except Exception:
                self.log.exception("telegram update %s failed; Telegram will retry", update_id)
                return JSONResponse({"error": "could not store the update"}, status_code=500)
            self._position = position.advance(update_id)
            await self.context.checkpoints.set(
                CHECKPOINT, {"last": self._position.last, "gaps": list(self._position.gaps)}
            )
        return JSONResponse({"stored": created})

    async def _load_position(self) -> _Position:
        if self._position is None:
            saved = await self.context.checkpoints.get(CHECKPOINT) or {}
            last = saved.get("last")
            gaps = saved.get("gaps") or []
            self._position = _Position(
                last if isinstance(last, int) else None,
                tuple(g for g in gaps if isinstance(g, int)),
            )
        return self._position

    async def _apply(self, update: dict[str, Any]) -> bool:
        edited = "edited_message" in update
        message = update.get("edited_message" if edited else "message")
        if not isinstance(message, dict):
            kinds = sorted(k for k in update if k != "update_id")
            self.log.info("telegram update %s ignored: %s", update["update_id"], kinds)
            return False
        chat, sender = _obj(message.get("chat")), _obj(message.get("from"))
        if chat.get("type") != "private" or not isinstance(sender.get("id"), int):
            self.log.info("telegram update %s ignored: not a private chat", update["update_id"])
            return False
        if sender.get("is_bot") is True:
            return False
        chat_id, message_id = chat.get("id"), message.get("message_id")
        if not isinstance(chat_id, int) or not isinstance(message_id, int):
            raise InvalidInput("message", "chat.id and message_id must be integers")
        ref = f"{chat_id}:{message_id}"
        external_id = f"{ref}:edit:{message.get('edit_date')}" if edited else ref
        text = message.get("text") if "text" in message else message.get("caption")
        attachments, errors = await self._media(message)
        meta: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id}
        if sender.get("username"):
            meta["username"] = str(sender["username"])[:64]
        if edited:
            meta["edited"] = True
        if errors:
            meta["attachment_errors"] = errors
        if text is None and not attachments and not errors:
            shown = set(message) & {"sticker", "location", "contact", "poll", "venue", "dice"}
            meta["unsupported"] = sorted(shown)[0] if shown else "message"
        reply = message.get("reply_to_message")
        parent = reply.get("message_id") if isinstance(reply, dict) else None
        stamp = message.get("edit_date" if edited else "date")
        name = " ".join(str(sender[k]) for k in ("first_name", "last_name") if sender.get(k))
        result = await self.context.ingest(
            InboundMessage(
                channel=self.name,
                external_id=external_id,
                identity=normalise_identity("telegram", str(sender["id"])),
                text=str(text) if text is not None else None,
                customer_name=name[:200] or None,
                attachments=tuple(attachments),
                occurred_at=datetime.fromtimestamp(stamp, UTC) if isinstance(stamp, int) else None,
                thread_ref=None if edited else ref,
                in_reply_to=(f"{chat_id}:{parent}",) if isinstance(parent, int) else (),
                meta=meta,
            )
        )
        return result.created

    async def _media(
        self, message: dict[str, Any]
    ) -> tuple[list[Attachment], list[dict[str, str]]]:
        files: list[tuple[str, dict[str, Any]]] = []
        photos = message.get("photo")
        if isinstance(photos, list) and photos:
            largest = max(
                (p for p in photos if isinstance(p, dict)),
                key=lambda p: (p.get("file_size") or 0, p.get("width") or 0),
                default=None,
            )
            if largest is not None:
                files.append(("photo", largest))
        files.extend((f, message[f]) for f in MEDIA_FIELDS if isinstance(message.get(f), dict))
        attachments: list[Attachment] = []
        errors: list[dict[str, str]] = []
        for kind, info in files:
            try:
                attachments.append(await self._fetch(kind, info))
            except (MediaError, ConnectorError) as exc:
                self.log.warning("telegram %s not fetched: %s", kind, exc)
                errors.append({"type": kind, "error": str(exc)})
        return attachments, errors

    async def _fetch(self, kind: str, info: dict[str, Any]) -> Attachment:
        client = self._started()
        limit = self.config.max_media_bytes
        file_id = info.get("file_id")
        if not isinstance(file_id, str):
            raise MediaError(f"{kind} has no file_id")
        size = info.get("file_size")
        if isinstance(size, int) and size > limit:
            raise MediaError(f"{kind} is {size} bytes, over the {limit} byte limit")
        found = await call(client, self.config, "getFile", {"file_id": file_id})
        path = found.get("file_path") if isinstance(found, dict) else None
        if not isinstance(path, str):
            raise MediaError(f"Telegram gave no file_path for the {kind}")
        url = f"{self.config.api_url}/file/bot{TOKEN_MARK}/{path}"
        data, served = await download(client, url, max_bytes=limit)
        mime = info.get("mime_type")
        content_type = mime if isinstance(mime, str) else None
        if content_type is None and kind == "photo":
            content_type = "image/jpeg"
        content_type = content_type or served or "application/octet-stream"
        filename = info.get("file_name")
        if not isinstance(filename, str) or not filename:
            filename = f"{kind}{mimetypes.guess_extension(content_type) or ''}"
        blob_id = await self.context.blobs.put(data)
        return Attachment(blob_id, filename[:200], content_type, len(data))

    # -- outbound ------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendResult:
        """``sendMessage`` to the customer's private chat."""
        if not message.text:
            raise PermanentError("telegram replies need text")
        if message.to.kind != "telegram" or not message.to.value.lstrip("-").isdigit():
            raise PermanentError(f"{message.to} is not a Telegram chat")
        chat_id = int(message.to.value)
        result = await call(
            self._started(), self.config, "sendMessage", {"chat_id": chat_id, "text": message.text}
        )
        message_id = result.get("message_id") if isinstance(result, dict) else None
        if not isinstance(message_id, int):
            return SendResult()
        ref = f"{chat_id}:{message_id}"
        return SendResult(provider_id=ref, thread_ref=ref)
