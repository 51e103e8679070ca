"""``/metrics``: what a Prometheus scrape of one hub instance shows, and who may scrape."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.app import Hub, build_app
from hub.bus import BusMessage, Topic
from hub.connectors.api import sign
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from tests.operations.kit import until
from tests.servers import serve

SECRET = "api-secret-0123456789abcdef"
MONITOR = "monitor-" + "m" * 24


@dataclass
class Running:
    url: str
    hub: Hub
    client: httpx.AsyncClient
    hold: asyncio.Event

    async def push(self, id_: str, text: str) -> str:
        body = json.dumps({"id": id_, "from": "email:ana@example.com", "text": text}).encode()
        ts = str(int(time.time()))
        r = await self.client.post(
            "/connectors/api/messages",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Omnihub-Timestamp": ts,
                "X-Omnihub-Signature": sign(SECRET, ts, body),
            },
        )
        assert r.status_code == 201, r.text
        return str(r.json()["conversation_id"])

    async def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        r = await self.client.get("/metrics", headers={"authorization": f"Bearer {MONITOR}"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/plain")
        out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in text_string_to_metric_families(r.text):
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out

    async def until(self, name: str, labels: dict[str, str], value: float) -> None:
        key = (name, tuple(sorted(labels.items())))

        async def reached() -> bool:
            return (await self.scrape()).get(key) == value

        await until(reached)


@pytest.fixture
async def running(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Running]:
    hold = asyncio.Event()
    hold.set()

    async def callback(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        if body["text"] == "refused":
            return JSONResponse({"error": "unknown recipient"}, status_code=400)
        await hold.wait()
        return JSONResponse({"id": f"ext-{body['event_id']}"})

    receiver = Starlette(routes=[Route("/cb", callback, methods=["POST"])])
    async with serve(receiver) as cb_url:
        settings = Settings(
            store=str(tmp_path / "unused.db"),
            blobs=str(tmp_path / "blobs"),
            outbox=OutboxSettings(poll_interval=0.05),
            security={"health_token": MONITOR},
            connectors={"api": {"secret": SECRET, "callback_url": f"{cb_url}/cb"}},
        )
        app = build_app(settings, store=store)
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield Running(url, app.state.hub, client, hold)


async def test_metrics_need_a_monitoring_token(running: Running) -> None:
    assert (await running.client.get("/metrics")).status_code == 401
    wrong = await running.client.get("/metrics", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "omnihub_" not in wrong.text
    await running.scrape()


async def test_ingest_sends_failures_and_store_latency_are_counted(running: Running) -> None:
    conv = await running.push("m-1", "Where is my order?")
    await running.push("m-2", "Any news?")
    seen = await running.scrape()
    assert seen[("omnihub_messages_ingested_total", (("channel", "api"),))] == 2
    assert seen[("omnihub_store_seconds_count", (("operation", "run"),))] >= 2
    await running.hub.pipeline.send(conv, text="On its way", author="Sam")
    await running.until("omnihub_messages_sent_total", {"channel": "api"}, 1)
    await running.hub.pipeline.send(conv, text="refused", author="Sam")
    await running.until("omnihub_delivery_failures_total", {"channel": "api"}, 1)
    await running.until("omnihub_outbox_depth", {}, 0)


async def test_outbox_depth_and_age_show_a_reply_the_provider_holds(running: Running) -> None:
    conv = await running.push("m-1", "Hello")
    running.hold.clear()
    await running.hub.pipeline.send(conv, text="Held", author="Sam")
    await running.until("omnihub_outbox_depth", {}, 1)
    key = ("omnihub_outbox_oldest_age_seconds", ())

    async def waited() -> bool:
        return (await running.scrape())[key] > 0

    await until(waited)
    running.hold.set()
    await running.until("omnihub_outbox_depth", {}, 0)
    assert (await running.scrape())[key] == 0


async def test_websocket_connections_and_bus_drops(running: Running) -> None:
    ws_url = running.url.replace("http", "ws") + "/connectors/chat/ws?site=default"
    async with websockets.connect(ws_url, origin=websockets.Origin(running.url)) as ws:
        await ws.send(json.dumps({"type": "hello"}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome"
        await running.until("omnihub_websocket_connections", {"kind": "chat"}, 1)
        await ws.send(json.dumps({"type": "message", "id": "c-1", "text": "Hi there"}))
        await running.until("omnihub_messages_ingested_total", {"channel": "chat"}, 1)
        customer = await running.hub.store.find_customer(Identity("chat", welcome["visitor"]))
        assert customer is not None
        conv = (await running.hub.store.events(customer_id=customer.id)).items[0].conversation_id
        assert conv is not None
        await running.hub.pipeline.send(conv, text="Hello!", channel="chat", author="Sam")
        # delivered at once to the open widget: still a send
        await running.until("omnihub_messages_sent_total", {"channel": "chat"}, 1)
    await running.until("omnihub_websocket_connections", {"kind": "chat"}, 0)

    slow = running.hub.bus.subscribe(maxsize=1)
    for _ in range(3):
        running.hub.bus.publish(BusMessage(Topic.TYPING, "cus_x", data={}))
    assert slow.closed
    await running.until("omnihub_bus_subscribers_dropped_total", {}, 1)


async def test_a_scrape_during_a_store_outage_says_so(running: Running) -> None:
    assert (await running.scrape())[("omnihub_store_up", ())] == 1
    await running.hub.store.close()
    seen = await running.scrape()
    assert seen[("omnihub_store_up", ())] == 0
    assert ("omnihub_outbox_depth", ()) not in seen
