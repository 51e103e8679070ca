"""``TelegramConnector``: the webhook route, dedupe, media, ``sendMessage``."""

from __future__ import annotations

import hmac
import mimetypes
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.connectors.base import (
    Capabilities,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    InboundMessage,
    IngestResult,
    OutboundMessage,
    SendResult,
)
from hub.connectors.media import MediaError, download
from hub.connectors.telegram.botapi import TOKEN_MARK, as_object, call, client, setup_webhook
from hub.connectors.telegram.settings import TelegramSettings, webhook_secret
from hub.errors import (
    ConnectorError,
    InvalidInput,
    MalformedBody,
    PermanentError,
    TransientError,
)
from hub.payloads import from_epoch, parse_json
from hub.timeline.content import (
    Contact,
    Contacts,
    Content,
    Edit,
    Location,
    Sticker,
    Unsupported,
    Voice,
)
from hub.timeline.model import Attachment, normalise_identity

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.requests import Request
    from starlette.routing import BaseRoute

__all__ = ["SECRET_HEADER", "TelegramConnector"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MEDIA_FIELDS = ("document", "voice", "audio", "video", "video_note", "animation", "sticker")


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

    @classmethod
    async def setup(cls, settings: ConnectorSettings, public_url: str) -> str:
        """``omnihub connectors setup telegram``: register the webhook."""
        assert isinstance(settings, TelegramSettings)
        url = await setup_webhook(settings, public_url)
        return f"webhook registered: {url} (secret token set, updates one at a time)"

    def routes(self) -> Sequence[BaseRoute]:
        return [Route("/webhook", self.receive, methods=["POST"])]

    async def start(self) -> None:
        if self._client is None:
            self._client = client(self.config, None)

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
            update = parse_json(await request.body())
        except MalformedBody as exc:
            return JSONResponse({"error": exc.reason, "field": exc.field}, status_code=400)
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            self.log.warning("telegram webhook ignored: no update_id")
            return JSONResponse({"ignored": True})
        try:
            outcome = await self._apply(update)
        except InvalidInput as exc:
            self.log.warning("telegram update %s refused: %s", update_id, exc)
            return JSONResponse({"stored": False})
        except Exception:
            self.log.exception("telegram update %s failed; Telegram will retry", update_id)
            return JSONResponse({"error": "could not store the update"}, status_code=500)
        if outcome is None:
            return JSONResponse({"stored": False})
        if not outcome.created:
            return JSONResponse({"duplicate": True})
        return JSONResponse({"stored": True})

    async def _apply(self, update: dict[str, Any]) -> IngestResult | None:
        edited = "edited_message" in update
        message = update.get("edited_message" if edited else "message")
        if not isinstance(message, dict):
            kinds = sorted(k for k in update if k != "update_id")
            self.log.info("telegram update %s ignored: %s", update["update_id"], kinds)
            return None
        chat, sender = as_object(message.get("chat")), as_object(message.get("from"))
        if chat.get("type") != "private" or not isinstance(sender.get("id"), int):
            self.log.info("telegram update %s ignored: not a private chat", update["update_id"])
            return None
        if sender.get("is_bot") is True:
            return None
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
        if errors:
            meta["attachment_errors"] = errors
        content = _content(message)
        if edited:
            content = Edit(ref, str(text) if text is not None else "")
        elif content is None and text is None and not attachments and not errors:
            shown = set(message) & {"poll", "dice", "game", "invoice", "story"}
            content = Unsupported(sorted(shown)[0] if shown else "message")
        reply = message.get("reply_to_message")
        parent = reply.get("message_id") if isinstance(reply, dict) else None
        stamp = message.get("edit_date" if edited else "date")
        name = " ".join(str(sender[k]) for k in ("first_name", "last_name") if sender.get(k))
        return await self.context.ingest(
            InboundMessage(
                channel=self.name,
                external_id=external_id,
                identity=normalise_identity("telegram", str(sender["id"])),
                text=str(text) if text is not None else None,
                customer_name=name[:200] or None,
                attachments=tuple(attachments),
                occurred_at=from_epoch(stamp, "date") if isinstance(stamp, int) else None,
                thread_ref=None if edited else ref,
                in_reply_to=(f"{chat_id}:{parent}",) if isinstance(parent, int) else (),
                meta=meta,
                content=content,
            )
        )

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
        data, served = await download(
            client, url, max_bytes=limit, policy=self.config.media_policy()
        )
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


def _content(message: dict[str, Any]) -> Content | None:
    """The typed content of a Telegram message (venue, location, contact, sticker, voice)."""
    venue = as_object(message.get("venue"))
    point = as_object(venue.get("location") or message.get("location"))
    if point:
        try:
            latitude, longitude = float(point["latitude"]), float(point["longitude"])
        except (KeyError, TypeError, ValueError):
            return Unsupported("location", "the location has no usable coordinates")
        title, address = venue.get("title"), venue.get("address")
        return Location(
            latitude,
            longitude,
            name=str(title)[:200] if title else None,
            address=str(address)[:500] if address else None,
        )
    contact = as_object(message.get("contact"))
    if contact:
        name = " ".join(str(contact[k]) for k in ("first_name", "last_name") if contact.get(k))
        phone = contact.get("phone_number")
        phones = (str(phone)[:64],) if phone else ()
        return Contacts((Contact(name[:200] or (phones[0] if phones else "?"), phones),))
    sticker = as_object(message.get("sticker"))
    if sticker:
        emoji = sticker.get("emoji")
        animated = bool(sticker.get("is_animated") or sticker.get("is_video"))
        return Sticker(str(emoji)[:16] if emoji else None, animated)
    voice = as_object(message.get("voice"))
    if voice:
        duration = voice.get("duration")
        return Voice(duration if isinstance(duration, int) else None)
    return None
