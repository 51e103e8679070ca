"""An agent writes first (``POST /api/v1/conversations``), on both stores, with Twilio's
REST API as the double: SMS to a new number, WhatsApp needing a template, an
identity a customer already owns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hub.app import Hub, build_app
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.connectors.test_twilio import twilio_settings
from tests.connectors.twilio_kit import AGENT, OUR_NUMBER, PUBLIC, RestDouble
from tests.servers import serve
from tests.waiting import until

NEW = "+15551230077"


async def sent_to(rest: RestDouble, to: str) -> bool:
    return any(m.get("To") == to for m in rest.messages)


@dataclass
class Rig:
    hub: Hub
    api: httpx.AsyncClient
    rest: RestDouble


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Rig]:
    rest = RestDouble()
    number = {"number": OUR_NUMBER, "agents": [AGENT], "business_name": "Acme", "whatsapp": True}
    async with serve(rest.app()) as rest_url:
        settings = Settings(
            store=str(tmp_path / "unused.db"),
            blobs=str(tmp_path / "blobs"),
            public_url=PUBLIC,
            outbox=OutboxSettings(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05),
            connectors={"twilio": twilio_settings(rest_url, numbers=[number])},
        )
        app = build_app(settings, store=store)
        async with serve(app) as url:
            _, token = await issue_token(store, "tests")
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=url, headers=headers) as api:
                yield Rig(app.state.hub, api, rest)


async def test_an_sms_to_a_new_number_creates_the_customer_and_is_sent(rig: Rig) -> None:
    r = await rig.api.post(
        "/api/v1/conversations",
        json={
            "channel": "sms",
            "to": "+1 555 123 0077",
            "text": "Your repair is ready",
            "name": "Kim",
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["new_customer"] is True
    assert body["event"]["identity"] == f"phone:{NEW}"
    assert body["conversation"]["customer_id"] == body["customer_id"]
    customer = await rig.hub.store.find_customer(Identity("phone", NEW))
    assert customer is not None and customer.id == body["customer_id"] and customer.name == "Kim"
    await until(lambda: sent_to(rig.rest, NEW))
    (sent,) = [m for m in rig.rest.messages if m.get("To") == NEW]
    assert sent["Body"] == "Your repair is ready"


async def test_an_identity_a_customer_owns_is_used_never_merged(rig: Rig) -> None:
    store = rig.hub.store
    owner = await store.create_customer(
        name="Bo", identities=(Identity("phone", NEW), Identity("email", "bo@example.com"))
    )
    other = await store.create_customer(name="Bo too", identities=(Identity("email", "b@x.org"),))
    r = await rig.api.post(
        "/api/v1/conversations",
        json={"channel": "sms", "to": f"phone:{NEW}", "text": "Hello Bo", "name": "Someone else"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["customer_id"] == owner.id and r.json()["new_customer"] is False
    after = await store.get_customer(owner.id)
    assert after.name == "Bo" and after.merged_into is None
    assert sorted(map(str, after.identities)) == ["email:bo@example.com", f"phone:{NEW}"]
    assert (await store.get_customer(other.id)).merged_into is None


async def test_whatsapp_needs_a_template_to_write_first(rig: Rig) -> None:
    r = await rig.api.post(
        "/api/v1/conversations", json={"channel": "whatsapp", "to": NEW, "text": "Hi"}
    )
    assert r.status_code == 422 and r.json()["field"] == "template"
    assert await rig.hub.store.find_customer(Identity("phone", NEW)) is None  # nothing stored
    r = await rig.api.post(
        "/api/v1/conversations",
        json={
            "channel": "whatsapp",
            "to": NEW,
            "text": "Your order shipped",
            "template": "shipped",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["event"]["meta"]["template"] == "shipped"
    await until(lambda: sent_to(rig.rest, f"whatsapp:{NEW}"))


async def test_bad_input_names_the_field_and_a_retry_is_one_conversation(rig: Rig) -> None:
    cases = [
        ({"channel": "fax", "to": NEW, "text": "Hi"}, "channel"),
        ({"channel": "sms", "to": "email:a@b.co", "text": "Hi"}, "to"),
        ({"channel": "sms", "to": "not a number", "text": "Hi"}, "to"),
        ({"channel": "sms", "to": NEW, "text": "   "}, "text"),
        ({"channel": "sms", "to": NEW}, "text"),
    ]
    for body, field in cases:
        r = await rig.api.post("/api/v1/conversations", json=body)
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
    assert await rig.hub.store.find_customer(Identity("phone", NEW)) is None
    key = {"Idempotency-Key": "start-1"}
    body = {"channel": "sms", "to": NEW, "text": "Hi"}
    first = await rig.api.post("/api/v1/conversations", json=body, headers=key)
    again = await rig.api.post("/api/v1/conversations", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["conversation"]["id"] == again.json()["conversation"]["id"]
    assert first.json()["event"]["id"] == again.json()["event"]["id"]
    assert (
        await rig.api.post("/api/v1/conversations", json=body, headers={"Authorization": ""})
    ).status_code == 401
