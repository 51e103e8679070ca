"""The conformance kit over the built-in ``api`` connector (signed JSON in, callback out)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.connectors import Connector
from hub.connectors.api import ApiConnector, sign
from hub.testing import ConnectorKit, Fixture, HttpProvider, ProviderDouble, Webhook

SECRET = "api-kit-secret-0123456789"
FIXTURES = Path(__file__).parent / "fixtures" / "api"


async def callback(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"id": f"cb-{request.headers['idempotency-key']}"})


class TestApiConnector(ConnectorKit):
    connector: ClassVar[type[Connector]] = ApiConnector
    fixtures = FIXTURES
    signature_headers = ("X-Omnihub-Signature",)

    def settings(self, provider: ProviderDouble) -> dict[str, Any]:
        return {"secret": SECRET, "callback_url": f"{provider.url}/callback"}

    def provider(self) -> HttpProvider:
        return HttpProvider(Starlette(routes=[Route("/callback", callback, methods=["POST"])]))

    def webhook(self, fixture: Fixture, *, forged: bool = False) -> Webhook:
        stamp = str(int(time.time()))
        key = "not-the-api-secret-0123" if forged else SECRET
        return Webhook(
            "messages",
            fixture.body,
            {
                "Content-Type": "application/json",
                "X-Omnihub-Timestamp": stamp,
                "X-Omnihub-Signature": sign(key, stamp, fixture.body),
            },
        )
