"""The Omnihub conformance kit over the LINE connector, with a push API double."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omnihub_line import SIGNATURE_HEADER, LineConnector, sign
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.testing import ConnectorKit, Fixture, HttpProvider, ProviderDouble, Webhook

SECRET = "line-channel-secret-0123456789ab"  # noqa: S105 - test value
TOKEN = "line-channel-access-token-0123456789"  # noqa: S105 - test value


async def push(request: Request) -> JSONResponse:
    """``POST /v2/bot/message/push`` as LINE answers it."""
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        return JSONResponse({"message": "Authentication failed"}, status_code=401)
    if not request.headers.get("x-line-retry-key"):
        return JSONResponse({"message": "retry key expected"}, status_code=400)
    body = await request.json()
    assert body["to"].startswith("U")
    assert body["messages"][0]["type"] == "text"
    return JSONResponse({"sentMessages": [{"id": "461230966842064897", "quoteToken": "q"}]})


class TestLineConnector(ConnectorKit):
    connector = LineConnector
    fixtures = Path(__file__).parent / "fixtures"
    signature_headers = (SIGNATURE_HEADER,)

    def settings(self, provider: ProviderDouble) -> dict[str, Any]:
        return {"channel_secret": SECRET, "channel_access_token": TOKEN, "api_url": provider.url}

    def provider(self) -> HttpProvider:
        api = Starlette(routes=[Route("/v2/bot/message/push", push, methods=["POST"])])
        return HttpProvider(
            api,
            transient=(500, {"message": "An error occurred in the LINE Platform"}),
            permanent=(400, {"message": "The property, 'to', in the request body is invalid"}),
        )

    def webhook(self, fixture: Fixture, *, forged: bool = False) -> Webhook:
        secret = "not-the-channel-secret-012345" if forged else SECRET
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, fixture.body)}
        return Webhook("webhook", fixture.body, headers)


def test_installed_plugin_is_discovered() -> None:
    """``pip install omnihub-line`` is all it takes: the hub finds it by entry point."""
    from hub.connectors import Registry

    assert Registry.discover().available["line"] is LineConnector
