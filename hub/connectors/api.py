"""The ``api`` channel: any system can push customer messages in and receive replies.

Inbound: ``POST /connectors/api/messages`` with a JSON body and two headers::

    X-Omnihub-Timestamp: <unix seconds>
    X-Omnihub-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

The signature is checked over the raw bytes before anything is parsed (403,
nothing stored); a timestamp more than ``tolerance_seconds`` away is refused,
so a captured request cannot be replayed later. Body fields: ``id`` (your
message id: the dedupe key), ``from`` (``"kind:value"``, e.g.
``"email:ana@example.com"``), ``text``, and optionally ``name``, ``subject``,
``html``, ``timestamp`` (ISO 8601), ``thread_ref``, ``in_reply_to``, ``meta``.

Outbound: replies are POSTed as JSON to ``callback_url``, signed the same way,
with ``Idempotency-Key: <event id>`` (stable across retries). 2xx is sent;
408, 429, 5xx and network errors retry (``Retry-After`` honoured); other 4xx fail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
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
from hub.connectors.http import retry_after
from hub.errors import InvalidIdentity, InvalidInput, MalformedBody, PermanentError, TransientError
from hub.payloads import parse_json
from hub.timeline.model import Identity

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.requests import Request
    from starlette.routing import BaseRoute

__all__ = ["ApiConnector", "ApiSettings", "sign"]

SIGNATURE_HEADER = "X-Omnihub-Signature"
TIMESTAMP_HEADER = "X-Omnihub-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Omnihub-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class ApiSettings(ConnectorSettings):
    """``[connectors.api]``: the shared secret and where replies go."""

    secret: SecretStr = Field(min_length=16)
    callback_url: str | None = None
    tolerance_seconds: int = Field(300, gt=0)
    timeout_seconds: float = Field(10.0, gt=0)


class InboundPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(min_length=1, max_length=256)
    from_: str = Field(alias="from", min_length=3, max_length=300)
    text: str | None = Field(None, max_length=100_000)
    html: str | None = Field(None, max_length=500_000)
    name: str | None = Field(None, max_length=200)
    subject: str | None = Field(None, max_length=500)
    timestamp: datetime | None = None
    thread_ref: str | None = Field(None, max_length=1000)
    in_reply_to: list[str] = Field(default_factory=list, max_length=100)
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamp needs a timezone (e.g. 2026-01-31T10:00:00Z)")
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("timestamp is out of range") from None


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status)


class ApiConnector(Connector):
    """Generic signed-JSON channel; also the end-to-end path of the hub's tests."""

    name: ClassVar[str] = "api"
    identity_kind: ClassVar[str | None] = None
    capabilities: ClassVar[Capabilities] = Capabilities(text_limit=100_000)
    settings_model: ClassVar[type[ConnectorSettings]] = ApiSettings

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, ApiSettings)
        self.config = settings
        self._client: httpx.AsyncClient | None = None

    def routes(self) -> Sequence[BaseRoute]:
        return [Route("/messages", self.receive, methods=["POST"])]

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.config.timeout_seconds)

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def verify(self, timestamp: str | None, signature: str | None, body: bytes) -> bool:
        """True if the request is signed with our secret and is recent."""
        if not timestamp or not signature:
            return False
        try:
            sent = int(timestamp)
        except ValueError:
            return False
        if abs(time.time() - sent) > self.config.tolerance_seconds:
            return False
        expected = sign(self.config.secret.get_secret_value(), timestamp, body)
        return hmac.compare_digest(expected, signature)

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        if not self.verify(
            request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER), body
        ):
            return _error(403, "invalid or missing signature")
        try:
            raw = parse_json(body)
        except MalformedBody as exc:
            return _error(400, exc.reason, exc.field)
        try:
            payload = InboundPayload.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "body"
            return _error(422, first["msg"], "from" if field == "from_" else field)
        if not payload.text and not payload.html:
            return _error(422, "a message needs text or html", "text")
        try:
            identity = Identity.parse(payload.from_, default_region=self.context.default_region)
        except InvalidIdentity as exc:
            return _error(422, exc.reason, "from")
        try:
            result = await self.context.ingest(
                InboundMessage(
                    channel=self.name,
                    external_id=payload.id,
                    identity=identity,
                    text=payload.text,
                    html=payload.html,
                    subject=payload.subject,
                    customer_name=payload.name,
                    occurred_at=payload.timestamp,
                    thread_ref=payload.thread_ref,
                    in_reply_to=tuple(payload.in_reply_to),
                    meta=payload.meta,
                )
            )
        except InvalidInput as exc:
            return _error(exc.status, exc.reason, exc.field)
        event = result.event
        return JSONResponse(
            {
                "event_id": event.id,
                "customer_id": event.customer_id,
                "conversation_id": event.conversation_id,
                "created": result.created,
            },
            status_code=201 if result.created else 200,
        )

    async def send(self, message: OutboundMessage) -> SendResult:
        if not self.config.callback_url:
            raise PermanentError("no callback_url configured for the api channel")
        if self._client is None:
            raise TransientError("api connector is not started")
        body = json.dumps(
            {
                "event_id": message.event_id,
                "conversation_id": message.conversation_id,
                "customer_id": message.customer_id,
                "to": str(message.to),
                "text": message.text,
                "html": message.html,
                "subject": message.subject,
                "attempt": message.attempt,
            }
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.event_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.config.secret.get_secret_value(), timestamp, body),
        }
        try:
            response = await self._client.post(
                self.config.callback_url, content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"callback unreachable: {type(exc).__name__}") from exc
        if response.is_success:
            provider_id = None
            if response.headers.get("content-type", "").startswith("application/json"):
                data = response.json()
                if isinstance(data, dict) and isinstance(data.get("id"), str):
                    provider_id = data["id"]
            return SendResult(provider_id=provider_id or message.event_id)
        detail = f"callback answered {response.status_code}: {response.text[:200]}"
        if response.status_code in (408, 425, 429) or response.status_code >= 500:
            delay = retry_after(response.headers.get("retry-after"))
            raise TransientError(detail, retry_after=delay)
        raise PermanentError(detail)
