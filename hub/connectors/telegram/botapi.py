"""The Bot API over plain httpx: calls, errors mapped into the hub's tree, setWebhook.

The bot token is part of every Bot API URL. Requests are built with
``botTOKEN`` in the path and :class:`_TokenOnTheWire` writes the real token in
only when sending, so httpx's request log and any error show ``botTOKEN``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from hub.connectors.http import retry_after
from hub.connectors.telegram.settings import TelegramSettings, webhook_secret
from hub.errors import ConnectorError, PermanentError, TransientError

__all__ = [
    "ALLOWED_UPDATES",
    "TOKEN_MARK",
    "as_object",
    "call",
    "client",
    "setup_webhook",
    "telegram_error",
]

ALLOWED_UPDATES = ("message", "edited_message")
TOKEN_MARK = "TOKEN"  # noqa: S105 - stands in for the real token in URLs


class _TokenOnTheWire(httpx.AsyncBaseTransport):
    """Replaces ``botTOKEN`` in request paths with the real token when sending to ``host``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, token: str, host: str) -> None:
        self.inner = inner
        self.host = host
        self.mark = b"/bot" + TOKEN_MARK.encode() + b"/"
        self.real = b"/bot" + token.encode() + b"/"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.netloc.decode("ascii").lower() != self.host:
            return await self.inner.handle_async_request(request)
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


def client(
    settings: TelegramSettings, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    inner = transport or httpx.AsyncHTTPTransport()
    token = settings.bot_token.get_secret_value()
    return httpx.AsyncClient(
        transport=_TokenOnTheWire(
            inner, token, httpx.URL(settings.api_url).netloc.decode().lower()
        ),
        timeout=settings.timeout_seconds,
    )


def as_object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def telegram_error(response: httpx.Response, data: dict[str, Any]) -> ConnectorError:
    """The hub error for an unsuccessful Bot API answer."""
    code = data.get("error_code") or response.status_code
    description = str(data.get("description") or response.reason_phrase)[:300]
    params = as_object(data.get("parameters"))
    reason = f"Telegram {code}: {description}"
    if code == 429 or response.status_code == 429 or response.status_code >= 500:
        delay = params.get("retry_after")
        if not isinstance(delay, int | float):
            delay = retry_after(response.headers.get("retry-after"))
        return TransientError(
            reason, retry_after=float(delay) if isinstance(delay, int | float) else None
        )
    if params.get("migrate_to_chat_id") is not None:
        reason += f" (the chat is now {params['migrate_to_chat_id']})"
    return PermanentError(reason)


async def call(
    client: httpx.AsyncClient,
    settings: TelegramSettings,
    method: str,
    payload: dict[str, Any],
    *,
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> Any:
    """Call Bot API ``method``; its ``result``, or a TransientError / PermanentError.

    With ``files`` (field → ``(filename, bytes, content type)``) the call is a
    multipart upload and ``payload``'s values are sent as form fields.
    """
    url = f"{settings.api_url}/bot{TOKEN_MARK}/{method}"
    try:
        if files:
            fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}
            response = await client.post(url, data=fields, files=files)
        else:
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
    async with client(settings, transport) as http:
        await call(
            http,
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
