"""The hub over real HTTP: signed ``api`` webhooks, the JSON API, bad input."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.app import Hub, build_app
from hub.connectors.api import sign
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.servers import serve

SECRET = "api-secret-0123456789abcdef"
LIMIT = 4096


@dataclass
class Running:
    url: str
    hub: Hub
    client: httpx.AsyncClient
    token: str
    delivered: list[dict[str, Any]]

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def push(
        self, payload: dict[str, Any] | bytes, *, secret: str = SECRET, timestamp: int | None = None
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        ts = str(timestamp if timestamp is not None else int(time.time()))
        return await self.client.post(
            "/connectors/api/messages",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Omnihub-Timestamp": ts,
                "X-Omnihub-Signature": sign(secret, ts, body),
            },
        )


@pytest.fixture
async def running(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Running]:
    delivered: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def callback(request: Request) -> JSONResponse:
        delivered.append(json.loads(await request.body()))
        arrived.set()
        return JSONResponse({"id": "ext-1"})

    receiver = Starlette(routes=[Route("/cb", callback, methods=["POST"])])
    async with serve(receiver) as cb_url:
        settings = Settings(
            store=str(tmp_path / "unused.db"),
            blobs=str(tmp_path / "blobs"),
            max_body_bytes=LIMIT,
            outbox=OutboxSettings(poll_interval=0.05),
            connectors={"api": {"secret": SECRET, "callback_url": f"{cb_url}/cb"}},
        )
        app = build_app(settings, store=store)
        hub: Hub = app.state.hub
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            _, token = await issue_token(store, "tests")
            yield Running(url, hub, client, token, delivered)


def message(id_: str = "m-1", **kw: Any) -> dict[str, Any]:
    return {"id": id_, "from": "email:Ana@Example.com", "name": "Ana", "text": "Hi", **kw}


async def test_healthz_reports_the_store(running: Running) -> None:
    r = await running.client.get("/healthz", headers=running.auth())
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] and body["store"]["ok"] and body["connectors"] == ["api", "chat"]


async def test_signed_message_lands_on_the_customer_timeline(running: Running) -> None:
    r = await running.push(message(text="Where is my order?"))
    assert r.status_code == 201, r.text
    created = r.json()
    found = await running.client.get(
        "/api/v1/customers", params={"identity": "email:ana@example.com"}, headers=running.auth()
    )
    [customer] = found.json()["items"]
    assert customer["id"] == created["customer_id"] and customer["name"] == "Ana"
    timeline = await running.client.get(
        f"/api/v1/customers/{customer['id']}/timeline", headers=running.auth()
    )
    [event] = timeline.json()["items"]
    assert event["text"] == "Where is my order?" and event["channel"] == "api"


async def test_same_message_posted_three_times_concurrently_is_one_event(
    running: Running,
) -> None:
    responses = await asyncio.gather(*(running.push(message("dup")) for _ in range(3)))
    assert sorted(r.status_code for r in responses) == [200, 200, 201]
    assert len({r.json()["event_id"] for r in responses}) == 1
    customer = await running.hub.store.find_customer(Identity("email", "ana@example.com"))
    assert customer is not None
    page = await running.hub.store.events(customer_id=customer.id)
    assert len(page.items) == 1


@pytest.mark.parametrize(
    ("secret", "age"),
    [("wrong-secret-0123456789", 0), (SECRET, 3600)],
    ids=["bad-signature", "replayed-an-hour-later"],
)
async def test_bad_signature_is_403_and_stores_nothing(
    running: Running, secret: str, age: int
) -> None:
    r = await running.push(message(), secret=secret, timestamp=int(time.time()) - age)
    assert r.status_code == 403
    assert await running.hub.store.find_customer(Identity("email", "ana@example.com")) is None


async def test_unsigned_message_is_403(running: Running) -> None:
    r = await running.client.post("/connectors/api/messages", json=message())
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        (b"{not json", 400, None),
        ({"id": "x", "text": "hi"}, 422, "from"),
        (message(**{"from": "email:not-an-address"}), 422, "from"),
        (message(**{"from": "phone:12"}), 422, "from"),
        (message(text=None), 422, "text"),
        (message(timestamp="2026-01-01T10:00:00"), 422, "timestamp"),
    ],
)
async def test_malformed_message_names_the_field_and_stores_nothing(
    running: Running, payload: dict[str, Any] | bytes, status: int, field: str | None
) -> None:
    r = await running.push(payload)
    assert r.status_code == status, r.text
    if field:
        assert r.json()["field"] == field
    page = await running.client.get("/api/v1/conversations", headers=running.auth())
    assert page.json()["items"] == []


async def test_body_over_the_limit_is_413(running: Running) -> None:
    r = await running.push(message(text="x" * LIMIT))
    assert r.status_code == 413
    page = await running.client.get("/api/v1/conversations", headers=running.auth())
    assert page.json()["items"] == []


async def test_api_needs_a_valid_token(running: Running) -> None:
    r = await running.client.get("/api/v1/conversations")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = await running.client.get("/api/v1/conversations", headers=running.auth("omh_nope"))
    assert r.status_code == 401
    record, other = await issue_token(running.hub.store, "revoked")
    await running.hub.store.revoke_api_token(record.id)
    r = await running.client.get("/api/v1/conversations", headers=running.auth(other))
    assert r.status_code == 401


async def test_unknown_records_are_404_and_bad_queries_name_the_field(running: Running) -> None:
    a = running.auth()
    assert (await running.client.get("/api/v1/customers/cus_nope", headers=a)).status_code == 404
    r = await running.client.get("/api/v1/conversations/con_nope", headers=a)
    assert r.status_code == 404
    r = await running.client.get("/api/v1/customers", params={"identity": "phone:abc"}, headers=a)
    assert r.status_code == 422 and r.json()["field"] == "identity.value"
    r = await running.client.get("/api/v1/conversations", params={"status": "lost"}, headers=a)
    assert r.status_code == 422 and r.json()["field"] == "status"
    r = await running.client.get("/api/v1/conversations", params={"cursor": "%%%"}, headers=a)
    assert r.status_code == 400 and r.json()["field"] == "cursor"


async def test_timeline_pages_by_cursor(running: Running) -> None:
    for n in range(7):
        assert (await running.push(message(f"m{n}", text=f"message {n}"))).status_code == 201
    customer = await running.hub.store.find_customer(Identity("email", "ana@example.com"))
    assert customer is not None
    url = f"/api/v1/customers/{customer.id}/timeline"
    latest = (await running.client.get(url, params={"limit": 3}, headers=running.auth())).json()
    assert [e["text"] for e in latest["items"]] == ["message 4", "message 5", "message 6"]
    before = (
        await running.client.get(
            url, params={"limit": 3, "cursor": latest["older"]}, headers=running.auth()
        )
    ).json()
    assert [e["text"] for e in before["items"]] == ["message 1", "message 2", "message 3"]
    after = (
        await running.client.get(
            url,
            params={"cursor": before["newer"], "direction": "newer", "limit": 10},
            headers=running.auth(),
        )
    ).json()
    assert [e["text"] for e in after["items"]] == [f"message {n}" for n in (4, 5, 6)]
    assert after["has_newer"] is False


async def test_agent_workflow_update_note_and_reply_delivered(running: Running) -> None:
    created = (await running.push(message(text="My parcel is lost"))).json()
    conv_url = f"/api/v1/conversations/{created['conversation_id']}"
    a = running.auth()
    r = await running.client.patch(
        conv_url, json={"assignee": "agent-7", "priority": "high"}, headers=a
    )
    assert r.status_code == 200 and r.json()["assignee"] == "agent-7"
    r = await running.client.patch(conv_url, json={"priority": "sky-high"}, headers=a)
    assert r.status_code == 422 and r.json()["field"] == "priority"
    mine = await running.client.get(
        "/api/v1/conversations", params={"assignee": "agent-7"}, headers=a
    )
    assert [c["id"] for c in mine.json()["items"]] == [created["conversation_id"]]

    note = await running.client.post(
        f"{conv_url}/notes", json={"text": "Check with courier"}, headers=a
    )
    assert note.status_code == 201 and note.json()["direction"] == "internal"

    sub = running.hub.bus.subscribe(lambda m: m.topic == "event.updated")
    r = await running.client.post(
        f"{conv_url}/reply",
        json={"text": "Found it, arriving tomorrow"},
        headers={**a, "Idempotency-Key": "reply-1"},
    )
    assert r.status_code == 202 and r.json()["delivery"]["status"] == "queued"
    again = await running.client.post(
        f"{conv_url}/reply",
        json={"text": "Found it, arriving tomorrow"},
        headers={**a, "Idempotency-Key": "reply-1"},
    )
    assert again.json()["id"] == r.json()["id"]
    async with asyncio.timeout(10):
        async for m in sub:
            if m.event is not None and m.event.delivery and m.event.delivery.status.final:  # type: ignore[union-attr]
                break
    assert [d["text"] for d in running.delivered] == ["Found it, arriving tomorrow"]
    assert running.delivered[0]["to"] == "email:ana@example.com"
    events = (await running.client.get(f"{conv_url}/events", headers=a)).json()["items"]
    assert [e["delivery"]["status"] for e in events if e["direction"] == "out"] == ["sent"]


async def test_merge_and_unmerge_over_the_api(running: Running) -> None:
    a = (await running.push(message("a1"))).json()
    b = (await running.push(message("b1", **{"from": "phone:+14155550100"}))).json()
    auth = running.auth()
    r = await running.client.post(
        f"/api/v1/customers/{b['customer_id']}/merge",
        json={"into": a["customer_id"], "reason": "same person"},
        headers=auth,
    )
    assert r.status_code == 200
    assert sorted(r.json()["identities"]) == ["email:ana@example.com", "phone:+14155550100"]
    merged = await running.client.get(
        f"/api/v1/customers/{b['customer_id']}/timeline", headers=auth
    )
    assert merged.json()["customer_id"] == a["customer_id"]
    r = await running.client.post(f"/api/v1/customers/{b['customer_id']}/unmerge", headers=auth)
    assert r.status_code == 200 and r.json()["merged_into"] is None
    r = await running.client.post(
        f"/api/v1/customers/{a['customer_id']}/merge", json={"into": a["customer_id"]}, headers=auth
    )
    assert r.status_code == 409


async def test_secrets_never_reach_the_logs(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await running.push(message())
    await running.push(message("m-2"), secret="wrong-secret-0123456789")
    await running.client.get("/api/v1/conversations", headers=running.auth())
    assert SECRET not in caplog.text and running.token not in caplog.text
    assert SECRET not in repr(running.hub.connectors["api"])


async def test_a_national_number_is_read_in_the_hubs_default_region(
    store: TimelineStore, tmp_path: Path
) -> None:
    settings = Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        default_region="DE",
        connectors={"api": {"secret": SECRET, "callback_url": "http://127.0.0.1:9/cb"}},
    )
    app = build_app(settings, store=store)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        running = Running(url, app.state.hub, client, "", [])
        r = await running.push(message(**{"from": "phone:030 1234567"}))
        assert r.status_code in (200, 201), r.text
        assert await running.hub.store.find_customer(Identity("phone", "+49301234567"))


async def test_search_across_customers_with_filters(running: Running) -> None:
    await running.push(message("s1", text="I was charged twice"))
    await running.push(message("s2", **{"from": "email:ben@example.com"}, text="Charged twice!"))
    await running.push(message("s3", text="all good now"))
    ana = await running.hub.store.find_customer(Identity("email", "ana@example.com"))
    assert ana is not None

    def get(**params: str) -> Any:
        return running.client.get("/api/v1/search", params=params, headers=running.auth())

    found = (await get(q="charged twice")).json()
    assert [e["text"] for e in found["items"]] == ["Charged twice!", "I was charged twice"]
    assert found["next"] is None
    mine = (await get(q="twice", customer=ana.id)).json()
    assert [e["text"] for e in mine["items"]] == ["I was charged twice"]
    assert (await get(q="twice", channel="sms")).json()["items"] == []
    today = found["items"][0]["occurred_at"][:10]
    assert len((await get(q="twice", **{"from": today, "to": today})).json()["items"]) == 2
    paged = (await get(q="twice", limit="1")).json()
    assert len(paged["items"]) == 1 and paged["next"]

    assert (await get(q="")).json()["field"] == "q"
    assert (await get(q="twice", **{"from": "yesterday"})).json()["field"] == "from"
    assert (await get(q="twice", cursor="bogus")).status_code == 400
    assert (await get(q="twice", customer="cus_nobody")).status_code == 404
    anonymous = await running.client.get("/api/v1/search", params={"q": "twice"})
    assert anonymous.status_code == 401


async def test_macro_report_counts_replies_per_macro(running: Running) -> None:
    created = (await running.push(message("r1", text="Refund?"))).json()
    conv = created["conversation_id"]
    for text in ("first", "second"):
        await running.hub.pipeline.send(conv, text=text, meta={"macro": "refund_status"})
    r = await running.client.get("/api/v1/reports/macros", headers=running.auth())
    assert r.json() == {
        "items": [
            {
                "macro": "refund_status",
                "title": "Refund status",
                "replies": 2,
                "conversations": 1,
                "csat_responses": 0,
                "csat": None,
                "csat_avg": None,
            }
        ]
    }
    later = {"from": "2999-01-01"}
    r = await running.client.get("/api/v1/reports/macros", params=later, headers=running.auth())
    assert r.json() == {"items": []}
    bad = await running.client.get(
        "/api/v1/reports/macros", params={"to": "soon"}, headers=running.auth()
    )
    assert bad.status_code == 422 and bad.json()["field"] == "to"
