"""Two real hub processes on one store behave as one hub (SQLite file and MongoDB)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.connectors.api import sign
from hub.timeline.model import DeliveryStatus, Identity
from hub.timeline.mongo import MongoStore
from hub.timeline.sqlite import SQLiteStore
from hub.timeline.store import InboxFilter, TimelineStore
from hub.tokens import issue_token
from tests.hubs import HubProcess, run_hubs
from tests.servers import serve

SECRET = "two-hubs-api-secret-0123456789"
CUSTOMERS = 25
REPLIES = 200
SLOW = 5
LEASE = 20.0  # long enough that a renewal held up on a loaded machine still lands


@dataclass
class Cluster:
    hubs: list[HubProcess]
    store: TimelineStore
    token: str
    received: list[str]

    async def push(self, hub: HubProcess, payload: dict[str, object]) -> httpx.Response:
        body = json.dumps(payload).encode()
        ts = str(int(time.time()))
        async with httpx.AsyncClient(base_url=hub.url, timeout=30) as client:
            return await client.post(
                "/connectors/api/messages",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Omnihub-Timestamp": ts,
                    "X-Omnihub-Signature": sign(SECRET, ts, body),
                },
            )


@pytest.fixture(params=["sqlite", pytest.param("mongo", marks=pytest.mark.mongo)])
async def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cluster]:
    received: list[str] = []

    async def callback(req: Request) -> JSONResponse:
        body = await req.json()
        if str(body.get("text", "")).startswith("slow"):
            await asyncio.sleep(LEASE * 1.5)  # longer than the outbox lease
        received.append(req.headers["Idempotency-Key"])
        return JSONResponse({"ok": True})

    receiver = Starlette(routes=[Route("/callback", callback, methods=["POST"])])
    store: TimelineStore
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        store = SQLiteStore(tmp_path / "shared.db")
    else:
        uri: str = request.getfixturevalue("mongo_uri")
        name = f"omnihub_two_{uuid.uuid4().hex[:10]}"
        url = uri.rstrip("/") + "/" + name if uri.count("/") <= 2 else uri
        store = MongoStore(uri, database=name)
        url = _with_database(uri, name)
    await store.open()
    _, token = await issue_token(store, "two-hubs")
    async with serve(receiver) as receiver_url:
        env = {
            "OMNIHUB_STORE": url,
            "OMNIHUB_BLOBS": str(tmp_path / "blobs"),
            "OMNIHUB_SECRET_KEY": "two-hubs-secret-key-0123456789abcdef",
            "OMNIHUB_ENABLED_CONNECTORS": '["api"]',
            "OMNIHUB_CONNECTORS__API__SECRET": SECRET,
            "OMNIHUB_CONNECTORS__API__CALLBACK_URL": f"{receiver_url}/callback",
            "OMNIHUB_OUTBOX__LEASE_SECONDS": str(LEASE),
            "OMNIHUB_CONNECTORS__API__TIMEOUT_SECONDS": str(LEASE * 3),
            "OMNIHUB_LOG_LEVEL": "warning",
        }
        async with run_hubs(2, tmp_path, env) as hubs:
            yield Cluster(hubs, store, token, received)
    if isinstance(store, MongoStore):
        await store.drop_database()
    await store.close()


def _with_database(uri: str, name: str) -> str:
    scheme, _, rest = uri.partition("://")
    hosts, _, tail = rest.partition("/")
    query = tail.partition("?")[2]
    return f"{scheme}://{hosts}/{name}" + (f"?{query}" if query else "")


async def test_a_new_customer_s_first_two_messages_on_two_hubs_open_one_conversation(
    cluster: Cluster,
) -> None:
    a, b = cluster.hubs
    pushes = []
    for n in range(CUSTOMERS):
        sender = f"email:racer{n}@example.com"
        pushes.append(cluster.push(a, {"id": f"r{n}-a", "from": sender, "text": "first"}))
        pushes.append(cluster.push(b, {"id": f"r{n}-b", "from": sender, "text": "second"}))
    answers = await asyncio.gather(*pushes)
    assert [r.status_code for r in answers] == [201] * (2 * CUSTOMERS)
    for n in range(CUSTOMERS):
        customer = await cluster.store.find_customer(Identity("email", f"racer{n}@example.com"))
        assert customer is not None
        convs = await cluster.store.list_conversations(
            InboxFilter(status=(), customer_id=customer.id)
        )
        assert len(convs.items) == 1, f"customer {n} split into {len(convs.items)}"
        page = await cluster.store.events(customer_id=customer.id)
        assert sorted(e.text or "" for e in page.items) == ["first", "second"]
        assert {e.conversation_id for e in page.items} == {convs.items[0].id}


async def test_replies_with_both_outboxes_running_are_each_delivered_once(
    cluster: Cluster,
) -> None:
    a, b = cluster.hubs
    first = await cluster.push(a, {"id": "q1", "from": "email:ask@example.com", "text": "hi"})
    conversation_id = first.json()["conversation_id"]
    headers = {"Authorization": f"Bearer {cluster.token}"}
    in_flight = asyncio.Semaphore(16)  # agents answering, not a flood

    async def reply(hub: HubProcess, n: int) -> str:
        text = f"slow {n}" if n < SLOW else f"reply {n}"
        # generous: on a loaded machine FerretDB serialises both hubs' writes and claims
        async with in_flight, httpx.AsyncClient(base_url=hub.url, timeout=600) as client:
            r = await client.post(
                f"/api/v1/conversations/{conversation_id}/reply",
                json={"text": text, "channel": "api"},
                headers=headers,
            )
        assert r.status_code == 202, r.text
        event_id: str = r.json()["id"]
        return event_id

    ids = await asyncio.gather(*(reply(a if n % 2 else b, n) for n in range(REPLIES)))
    assert len(set(ids)) == REPLIES

    async def all_sent() -> None:
        while True:
            events = [await cluster.store.get_event(i) for i in ids]
            if all(e.delivery and e.delivery.status is DeliveryStatus.SENT for e in events):
                return
            await asyncio.sleep(0.25)

    await asyncio.wait_for(all_sent(), 600)
    counts = Counter(cluster.received)
    assert set(counts) == set(ids)
    doubled = [await cluster.store.get_event(i) for i, c in counts.items() if c > 1]
    assert doubled == [], (
        [(e.text, e.delivery and e.delivery.attempts) for e in doubled],
        [line for hub in cluster.hubs for line in hub.output().splitlines() if "lease" in line],
    )
