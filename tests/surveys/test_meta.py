"""Surveys on WhatsApp (an interactive list) and Messenger (quick replies): the Graph API
double receives the choices with the real body shapes; the customer's pick, arriving in a
signed webhook, is the answer and does not reopen the conversation."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.app import Hub, build_app
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import ConversationStatus, EventKind, Identity
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.connectors.meta.conftest import PUBLIC, meta_settings
from tests.connectors.meta.kit import (
    APP_SECRET,
    PAGE_ID,
    GraphDouble,
    entry,
    message,
    messaging,
    signature,
    wa_text,
    wa_value,
    whatsapp,
)
from tests.operations.kit import until
from tests.servers import serve

WA = "15551230009"
PSID = "2400000000000042"
SCORES = [f"survey:csat:{n}" for n in range(5, 0, -1)]


@dataclass
class Rig:
    hub: Hub
    client: httpx.AsyncClient
    api: httpx.AsyncClient
    graph: GraphDouble

    async def post(self, payload: dict[str, Any]) -> None:
        import json

        body = json.dumps(payload).encode()
        r = await self.client.post(
            "/connectors/meta/webhook",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": signature(body, APP_SECRET),
            },
        )
        assert r.status_code == 200, r.text

    async def conversation(self, identity: Identity) -> str:
        customer = await self.hub.store.find_customer(identity)
        assert customer is not None
        page = await self.hub.store.events(customer_id=customer.id)
        conv = page.items[0].conversation_id
        assert conv is not None
        return conv

    async def answer_and_resolve(self, conv: str) -> None:
        await self.hub.pipeline.send(conv, text="Sorted: it ships today.", author="Sam")
        r = await self.api.patch(f"/api/v1/conversations/{conv}", json={"status": "resolved"})
        assert r.status_code == 200, r.text

    async def answers(self, conv: str) -> list[object]:
        events = (await self.hub.store.events(conversation_id=conv, limit=100)).items
        return [e.meta["survey"] for e in events if "survey" in e.meta]


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Rig]:
    graph = GraphDouble()
    async with serve(graph.app()) as graph_url:
        settings = Settings(
            store=str(tmp_path / "unused.db"),
            blobs=str(tmp_path / "blobs"),
            public_url=PUBLIC,
            outbox=OutboxSettings(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05),
            surveys={"enabled": True},
            handoff={"business_name": "Acme"},
            connectors={"meta": meta_settings(graph_url)},
        )
        app = build_app(settings, store=store)
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            _, token = await issue_token(store, "tests")
            api = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"})
            async with api:
                yield Rig(app.state.hub, client, api, graph)


async def test_whatsapp_survey_is_a_list_and_the_pick_is_the_answer(rig: Rig) -> None:
    now = int(time.time())
    await rig.post(whatsapp(wa_value(messages=[wa_text(WA, "wamid.IN1", "Parcel?", ts=now)])))
    conv = await rig.conversation(Identity("phone", "+" + WA))
    await rig.answer_and_resolve(conv)
    await rig.graph.wait_sent(2)
    survey = rig.graph.sent[1].body
    assert survey["type"] == "interactive" and survey["to"] == WA
    listed = survey["interactive"]
    assert listed["type"] == "list" and listed["action"]["button"] == "Rate us"
    assert listed["body"]["text"].startswith("Acme: how did we do?")
    rows = listed["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == SCORES and rows[0]["title"] == "5 - great"

    pick = {
        "from": WA,
        "id": "wamid.IN2",
        "timestamp": str(now + 60),
        "type": "interactive",
        "interactive": {"type": "list_reply", "list_reply": {"id": SCORES[1], "title": "4 - good"}},
    }
    await rig.post(whatsapp(wa_value(messages=[pick])))

    async def answered() -> list[object]:
        return await rig.answers(conv)

    assert await until(answered) == [{"kind": "csat", "score": 4, "channel": "whatsapp"}]
    stored = await rig.hub.store.find_event("whatsapp", "wamid.IN2")
    assert stored is not None and stored.kind is EventKind.STATUS
    assert (await rig.hub.store.get_conversation(conv)).status is ConversationStatus.RESOLVED
    assert len(rig.graph.sent) == 2  # asked once


async def test_messenger_survey_has_quick_replies_and_the_tap_is_the_answer(rig: Rig) -> None:
    ms = int(time.time() * 1000)
    await rig.post(messaging("page", entry(PAGE_ID, message(PSID, "m_in1", "Hello", ms=ms))))
    conv = await rig.conversation(Identity("messenger", PSID))
    await rig.answer_and_resolve(conv)
    await rig.graph.wait_sent(2)
    survey = rig.graph.sent[1].body["message"]
    assert [q["payload"] for q in survey["quick_replies"]] == SCORES
    assert {q["content_type"] for q in survey["quick_replies"]} == {"text"}
    tap = message(PSID, "m_in2", "5 - great", ms=ms + 60_000, quick_reply={"payload": SCORES[0]})
    await rig.post(messaging("page", entry(PAGE_ID, tap)))

    async def answered() -> list[object]:
        return await rig.answers(conv)

    assert await until(answered) == [{"kind": "csat", "score": 5, "channel": "messenger"}]
    assert (await rig.hub.store.get_conversation(conv)).status is ConversationStatus.RESOLVED
