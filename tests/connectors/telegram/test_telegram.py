"""The Telegram connector in the running hub: secret-checked updates in, ``sendMessage`` out.

Updates follow the Bot API's shapes (REFERENCE.md §5) and carry the
``X-Telegram-Bot-Api-Secret-Token`` header; the Bot API double checks the
token in the URL and the request bodies, and serves files for ``getFile``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.app import Hub, build_app
from hub.connectors.base import OutboundMessage
from hub.connectors.telegram import (
    TelegramConnector,
    TelegramSettings,
    setup_webhook,
    webhook_secret,
)
from hub.errors import PermanentError, TransientError
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import DeliveryStatus, Direction, Event, Identity
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.buswatch import BusWatch
from tests.servers import serve

TOKEN = "7123456789:AAHk3vXq-example_bot_token_0123456"
PUBLIC = "https://hub.example.com"
USER = 424242
ANA = Identity("telegram", str(USER))
ANA_FROM = {
    "id": USER,
    "is_bot": False,
    "first_name": "Ana",
    "last_name": "Ruiz",
    "username": "ana_r",
}


def bot_error(status: int, description: str, **parameters: Any) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=status)


@dataclass
class BotApi:
    """The Bot API, the parts we use. ``script`` holds answers for the next sendMessage."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)
    script: list[Response] = field(default_factory=list)
    wrong_token: int = 0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/bot{token}/{method}", self.method, methods=["POST"]),
                Route("/file/bot{token}/{path:path}", self.file, methods=["GET"]),
            ]
        )

    async def method(self, request: Request) -> Response:
        if request.path_params["token"] != TOKEN:
            self.wrong_token += 1
            return bot_error(401, "Unauthorized")
        name = request.path_params["method"]
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            body: dict[str, Any] = {}
            async with request.form() as form:
                for key, value in form.multi_items():
                    if isinstance(value, str):
                        body[key] = value
                    else:
                        body[key] = {"filename": value.filename, "data": await value.read()}
        else:
            body = json.loads(await request.body())
        self.calls.append((name, body))
        if name == "sendMessage":
            if self.script:
                return self.script.pop(0)
            assert isinstance(body["chat_id"], int) and body["text"]
            result = {
                "message_id": 100 + len(self.calls),
                "chat": {"id": body["chat_id"], "type": "private"},
                "date": 1749416400,
                "text": body["text"],
            }
            return JSONResponse({"ok": True, "result": result})
        if name in ("sendPhoto", "sendDocument"):
            field = "photo" if name == "sendPhoto" else "document"
            assert isinstance(body.get(field), dict) and body[field]["data"], body
            result = {"message_id": 100 + len(self.calls), "chat": {"id": int(body["chat_id"])}}
            return JSONResponse({"ok": True, "result": result})
        if name == "getFile":
            if body["file_id"] not in self.files:
                return bot_error(400, "Bad Request: invalid file_id")
            path, data = self.files[body["file_id"]]
            result = {"file_id": body["file_id"], "file_size": len(data), "file_path": path}
            return JSONResponse({"ok": True, "result": result})
        if name == "setWebhook":
            return JSONResponse({"ok": True, "result": True, "description": "Webhook was set"})
        return bot_error(404, "Not Found")

    async def file(self, request: Request) -> Response:
        self.downloads.append(request.path_params["path"])
        if request.path_params["token"] != TOKEN:
            self.wrong_token += 1
            return Response(status_code=401)
        for path, data in self.files.values():
            if path == request.path_params["path"]:
                return Response(data, media_type="application/octet-stream")
        return Response(status_code=404)


@dataclass
class Rig(BusWatch):
    client: httpx.AsyncClient
    api: httpx.AsyncClient
    bot: BotApi
    bot_url: str

    @property
    def connector(self) -> TelegramConnector:
        connector = self.hub.connectors["telegram"]
        assert isinstance(connector, TelegramConnector)
        return connector

    @property
    def secret(self) -> str:
        return webhook_secret(self.connector.config)

    async def post(
        self, update: dict[str, Any] | bytes, secret: str | None = None
    ) -> httpx.Response:
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        headers = {"Content-Type": "application/json"}
        if secret != "":
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret or self.secret
        return await self.client.post("/connectors/telegram/webhook", content=body, headers=headers)

    async def events(self, identity: Identity = ANA) -> list[Event]:
        customer = await self.hub.store.find_customer(identity)
        assert customer is not None
        return (await self.hub.store.events(customer_id=customer.id, limit=200)).items


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Rig]:
    bot = BotApi()
    async with serve(bot.app()) as bot_url:
        settings = Settings(
            store=str(tmp_path / "unused.db"),
            blobs=str(tmp_path / "blobs"),
            public_url=PUBLIC,
            outbox=OutboxSettings(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05),
            connectors={"telegram": {"bot_token": TOKEN, "api_url": bot_url}},
        )
        app = build_app(settings, store=store)
        hub: Hub = app.state.hub
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/healthz")).status_code == 200
            _, token = await issue_token(store, "tests")
            api = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"})
            rig = Rig(hub, client, api, bot, bot_url)
            async with api, rig.watching():
                yield rig


def update(
    update_id: int, message_id: int, text: str | None = None, **fields: Any
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": ANA_FROM,
        "chat": {"id": USER, "first_name": "Ana", "type": "private"},
        "date": 1749416383,
        **fields,
    }
    if text is not None:
        message["text"] = text
    return {"update_id": update_id, "message": message}


# -- inbound ----------------------------------------------------------------------------
async def test_update_with_the_secret_lands_on_the_timeline(rig: Rig) -> None:
    r = await rig.post(update(9001, 5, "Hello, is my order shipped?"))
    assert r.status_code == 200 and r.json() == {"stored": True}
    [event] = await rig.events()
    assert (event.channel, event.direction, event.text) == (
        "telegram",
        Direction.IN,
        "Hello, is my order shipped?",
    )
    assert event.occurred_at.timestamp() == 1749416383
    assert event.meta["username"] == "ana_r"
    customer = await rig.hub.store.find_customer(ANA)
    assert customer is not None and customer.name == "Ana Ruiz"


@pytest.mark.parametrize("secret", ["", "wrong-secret", "x" * 64])
async def test_wrong_or_missing_secret_is_403_and_stores_nothing(rig: Rig, secret: str) -> None:
    r = await rig.post(update(9001, 5, "Hi"), secret=secret)
    assert r.status_code == 403
    assert await rig.hub.store.find_customer(ANA) is None


async def test_malformed_json_is_400_and_an_update_without_id_is_ignored(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await rig.post(b'{"update_id": 1, "message": ')).status_code == 400
    r = await rig.post({"message": update(1, 1, "no id")["message"]})
    assert r.status_code == 200 and r.json() == {"ignored": True}
    assert "no update_id" in caplog.text
    assert await rig.hub.store.find_customer(ANA) is None


async def test_replayed_updates_are_answered_as_duplicates_and_a_late_one_is_applied(
    rig: Rig,
) -> None:
    assert (await rig.post(update(100, 1, "one"))).json() == {"stored": True}
    assert (await rig.post(update(102, 3, "three"))).json() == {"stored": True}
    # Telegram redelivers 102 (our answer was lost) and 100.
    assert (await rig.post(update(102, 3, "three"))).json() == {"duplicate": True}
    assert (await rig.post(update(100, 1, "one"))).json() == {"duplicate": True}
    # 101 arrives late: it fills the gap instead of being mistaken for a replay.
    assert (await rig.post(update(101, 2, "two"))).json() == {"stored": True}
    assert (await rig.post(update(101, 2, "two"))).json() == {"duplicate": True}
    assert [e.text for e in await rig.events()] == ["one", "three", "two"]


async def test_update_ids_that_jump_or_restart_never_drop_a_genuine_update(rig: Rig) -> None:
    assert (await rig.post(update(100, 1, "one"))).json() == {"stored": True}
    # update_id jumps by hundreds (Telegram skips ids), then a late update arrives.
    assert (await rig.post(update(400, 3, "three"))).json() == {"stored": True}
    assert (await rig.post(update(150, 2, "two"))).json() == {"stored": True}
    # The webhook was re-registered: ids start again near where they were.
    assert (await rig.post(update(120, 4, "four"))).json() == {"stored": True}
    assert (await rig.post(update(399, 5, "five"))).json() == {"stored": True}
    assert (await rig.post(update(399, 5, "five"))).json() == {"duplicate": True}
    assert [e.text for e in await rig.events()] == ["one", "three", "two", "four", "five"]


async def test_photo_with_caption_and_document_are_fetched_into_blobs(rig: Rig) -> None:
    rig.bot.files["AgAD-large"] = ("photos/file_7.jpg", b"\xff\xd8 large photo")
    rig.bot.files["BQAD-doc"] = ("documents/file_8.pdf", b"%PDF invoice")
    photo = [
        {
            "file_id": "AgAD-small",
            "file_unique_id": "s",
            "width": 90,
            "height": 90,
            "file_size": 900,
        },
        {
            "file_id": "AgAD-large",
            "file_unique_id": "l",
            "width": 800,
            "height": 800,
            "file_size": 9000,
        },
    ]
    await rig.post(update(1, 10, photo=photo, caption="It arrived broken"))
    document = {
        "file_id": "BQAD-doc",
        "file_unique_id": "d",
        "file_name": "receipt.pdf",
        "mime_type": "application/pdf",
        "file_size": 12,
    }
    await rig.post(update(2, 11, document=document))
    pictured, documented = await rig.events()
    assert pictured.text == "It arrived broken"
    [jpeg] = pictured.attachments
    assert (jpeg.filename, jpeg.content_type) == ("photo.jpg", "image/jpeg")
    assert await rig.hub.blobs.get(jpeg.blob_id) == b"\xff\xd8 large photo"
    [pdf] = documented.attachments
    assert (pdf.filename, pdf.content_type, pdf.size) == ("receipt.pdf", "application/pdf", 12)
    assert rig.bot.downloads == ["photos/file_7.jpg", "documents/file_8.pdf"]
    assert rig.bot.wrong_token == 0


async def test_a_file_that_cannot_be_fetched_keeps_the_message_with_the_reason(rig: Rig) -> None:
    voice = {"file_id": "gone", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg"}
    r = await rig.post(update(1, 10, voice=voice))
    assert r.status_code == 200
    [event] = await rig.events()
    assert event.attachments == []
    assert event.meta["attachment_errors"] == [
        {"type": "voice", "error": "Telegram 400: Bad Request: invalid file_id"}
    ]


async def test_groups_bots_and_other_update_types_are_acknowledged_and_ignored(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.connectors.telegram")
    group = update(1, 1, "hi all")
    group["message"]["chat"] = {"id": -100123, "type": "supergroup", "title": "Fans"}
    bot = update(2, 2, "beep")
    bot["message"]["from"] = {"id": 999, "is_bot": True, "first_name": "OtherBot"}
    button = {"update_id": 3, "callback_query": {"id": "1", "from": ANA_FROM, "data": "x"}}
    for payload in (group, bot, button):
        r = await rig.post(payload)
        assert r.status_code == 200 and r.json() == {"stored": False}
    assert "not a private chat" in caplog.text and "['callback_query']" in caplog.text
    assert await rig.hub.store.find_customer(ANA) is None


async def test_an_edit_changes_the_message_and_keeps_its_history(rig: Rig) -> None:
    await rig.post(update(1, 10, "My order is 1243"))
    edited = update(2, 10, "My order is 1234", edit_date=1749416400)
    edited["edited_message"] = edited.pop("message")
    for _ in range(2):
        assert (await rig.post(edited)).status_code == 200
    [fixed] = await rig.events()
    assert fixed.text == "My order is 1234"
    assert [h["text"] for h in fixed.meta["history"]] == ["My order is 1243"]


# -- outbound ---------------------------------------------------------------------------
async def test_reply_goes_out_through_send_message_without_the_token_in_logs(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await rig.post(update(1, 10, "Hello?"))
    [inbound] = await rig.events()
    r = await rig.api.post(
        f"/api/v1/conversations/{inbound.conversation_id}/reply", json={"text": "Hi Ana!"}
    )
    assert r.status_code == 202, r.text
    event_id = r.json()["id"]
    sent = await rig.settled(event_id)
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    assert sent.delivery.provider_id == f"{USER}:101"
    assert rig.bot.calls == [("sendMessage", {"chat_id": USER, "text": "Hi Ana!"})]
    assert "/botTOKEN/sendMessage" in caplog.text  # httpx logged the request…
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text  # …not the token
    assert TOKEN not in repr(rig.connector)


def outbound(text: str = "hello") -> OutboundMessage:
    return OutboundMessage(
        event_id="evt_test",
        channel="telegram",
        to=ANA,
        customer_id="cus_test",
        conversation_id=None,
        text=text,
    )


@pytest.mark.parametrize(
    ("answer", "error", "retry_after", "reason"),
    [
        (
            bot_error(429, "Too Many Requests: retry after 5", retry_after=5),
            TransientError,
            5.0,
            "429",
        ),
        (Response("oops", 502), TransientError, None, "502"),
        (bot_error(403, "Forbidden: bot was blocked by the user"), PermanentError, None, "blocked"),
        (
            bot_error(400, "Bad Request: group chat was upgraded", migrate_to_chat_id=-1001),
            PermanentError,
            None,
            "now -1001",
        ),
    ],
)
async def test_bot_api_answers_map_to_retry_or_failure(
    rig: Rig,
    answer: Response,
    error: type[Exception],
    retry_after: float | None,
    reason: str,
) -> None:
    rig.bot.script = [answer]
    with pytest.raises(error, match=re.escape(reason)) as caught:
        await rig.connector.send(outbound())
    if isinstance(caught.value, TransientError):
        assert caught.value.retry_after == retry_after


async def test_setup_registers_the_webhook_with_a_secret_the_hub_then_accepts(rig: Rig) -> None:
    settings = TelegramSettings(bot_token=TOKEN, api_url=rig.bot_url)
    url = await setup_webhook(settings, PUBLIC + "/")
    assert url == f"{PUBLIC}/connectors/telegram/webhook"
    [(method, body)] = rig.bot.calls
    assert method == "setWebhook"
    assert body == {
        "url": url,
        "secret_token": body["secret_token"],
        "allowed_updates": ["message", "edited_message"],
        "max_connections": 1,
    }
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,256}", body["secret_token"])
    assert body["secret_token"] not in TOKEN
    r = await rig.post(update(1, 1, "after setup"), secret=body["secret_token"])
    assert r.status_code == 200 and r.json() == {"stored": True}

    chosen = TelegramSettings(bot_token=TOKEN, webhook_secret="my_own-secret", api_url=rig.bot_url)
    await setup_webhook(chosen, PUBLIC)
    assert rig.bot.calls[-1][1]["secret_token"] == "my_own-secret"


def test_settings_refuse_a_malformed_token_or_secret() -> None:
    with pytest.raises(ValueError, match="bot token"):
        TelegramSettings(bot_token="not-a-token")
    with pytest.raises(ValueError, match="1-256 characters"):
        TelegramSettings(bot_token=TOKEN, webhook_secret="spaces are not allowed")


@pytest.mark.parametrize(
    ("date", "status"), [(253402300800, 200), (-62135596801, 200), (2**70, 400)]
)
async def test_an_update_dated_beyond_the_datetime_limits_is_refused_not_retried(
    rig: Rig, date: int, status: int
) -> None:
    for _ in range(2):
        r = await rig.post(update(7, 1, "from the far future", date=date))
        assert r.status_code == status, r.text
        assert status == 400 or r.json() == {"stored": False}
    assert await rig.hub.store.find_customer(ANA) is None


async def test_a_reply_with_files_goes_out_as_a_photo_with_caption_and_a_document(
    rig: Rig,
) -> None:
    await rig.post(update(1, 10, "Can you send the invoice?"))
    [event] = await rig.events()
    r = await rig.api.post(
        f"/api/v1/conversations/{event.conversation_id}/reply",
        data={"text": "Here you go", "channel": "telegram"},
        files=[
            ("files", ("parcel.png", b"\x89PNG-bytes", "image/png")),
            ("files", ("invoice.pdf", b"%PDF-1.7 bytes", "application/pdf")),
        ],
    )
    assert r.status_code == 202, r.text
    sent = await rig.settled(r.json()["id"])
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    assert [a.filename for a in sent.attachments] == ["parcel.png", "invoice.pdf"]
    calls = [(name, body) for name, body in rig.bot.calls if name.startswith("send")]
    assert [name for name, _ in calls] == ["sendPhoto", "sendDocument"]
    photo, document = (body for _, body in calls)
    assert photo["caption"] == "Here you go" and photo["photo"]["data"] == b"\x89PNG-bytes"
    assert "caption" not in document and document["document"]["filename"] == "invoice.pdf"


async def test_an_agent_writes_first_to_a_known_chat_and_to_a_new_one(rig: Rig) -> None:
    await rig.post(update(1, 10, "Hello?"))
    ana = await rig.hub.store.find_customer(ANA)
    assert ana is not None
    r = await rig.api.post(
        "/api/v1/conversations",
        json={"channel": "telegram", "to": str(USER), "text": "Your parcel arrived"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["customer_id"] == ana.id and r.json()["new_customer"] is False
    sent = await rig.settled(r.json()["event"]["id"])
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    assert ("sendMessage", {"chat_id": USER, "text": "Your parcel arrived"}) in rig.bot.calls

    r = await rig.api.post(
        "/api/v1/conversations",
        json={"channel": "telegram", "to": "telegram:777", "text": "Welcome", "name": "Lu"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["new_customer"] is True
    await rig.settled(r.json()["event"]["id"])
    assert ("sendMessage", {"chat_id": 777, "text": "Welcome"}) in rig.bot.calls
    bad = await rig.api.post(
        "/api/v1/conversations",
        json={"channel": "telegram", "to": "phone:+15551230001", "text": "x"},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "to"
