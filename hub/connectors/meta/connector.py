"""The Meta connector: one webhook endpoint family, three channels, the Graph API out."""

from __future__ import annotations

import hashlib
import hmac
import logging
import mimetypes
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from pydantic import SecretStr
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from hub.connectors.base import (
    Capabilities,
    Channel,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    OutboundMessage,
    SendResult,
)
from hub.connectors.media import MediaError, download
from hub.connectors.meta import bodies, messaging, whatsapp
from hub.connectors.meta.actions import Action, Incoming, Media, Receipt, Skipped
from hub.connectors.meta.graph import graph_error, json_object
from hub.connectors.meta.receipts import Ledger
from hub.connectors.meta.settings import MetaSettings
from hub.errors import InvalidInput, MalformedBody, PermanentError, TransientError
from hub.payloads import parse_json
from hub.timeline.model import Attachment, DeliveryStatus, Direction, Event, Identity

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.requests import Request
    from starlette.routing import BaseRoute

__all__ = ["SIGNATURE_HEADER", "MetaConnector", "sign"]

SIGNATURE_HEADER = "X-Hub-Signature-256"
OBJECTS = ("page", "instagram", "whatsapp_business_account")
WINDOW = timedelta(hours=24)
_CACHE = 4096


def sign(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends with ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class _Tally:
    stored: int = 0
    duplicates: int = 0
    receipts: int = 0
    skipped: int = 0
    failed: int = 0


class MetaConnector(Connector):
    """Messenger, Instagram DMs and WhatsApp Cloud through one Meta app.

    Inbound: ``GET /connectors/meta/webhook`` answers Meta's subscription check;
    ``POST`` takes signed webhook batches. Every entry and item is applied on
    its own: a bad item is logged and skipped, the rest are stored; the answer
    is 200 unless storing failed (then 500, and Meta's retry is deduplicated).

    Outbound: the Send API (``/{page-id}/messages``, Instagram's
    ``/{ig-id}/messages``) and WhatsApp's ``/{phone-number-id}/messages``.
    Outside the 24 h window a Messenger/Instagram reply needs ``meta["tag"]``
    (``"default"`` means ``settings.human_agent_tag``) and a WhatsApp reply
    ``meta["template"]`` (``{"name", "language"?, "parameters"? | "components"?}``);
    the pipeline refuses a reply without one before queueing it.
    """

    name: ClassVar[str] = "meta"
    identity_kind: ClassVar[str | None] = None
    channels: ClassVar[tuple[str | Channel, ...]] = (
        Channel(
            "messenger",
            "messenger",
            Capabilities(
                text_limit=2000, reply_window=WINDOW, window_escape="tag", read_receipts=True
            ),
        ),
        Channel(
            "instagram",
            "instagram",
            Capabilities(
                text_limit=1000, reply_window=WINDOW, window_escape="tag", read_receipts=True
            ),
        ),
        Channel(
            "whatsapp",
            "phone",
            Capabilities(
                text_limit=4096,
                reply_window=WINDOW,
                window_escape="template",
                templates=True,
                read_receipts=True,
            ),
            shared=True,
        ),
    )
    settings_model: ClassVar[type[ConnectorSettings]] = MetaSettings

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, MetaSettings)
        self.config = settings
        self.log = context.logger
        self.ledger = Ledger(context.checkpoints, keep=settings.receipts_kept)
        self._client: httpx.AsyncClient | None = None
        self._media_policy = settings.media_policy()
        self._routes: OrderedDict[str, str] = OrderedDict()
        self._seen: OrderedDict[str, None] = OrderedDict()

    def serves(self, channel: str) -> bool:
        """WhatsApp only with a WhatsApp number configured (it may come through Twilio)."""
        return channel != "whatsapp" or bool(self.config.whatsapp)

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/webhook", self.subscribe, methods=["GET"]),
            Route("/webhook", self.receive, methods=["POST"]),
        ]

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.config.timeout_seconds)

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # -- inbound -----------------------------------------------------------
    async def subscribe(self, request: Request) -> Response:
        """Meta's subscription check: echo ``hub.challenge`` if the token matches."""
        params = request.query_params
        token = params.get("hub.verify_token") or ""
        challenge = params.get("hub.challenge") or ""
        expected = self.config.verify_token.get_secret_value()
        matches = hmac.compare_digest(token.encode(), expected.encode())
        if params.get("hub.mode") != "subscribe" or not matches or not challenge:
            return PlainTextResponse("verification failed", status_code=403)
        return PlainTextResponse(challenge[:256])

    def verify(self, header: str | None, body: bytes) -> bool:
        """True if ``header`` is the app secret's signature of the raw ``body``."""
        if not header:
            return False
        expected = sign(self.config.app_secret.get_secret_value(), body)
        return hmac.compare_digest(expected.encode(), header.strip().lower().encode())

    async def receive(self, request: Request) -> Response:
        """A signed webhook batch: verify, parse, apply every item."""
        body = await request.body()
        if not self.verify(request.headers.get(SIGNATURE_HEADER), body):
            self.log.warning("meta webhook refused: bad or missing %s", SIGNATURE_HEADER)
            return JSONResponse({"error": "invalid or missing signature"}, status_code=403)
        try:
            payload = parse_json(body)
        except MalformedBody as exc:
            return JSONResponse({"error": exc.reason, "field": exc.field}, status_code=400)
        if not isinstance(payload, dict):
            return JSONResponse({"error": "body is not a JSON object"}, status_code=400)
        obj = payload.get("object")
        entries = payload.get("entry")
        if obj not in OBJECTS or not isinstance(entries, list):
            self.log.warning(
                "meta webhook ignored: object %r with %s entries",
                str(obj)[:64],
                type(entries).__name__,
            )
            return JSONResponse({"ignored": True})
        tally = _Tally()
        for action in self.parse(str(obj), entries):
            await self._apply(action, tally)
        return JSONResponse(vars(tally), status_code=500 if tally.failed else 200)

    def parse(self, obj: str, entries: list[Any]) -> Iterator[Action]:
        """Every action in a batch, bad items included as :class:`Skipped`."""
        for entry in entries:
            if not isinstance(entry, dict):
                yield Skipped(f"{obj} entry is not an object", logging.WARNING)
                continue
            try:
                if obj == "whatsapp_business_account":
                    actions = list(whatsapp.parse_entry(entry))
                else:
                    actions = list(messaging.parse_entry(obj, entry, self.config.app_id))
            except Exception:  # parsing is pure: a retry would fail the same way
                self.log.exception("meta webhook entry could not be parsed; skipped")
                actions = [Skipped(f"{obj} entry could not be parsed", logging.WARNING)]
            yield from actions

    async def _apply(self, action: Action, tally: _Tally) -> None:
        try:
            if isinstance(action, Skipped):
                self.log.log(action.level, "meta webhook item skipped: %s", action.reason)
                tally.skipped += 1
            elif isinstance(action, Incoming):
                created = await self._incoming(action)
                tally.stored += created
                tally.duplicates += not created
            else:
                tally.receipts += await self._receipt(action)
        except InvalidInput as exc:
            self.log.warning("meta webhook item refused: %s", exc)
            tally.skipped += 1
        except Exception:
            self.log.exception("meta webhook item failed; Meta will retry the batch")
            tally.failed += 1

    async def _incoming(self, action: Incoming) -> bool:
        message = action.message
        key = f"{message.channel}\x1f{message.external_id}"
        attachments: list[Attachment] = []
        errors: list[dict[str, str]] = []
        if key not in self._seen:  # a replay dedupes in ingest: no need to fetch again
            for media in action.media:
                try:
                    attachments.append(await self._fetch(media, action.account))
                except MediaError as exc:
                    self.log.warning("meta %s media not fetched: %s", message.channel, exc)
                    errors.append({"type": media.kind, "error": str(exc)})
        meta = dict(message.meta)
        if errors:
            meta["attachment_errors"] = errors
        if message.direction is Direction.IN and action.account:
            await self._remember_route(message.channel, message.identity, action.account)
        result = await self.context.ingest(
            replace(message, attachments=tuple(attachments), meta=meta)
        )
        _remember(self._seen, key, None)
        return result.created

    async def _receipt(self, receipt: Receipt) -> int:
        async def report(mid: str, status: DeliveryStatus) -> Event | None:
            return await self.context.report_delivery(
                receipt.channel, mid, status, error=receipt.error
            )

        handled: set[str] = set()
        if receipt.customer is not None:
            handled = await self.ledger.settle(
                receipt.channel,
                receipt.customer,
                receipt.status,
                report,
                watermark=receipt.watermark,
                up_to=receipt.mids,
            )
        for mid in receipt.mids:
            if mid not in handled:
                await report(mid, receipt.status)
                handled.add(mid)
        return len(handled)

    async def _fetch(self, media: Media, account: str) -> Attachment:
        client = self._started()
        limit = self.config.max_media_bytes
        content_type = media.content_type
        if media.source == "url":
            # CDN URLs are pre-signed: the page token is not sent along.
            data, served_type = await download(
                client, media.ref, max_bytes=limit, policy=self._media_policy
            )
        else:
            _, token = self._account("whatsapp", account)
            headers = {"Authorization": f"Bearer {token}"}
            url = f"{self.config.graph_url}/{self.config.graph_version}/{media.ref}"
            try:
                response = await client.get(url, headers=headers, follow_redirects=False)
            except httpx.HTTPError as exc:
                raise MediaError(f"Graph API unreachable: {type(exc).__name__}") from None
            if not response.is_success:
                raise MediaError(str(graph_error(response)))
            info = json_object(response)
            if not isinstance(info.get("url"), str):
                raise MediaError("Graph API gave no media url")
            size = info.get("file_size")
            if isinstance(size, int) and size > limit:
                raise MediaError(f"media is {size} bytes, over the {limit} byte limit")
            data, served_type = await download(
                client, info["url"], max_bytes=limit, headers=headers, policy=self._media_policy
            )
            content_type = content_type or info.get("mime_type")
        content_type = content_type or served_type or "application/octet-stream"
        blob_id = await self.context.blobs.put(data)
        extension = mimetypes.guess_extension(content_type.split(";")[0]) or ""
        filename = media.filename or f"{media.kind}{extension}"
        return Attachment(blob_id, filename, content_type, len(data))

    # -- accounts ------------------------------------------------------------
    def _accounts(self, channel: str) -> dict[str, SecretStr]:
        return {
            "messenger": self.config.pages,
            "instagram": self.config.instagram,
            "whatsapp": self.config.whatsapp,
        }[channel]

    def _account(self, channel: str, account: str | None) -> tuple[str, str]:
        """The account to use and its token: ``account`` if configured, else the only one."""
        accounts = self._accounts(channel)
        if account in accounts:
            return account, accounts[account].get_secret_value()
        if len(accounts) == 1:
            [(only, token)] = accounts.items()
            return only, token.get_secret_value()
        if not accounts:
            raise PermanentError(f"no {channel} account is configured in [connectors.meta]")
        raise PermanentError(
            f"several {channel} accounts are configured and the customer has not "
            "written to one of them yet"
        )

    async def _remember_route(self, channel: str, customer: Identity, account: str) -> None:
        key = f"route:{channel}:{customer}"
        if self._routes.get(key) == account:
            return
        await self.context.checkpoints.set(key, {"account": account})
        _remember(self._routes, key, account)

    async def _route(self, channel: str, customer: Identity) -> str | None:
        key = f"route:{channel}:{customer}"
        if key in self._routes:
            return self._routes[key]
        saved = await self.context.checkpoints.get(key)
        account = saved.get("account") if saved else None
        if isinstance(account, str):
            _remember(self._routes, key, account)
            return account
        return None

    # -- outbound ------------------------------------------------------------
    def _started(self) -> httpx.AsyncClient:
        if self._client is None:
            raise TransientError("meta connector is not started")
        return self._client

    async def send(self, message: OutboundMessage) -> SendResult:
        """Deliver a reply on Messenger, Instagram or WhatsApp."""
        if message.channel == "whatsapp":
            return await self._send_whatsapp(message)
        if message.channel in ("messenger", "instagram"):
            return await self._send_messaging(message)
        raise PermanentError(f"the meta connector does not serve channel {message.channel!r}")

    async def _post(self, url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        client = self._started()
        try:
            response = await client.post(
                url, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"Graph API unreachable: {type(exc).__name__}") from exc
        if not response.is_success:
            raise graph_error(response)
        return json_object(response)

    async def _send_messaging(self, message: OutboundMessage) -> SendResult:
        body = bodies.messaging_body(message, default_tag=self.config.human_agent_tag)
        account, token = self._account(
            message.channel, await self._route(message.channel, message.to)
        )
        base = (
            self.config.graph_url
            if message.channel == "messenger"
            else self.config.instagram_graph_url
        )
        data = await self._post(
            f"{base}/{self.config.graph_version}/{account}/messages", token, body
        )
        mid = data.get("message_id")
        if not isinstance(mid, str):
            return SendResult()
        await self.ledger.record(message.channel, message.to, mid)
        return SendResult(provider_id=mid, thread_ref=mid)

    async def _send_whatsapp(self, message: OutboundMessage) -> SendResult:
        body = bodies.whatsapp_body(message, default_language=self.config.template_language)
        account, token = self._account("whatsapp", await self._route("whatsapp", message.to))
        url = f"{self.config.graph_url}/{self.config.graph_version}/{account}/messages"
        data = await self._post(url, token, body)
        sent = data.get("messages")
        wamid = sent[0].get("id") if isinstance(sent, list) and sent else None
        if not isinstance(wamid, str):
            return SendResult()
        return SendResult(provider_id=wamid, thread_ref=wamid)


def _remember(cache: OrderedDict[str, Any], key: str, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > _CACHE:
        cache.popitem(last=False)
