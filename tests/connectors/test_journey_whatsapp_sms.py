"""Journey: a customer writes on WhatsApp, then texts from the same phone.

Both arrive through the real webhooks — Meta's signed with the app secret,
Twilio's signed with the auth token over the public URL — into one running hub.
The phone number is the identity both channels share, so the hub keeps one
customer and one timeline, and an agent can answer on either channel.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.app import Hub, build_app
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import Direction, Event, Identity
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.buswatch import BusWatch
from tests.connectors.meta.conftest import meta_settings
from tests.connectors.meta.kit import (
    PHONE_NUMBER_ID,
    GraphDouble,
    signature,
    wa_text,
    wa_value,
    whatsapp,
)
from tests.connectors.twilio_kit import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OUR_NUMBER,
    PUBLIC,
    RestDouble,
    TwilioSide,
)
from tests.servers import serve

ANA_WA = "14155550100"
ANA = Identity("phone", "+14155550100")


@dataclass
class Journey(BusWatch):
    client: httpx.AsyncClient
    api: httpx.AsyncClient
    twilio: TwilioSide
    graph: GraphDouble
    rest: RestDouble

    async def whatsapp(self, payload: dict[str, Any]) -> httpx.Response:
        body = json.dumps(payload).encode()
        return await self.client.post(
            "/connectors/meta/webhook",
            content=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature(body)},
        )

    async def reply(self, conversation_id: str, channel: str, text: str) -> Event:
        r = await self.api.post(
            f"/api/v1/conversations/{conversation_id}/reply",
            json={"text": text, "channel": channel},
        )
        assert r.status_code == 202, r.text
        event_id = r.json()["id"]
        return await self.settled(event_id)


@pytest.fixture
async def journey(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Journey]:
    graph, rest = GraphDouble(), RestDouble()
    async with serve(graph.app()) as graph_url, serve(rest.app()) as rest_url:
        settings = Settings(
            store=str(tmp_path / "unused.db"),
            blobs=str(tmp_path / "blobs"),
            public_url=PUBLIC,
            outbox=OutboxSettings(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05),
            connectors={
                "meta": meta_settings(graph_url),
                "twilio": {
                    "account_sid": ACCOUNT_SID,
                    "auth_token": AUTH_TOKEN,
                    "numbers": [{"number": OUR_NUMBER, "business_name": "Acme"}],
                    "api_base_url": rest_url,
                },
            },
        )
        app = build_app(settings, store=store)
        hub: Hub = app.state.hub
        assert {"meta", "twilio"} <= set(hub.connectors)
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/healthz")).status_code == 200
            _, token = await issue_token(store, "tests")
            api = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"})
            journey = Journey(hub, client, api, TwilioSide(url, client), graph, rest)
            async with api, journey.watching():
                yield journey


async def test_whatsapp_then_sms_from_the_same_phone_is_one_customer_one_timeline(
    journey: Journey,
) -> None:
    now = int(datetime.now(UTC).timestamp())
    written = whatsapp(
        wa_value(
            contacts=((ANA_WA, "Ana García"),),
            messages=[wa_text(ANA_WA, "wamid.IN1", "My order 1234 hasn't arrived", ts=now)],
        )
    )
    assert (await journey.whatsapp(written)).status_code == 200
    r = await journey.twilio.sms("SM" + "a1" * 16, "It's Ana again, texting now", sender=ANA.value)
    assert r.status_code == 200, r.text

    customer = await journey.hub.store.find_customer(ANA)
    assert customer is not None and customer.name == "Ana García"
    assert customer.identities == [ANA]
    page = await journey.api.get(f"/api/v1/customers/{customer.id}/timeline")
    timeline = page.json()["items"]
    messages = [e for e in timeline if e["kind"] == "message"]
    assert [(e["channel"], e["direction"], e["text"]) for e in messages] == [
        ("whatsapp", "in", "My order 1234 hasn't arrived"),
        ("sms", "in", "It's Ana again, texting now"),
    ]
    assert {e["customer_id"] for e in timeline} == {customer.id}

    # The agent answers on either channel, to the same phone.
    whatsapp_conv = messages[0]["conversation_id"]
    sms_conv = messages[1]["conversation_id"]
    options = (await journey.api.get(f"/api/v1/conversations/{sms_conv}/reply-options")).json()[
        "items"
    ]
    reachable = {o["channel"]: o["to"] for o in options if o["available"]}
    assert reachable["whatsapp"] == reachable["sms"] == str(ANA)

    on_whatsapp = await journey.reply(whatsapp_conv, "whatsapp", "Checking order 1234 now")
    on_sms = await journey.reply(sms_conv, "sms", "Found it: arriving tomorrow")
    assert on_whatsapp.delivery is not None and on_whatsapp.delivery.error is None
    assert on_sms.delivery is not None and on_sms.delivery.error is None
    [wa_call] = journey.graph.sent
    assert wa_call.path.endswith(f"/{PHONE_NUMBER_ID}/messages") and wa_call.body["to"] == ANA_WA
    [sms_call] = journey.rest.messages
    assert sms_call["To"] == ANA.value and sms_call["Body"] == "Found it: arriving tomorrow"
    events = (await journey.hub.store.events(customer_id=customer.id, limit=50)).items
    assert [(e.channel, e.direction) for e in events if e.kind == "message"] == [
        ("whatsapp", Direction.IN),
        ("sms", Direction.IN),
        ("whatsapp", Direction.OUT),
        ("sms", Direction.OUT),
    ]
