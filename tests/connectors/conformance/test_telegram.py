"""The conformance kit over the built-in ``telegram`` connector (secret-token webhook,
Bot API out), with updates in the Bot API's shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.connectors import Connector
from hub.connectors.telegram import TelegramConnector, TelegramSettings, webhook_secret
from hub.connectors.telegram.connector import SECRET_HEADER
from hub.testing import ConnectorKit, Fixture, HttpProvider, ProviderDouble, Webhook

TOKEN = "7123456789:AAHk3vXq-kit_bot_token_0123456789"
PHOTO = b"\xff\xd8\xff\xe0 a tiny jpeg"


async def bot_method(request: Request) -> Response:
    if request.path_params["token"] != TOKEN:
        return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
    body = json.loads(await request.body())
    method = request.path_params["method"]
    if method == "sendMessage":
        chat = {"id": body["chat_id"], "type": "private"}
        result = {"message_id": 501, "chat": chat, "date": 1767225600, "text": body["text"]}
        return JSONResponse({"ok": True, "result": result})
    if method == "getFile":
        result = {"file_id": body["file_id"], "file_size": len(PHOTO), "file_path": "photos/1.jpg"}
        return JSONResponse({"ok": True, "result": result})
    return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)


async def bot_file(request: Request) -> Response:
    if request.path_params["token"] != TOKEN:
        return Response(status_code=401)
    return Response(PHOTO, media_type="image/jpeg")


def bot_api() -> Starlette:
    return Starlette(
        routes=[
            Route("/bot{token}/{method}", bot_method, methods=["POST"]),
            Route("/file/bot{token}/{path:path}", bot_file, methods=["GET"]),
        ]
    )


class TestTelegramConnector(ConnectorKit):
    connector: ClassVar[type[Connector]] = TelegramConnector
    fixtures = Path(__file__).parent / "fixtures" / "telegram"
    signature_headers = (SECRET_HEADER,)
    signature_covers_body = False  # a shared secret token, not a body signature

    def settings(self, provider: ProviderDouble) -> dict[str, Any]:
        return {"bot_token": TOKEN, "api_url": provider.url, "timeout_seconds": 5}

    def provider(self) -> HttpProvider:
        return HttpProvider(
            bot_api(),
            transient=(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
            permanent=(
                403,
                {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"},
            ),
        )

    def webhook(self, fixture: Fixture, *, forged: bool = False) -> Webhook:
        secret = webhook_secret(TelegramSettings(bot_token=TOKEN))  # type: ignore[arg-type]
        return Webhook(
            "webhook",
            fixture.body,
            {
                "Content-Type": "application/json",
                SECRET_HEADER: "forged-secret-token" if forged else secret,
            },
        )
