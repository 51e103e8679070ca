"""``LineConnector``: LINE webhooks in, the push API out.

Inbound: LINE POSTs webhook batches (``{"destination", "events": [...]}``) to
``<public_url>/connectors/line/webhook`` with ``X-Line-Signature``: the base64
HMAC-SHA256 of the raw body keyed with the channel secret. The signature is
checked before parsing (403, nothing stored). Each ``message`` event from a
user (1:1 chat) is ingested under its ``webhookEventId`` (stable across LINE's
redeliveries); text is kept, other message types are stored with their type
in ``meta``; follows, unfollows, group chats and non-message events are skipped.

Outbound: ``POST /v2/bot/message/push`` with the channel access token and an
``X-Line-Retry-Key`` derived from the event id, so a retry after a timeout
never sends twice (LINE answers 409 to a key it already accepted: delivered).
429 and 5xx retry; other 4xx fail with LINE's message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hub.connectors import (
    Capabilities,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    InboundMessage,
    OutboundMessage,
    PermanentError,
    SendResult,
    TransientError,
    normalise_identity,
)

SIGNATURE_HEADER = "X-Line-Signature"
RETRY_NAMESPACE = uuid.UUID("6f1c7a2e-5b8e-4f0a-9a57-1d2c3b4a5f60")


def sign(channel_secret: str, body: bytes) -> str:
    """``X-Line-Signature`` for ``body``: base64 of HMAC-SHA256 keyed with the secret."""
    digest = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class LineSettings(ConnectorSettings):
    """``[connectors.line]``: the channel secret (webhooks) and access token (API)."""

    channel_secret: SecretStr = Field(min_length=16)
    channel_access_token: SecretStr = Field(min_length=16)
    api_url: str = "https://api.line.me"
    timeout_seconds: float = Field(10.0, gt=0)


class LineConnector(Connector):
    """A LINE Official Account as a channel."""

    name: ClassVar[str] = "line"
    identity_kind: ClassVar[str | None] = "line"
    capabilities: ClassVar[Capabilities] = Capabilities(text_limit=5000)
    settings_model: ClassVar[type[ConnectorSettings]] = LineSettings

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, LineSettings)
        self.config = settings
        self.log = context.logger
        self._client: httpx.AsyncClient | None = None

    def routes(self) -> Sequence[BaseRoute]:
        return [Route("/webhook", self.receive, methods=["POST"])]

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.config.api_url, timeout=self.config.timeout_seconds
            )

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def receive(self, request: Request) -> Response:
        """One webhook batch: verify, ingest each user message, then answer 200."""
        body = await request.body()
        expected = sign(self.config.channel_secret.get_secret_value(), body)
        if not hmac.compare_digest(expected, request.headers.get(SIGNATURE_HEADER, "")):
            self.log.warning("line webhook refused: bad or missing %s", SIGNATURE_HEADER)
            return JSONResponse({"error": "invalid signature"}, status_code=403)
        try:
            batch = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        events = batch.get("events") if isinstance(batch, dict) else None
        stored = 0
        for event in events if isinstance(events, list) else []:
            message = self._message(event) if isinstance(event, dict) else None
            if message is not None:
                stored += (await self.context.ingest(message)).created
        return JSONResponse({"stored": stored})

    def _message(self, event: dict[str, Any]) -> InboundMessage | None:
        source = event.get("source")
        source = source if isinstance(source, dict) else {}
        message = event.get("message")
        if event.get("type") != "message" or not isinstance(message, dict):
            return None
        user = source.get("userId")
        if source.get("type") != "user" or not isinstance(user, str):
            return None
        event_id = event.get("webhookEventId") or message.get("id")
        if not isinstance(event_id, str):
            return None
        kind = message.get("type")
        meta: dict[str, Any] = {"message_id": message.get("id"), "type": kind}
        if event.get("replyToken"):
            meta["reply_token"] = event["replyToken"]
        stamp = event.get("timestamp")
        return InboundMessage(
            channel=self.name,
            external_id=event_id,
            identity=normalise_identity("line", user),
            text=message.get("text") if kind == "text" else None,
            occurred_at=(
                datetime.fromtimestamp(stamp / 1000, UTC) if isinstance(stamp, int) else None
            ),
            meta=meta,
        )

    async def send(self, message: OutboundMessage) -> SendResult:
        """Push ``message.text`` to the user; idempotent across retries via the retry key."""
        if self._client is None:
            raise TransientError("line connector is not started")
        if not message.text:
            raise PermanentError("LINE replies need text")
        token = self.config.channel_access_token.get_secret_value()
        try:
            response = await self._client.post(
                "/v2/bot/message/push",
                json={"to": message.to.value, "messages": [{"type": "text", "text": message.text}]},
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-Line-Retry-Key": str(uuid.uuid5(RETRY_NAMESPACE, message.event_id)),
                },
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"LINE unreachable: {type(exc).__name__}") from exc
        if response.status_code == 409:  # this retry key was accepted before: already sent
            return SendResult()
        data = _json(response)
        if response.is_success:
            sent = data.get("sentMessages")
            first = sent[0] if isinstance(sent, list) and sent else {}
            return SendResult(provider_id=first.get("id") if isinstance(first, dict) else None)
        reason = f"LINE {response.status_code}: {str(data.get('message') or response.text)[:200]}"
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(reason)
        raise PermanentError(reason)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
