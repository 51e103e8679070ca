"""Outgoing webhooks through a real hub and a real local receiver, on both stores."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.agent.auth import create_agent
from hub.app import Hub, build_app
from hub.bus import BusMessage, Topic
from hub.connectors.api import sign
from hub.operations import OperationsSettings
from hub.settings import OutboxSettings, Settings, WebhooksSettings, WebhookSubscription
from hub.surveys.settings import SurveySettings
from hub.timeline.model import AgentRole, utcnow
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.agent.kit import PASSWORD, Agentside
from tests.servers import serve

API_SECRET = "api-secret-0123456789abcdef"
HOOK_SECRET = "hook-secret-0123456789abcdef"


@dataclass
class Receiver:
    """A receiver that checks signatures like a subscriber would; ``fail_first`` answers 503."""

    fail_first: int = 0
    calls: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    keys: list[str] = field(default_factory=list)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        stamp = request.headers.get("x-omnihub-timestamp", "")
        mac = hmac.new(HOOK_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        good = "sha256=" + mac.hexdigest()
        if not hmac.compare_digest(good, request.headers.get("x-omnihub-signature", "")):
            self.refused += 1
            return JSONResponse({"error": "bad signature"}, status_code=403)
        if abs(time.time() - int(stamp)) > 300:
            self.refused += 1
            return JSONResponse({"error": "stale"}, status_code=403)
        self.calls += 1
        if self.calls <= self.fail_first:
            return JSONResponse({"error": "busy"}, status_code=503)
        payload = json.loads(body)
        assert request.headers["x-omnihub-event"] == payload["type"]
        self.keys.append(request.headers["idempotency-key"])
        self.received.append(payload)
        return JSONResponse({"ok": True})

    def types(self) -> list[str]:
        return sorted(p["type"] for p in self.received)


@dataclass
class Running:
    hub: Hub
    client: httpx.AsyncClient
    token: str
    receiver: Receiver

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def push(self, payload: dict[str, Any]) -> httpx.Response:
        body = json.dumps(payload).encode()
        ts = str(int(time.time()))
        return await self.client.post(
            "/connectors/api/messages",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Omnihub-Timestamp": ts,
                "X-Omnihub-Signature": sign(API_SECRET, ts, body),
            },
        )


async def until(check: Callable[[], Awaitable[bool] | bool], seconds: float = 15) -> None:
    async with asyncio.timeout(seconds):
        while True:
            got = check()
            if not isinstance(got, bool):
                got = await got
            if got:
                return
            await asyncio.sleep(0.05)


def hook_settings(tmp_path: Path, url: str, **webhooks: Any) -> Settings:
    return Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        outbox=OutboxSettings(poll_interval=0.05),
        connectors={"api": {"secret": API_SECRET}},
        operations=OperationsSettings(enabled=True),
        surveys=SurveySettings(enabled=True),
        webhooks=WebhooksSettings(
            subscriptions=(
                WebhookSubscription(name="crm", url=f"{url}/hook", secret=HOOK_SECRET),  # type: ignore[arg-type]
            ),
            poll_interval=0.05,
            backoff_base=0.05,
            backoff_cap=0.2,
            **webhooks,
        ),
    )


@pytest.fixture
async def receiver_url() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])
    async with serve(app) as url:
        yield receiver, url


@pytest.fixture
async def running(
    store: TimelineStore, tmp_path: Path, receiver_url: tuple[Receiver, str]
) -> AsyncIterator[Running]:
    receiver, url = receiver_url
    app = build_app(hook_settings(tmp_path, url), store=store)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        _, token = await issue_token(store, "tests")
        yield Running(app.state.hub, client, token, receiver)


def message(id_: str, text: str = "My parcel is lost") -> dict[str, Any]:
    return {"id": id_, "from": "email:ana@example.com", "name": "Ana", "text": text}


async def test_each_event_type_arrives_signed(running: Running) -> None:
    created = (await running.push(message("m-1"))).json()
    conv_id = created["conversation_id"]
    await until(lambda: running.receiver.types() == ["message.created"])
    first = running.receiver.received[0]
    assert first["data"]["event"]["text"] == "My parcel is lost"
    assert first["data"]["event"]["conversation_id"] == conv_id

    assert running.hub.operations is not None
    breaches = [
        e.id
        for e in await running.hub.operations.tick(utcnow() + timedelta(days=30))
        if e.meta.get("operations") == "sla_breach"
    ]
    assert breaches  # first response and resolution clocks ran out
    r = await running.client.patch(
        f"/api/v1/conversations/{conv_id}", json={"status": "resolved"}, headers=running.auth()
    )
    assert r.status_code == 200
    assert running.hub.surveys is not None
    await running.hub.surveys.answer(conv_id, "csat", 5, "email", "quick, thanks")

    want = sorted(
        ["conversation.status", "message.created", "survey.answered"]
        + ["sla.breach"] * len(breaches)
    )
    await until(lambda: running.receiver.types() == want)
    by_type = {p["type"]: p for p in running.receiver.received}
    status = by_type["conversation.status"]["data"]
    assert status["conversation"]["status"] == "resolved" and status["from"] == "open"
    assert status["by"] == "api:tests"
    sla = [p["data"]["event"]["id"] for p in running.receiver.received if p["type"] == "sla.breach"]
    assert sorted(sla) == sorted(breaches)
    assert by_type["survey.answered"]["data"]["event"]["meta"]["survey"]["score"] == 5
    assert running.receiver.refused == 0
    assert running.receiver.keys == [p["id"] for p in running.receiver.received]


async def test_a_failing_receiver_is_retried_and_the_log_shows_each_attempt(
    running: Running,
) -> None:
    running.receiver.fail_first = 2
    await running.push(message("m-1"))
    await until(lambda: running.receiver.types() == ["message.created"])

    async def logged() -> bool:
        r = await running.client.get(
            "/api/v1/webhooks/deliveries",
            params={"subscription": "crm"},
            headers=running.auth(),
        )
        return r.json()["items"][0]["status"] == "delivered"

    await until(logged)
    r = await running.client.get("/api/v1/webhooks/deliveries", headers=running.auth())
    (item,) = r.json()["items"]
    assert item["attempts"] == 3 and item["event_type"] == "message.created"
    assert [e.get("status_code") for e in item["log"]] == [503, 503, 200]
    assert "lease_token" not in item
    subs = (await running.client.get("/api/v1/webhooks", headers=running.auth())).json()
    assert subs["items"][0]["name"] == "crm" and "secret" not in subs["items"][0]
    bad = await running.client.get(
        "/api/v1/webhooks/deliveries", params={"subscription": "nope"}, headers=running.auth()
    )
    assert bad.status_code == 404
    bad = await running.client.get(
        "/api/v1/webhooks/deliveries", params={"limit": "0"}, headers=running.auth()
    )
    assert bad.status_code == 422 and bad.json()["field"] == "limit"
    assert (await running.client.get("/api/v1/webhooks/deliveries")).status_code == 401

    for email, admin in (("lead@example.com", True), ("ben@example.com", False)):
        await create_agent(
            running.hub.store,
            email=email,
            name=email[:4],
            password=PASSWORD,
            role=AgentRole.ADMIN if admin else AgentRole.AGENT,
        )
    async with httpx.AsyncClient(base_url=str(running.client.base_url)) as browser:
        side = Agentside(browser)
        assert (await side.sign_in("lead@example.com", PASSWORD)).status_code == 303
        page = await browser.get("/agent/admin/webhooks")
        assert page.status_code == 200
        row = page.text.split(f'data-delivery="{item["id"]}"')[1].split("</tr>")[0]
        assert "crm" in row and "message.created" in row and "503 · 503 · 200" in row
    async with httpx.AsyncClient(base_url=str(running.client.base_url)) as browser:
        side = Agentside(browser)
        assert (await side.sign_in("ben@example.com", PASSWORD)).status_code == 303
        assert (await browser.get("/agent/admin/webhooks")).status_code == 403


async def test_a_replayed_message_is_delivered_once(running: Running) -> None:
    for _ in range(3):
        assert (await running.push(message("m-1"))).status_code in (200, 201)
    await running.push(message("m-2", "and another"))
    await until(lambda: len(running.receiver.received) == 2)
    texts = sorted(p["data"]["event"]["text"] for p in running.receiver.received)
    assert texts == ["My parcel is lost", "and another"]
    # the same change heard again (a second instance on the bus, a resync) is not sent again
    [event] = [
        e
        for e in (
            await running.hub.store.events(
                customer_id=running.receiver.received[0]["data"]["event"]["customer_id"]
            )
        ).items
        if e.text == "My parcel is lost"
    ]
    assert running.hub.webhooks is not None
    again = BusMessage(Topic.EVENT_CREATED, event.customer_id, event=event)
    assert await running.hub.webhooks.enqueue(again) == 0
    stored = await running.hub.store.webhook_deliveries()
    assert len(stored) == 2 and all(d.attempts == 1 for d in stored)
    assert len(running.receiver.received) == 2


async def test_queued_deliveries_survive_a_restart(
    store: TimelineStore, tmp_path: Path, receiver_url: tuple[Receiver, str]
) -> None:
    receiver, url = receiver_url
    receiver.fail_first = 1_000  # down while the first hub runs
    settings = hook_settings(tmp_path, url)
    app = build_app(settings, store=store)
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        running = Running(app.state.hub, client, "", receiver)
        await running.push(message("m-1"))
        await until(lambda: receiver.calls >= 1)
    assert receiver.received == []
    receiver.fail_first = 0
    again = build_app(settings, store=store)
    async with serve(again):
        await until(lambda: receiver.types() == ["message.created"])
        (item,) = await store.webhook_deliveries()
        assert item.attempts >= 2
        await until(lambda: _delivered(store))


async def _delivered(store: TimelineStore) -> bool:
    (item,) = await store.webhook_deliveries()
    return item.status.value == "delivered"
