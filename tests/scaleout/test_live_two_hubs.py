"""Two real ``omnihub serve`` processes on one FerretDB are one live hub: what happens
on one reaches the widgets and agent pages connected to the other."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hub.agent.auth import create_agent
from hub.timeline.model import AgentRole, DeliveryStatus, Identity
from hub.timeline.mongo import MongoStore
from hub.timeline.store import InboxFilter
from hub.tokens import issue_token
from tests.agent.kit import PASSWORD, csrf_of
from tests.hubs import run_hubs
from tests.scaleout.live import (
    API_SECRET,
    WAIT,
    agent_live,
    agent_session,
    frame_where,
    push,
    widget,
)
from tests.scaleout.test_two_hubs import _with_database

pytestmark = pytest.mark.mongo

AGENT = "sam@example.com"


@dataclass
class Shared:
    """One FerretDB database the hubs share, the environment that points them at it,
    an API token and an agent."""

    store: MongoStore
    env: dict[str, str]
    token: str


@pytest.fixture
async def shared(mongo_uri: str, tmp_path: Path) -> AsyncIterator[Shared]:
    name = f"omnihub_live_{uuid.uuid4().hex[:10]}"
    store = MongoStore(mongo_uri, database=name)
    await store.open()
    _, token = await issue_token(store, "scaleout")
    await create_agent(store, email=AGENT, name="Sam", password=PASSWORD, role=AgentRole.AGENT)
    env = {
        "OMNIHUB_STORE": _with_database(mongo_uri, name),
        "OMNIHUB_BLOBS": str(tmp_path / "blobs"),
        "OMNIHUB_SECRET_KEY": "scaleout-secret-key-0123456789abcdef",
        "OMNIHUB_ENABLED_CONNECTORS": '["api", "chat"]',
        "OMNIHUB_CONNECTORS__API__SECRET": API_SECRET,
        "OMNIHUB_AGENT__PRESENCE_GRACE_SECONDS": "0",
        # Long enough that only shared state, not a heartbeat, can tell B about A.
        "OMNIHUB_AGENT__PRESENCE_HEARTBEAT_SECONDS": "600",
        "OMNIHUB_LOG_LEVEL": "warning",
    }
    yield Shared(store, env, token)
    await store.drop_database()
    await store.close()


async def conversation_of(store: MongoStore, visitor: str) -> str:
    customer = await store.find_customer(Identity("chat", visitor))
    assert customer is not None
    convs = await store.list_conversations(InboxFilter(status=(), customer_id=customer.id))
    assert len(convs.items) == 1
    return convs.items[0].id


async def test_a_widget_on_a_receives_an_agent_reply_sent_through_b(
    shared: Shared, tmp_path: Path
) -> None:
    async with run_hubs(2, tmp_path, shared.env) as (a, b), widget(a) as visitor:
        await visitor.say("c1", "Is my order on its way?")
        conversation_id = await conversation_of(shared.store, visitor.visitor)
        async with httpx.AsyncClient(base_url=b.url, timeout=WAIT) as api:
            r = await api.post(
                f"/api/v1/conversations/{conversation_id}/reply",
                json={"text": "It left the warehouse today.", "channel": "chat"},
                headers={"Authorization": f"Bearer {shared.token}"},
            )
        assert r.status_code == 202, r.text
        frame = await frame_where(
            visitor.ws, lambda f: f["type"] == "event" and f["event"]["direction"] == "out"
        )
        assert frame["event"]["text"] == "It left the warehouse today."
        assert frame["event"]["id"] == r.json()["id"]


async def test_the_agent_inbox_on_a_updates_on_inbound_through_b(
    shared: Shared, tmp_path: Path
) -> None:
    async with (
        run_hubs(2, tmp_path, shared.env) as (a, b),
        agent_session(a, AGENT) as browser,
        agent_live(a, browser) as live,
    ):
        result = await push(b, {"id": "m1", "from": "email:ana@example.com", "text": "Hello?"})
        frame = await frame_where(
            live,
            lambda f: f.get("topic") == "event.created" and f.get("event_id") == result["event_id"],
        )
        assert frame["conversation_id"] == result["conversation_id"]
        inbox = await browser.get("/agent/")
        assert "Hello?" in inbox.text


async def test_chat_delivery_reaches_delivered_whichever_hub_holds_the_widget(
    shared: Shared, tmp_path: Path
) -> None:
    async with run_hubs(2, tmp_path, shared.env) as (a, b), widget(a) as visitor:
        await visitor.say("c1", "Anyone there?")
        conversation_id = await conversation_of(shared.store, visitor.visitor)
        async with httpx.AsyncClient(base_url=b.url, timeout=WAIT) as api:
            ids = []
            for n in range(6):  # either outbox may send each one
                r = await api.post(
                    f"/api/v1/conversations/{conversation_id}/reply",
                    json={"text": f"reply {n}", "channel": "chat"},
                    headers={"Authorization": f"Bearer {shared.token}"},
                )
                assert r.status_code == 202, r.text
                ids.append(r.json()["id"])

        async def delivered() -> bool:
            events = [await shared.store.get_event(i) for i in ids]
            return all(e.delivery and e.delivery.status is DeliveryStatus.DELIVERED for e in events)

        await wait_for(delivered)


async def test_a_widget_on_b_sees_an_agent_online_on_a_that_came_online_before_b_started(
    shared: Shared, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        run_hubs(1, tmp_path / "a", shared.env) as (a,),
        agent_session(a, AGENT) as browser,
        agent_live(a, browser),
        run_hubs(1, tmp_path / "b", shared.env) as (b,),
        widget(b) as visitor,
    ):
        assert visitor.welcome["online"] is True
    # The agent page closed on A: a widget on B that connects now says offline.
    async with run_hubs(1, tmp_path / "b", shared.env) as (b,), widget(b) as later:
        assert later.welcome["online"] is False


async def wait_for(check: Callable[[], Awaitable[bool]], within: float = WAIT) -> None:
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(0.2)


async def test_an_agent_typing_on_a_shows_in_a_widget_on_b(shared: Shared, tmp_path: Path) -> None:
    async with (
        run_hubs(2, tmp_path, shared.env) as (a, b),
        widget(b) as visitor,
        agent_session(a, AGENT) as browser,
        agent_live(a, browser) as live,
    ):
        await visitor.say("c1", "Hello?")
        conversation_id = await conversation_of(shared.store, visitor.visitor)
        typing = {"type": "typing", "conversation_id": conversation_id, "channel": "chat"}
        await live.send(json.dumps({**typing, "typing": True}))
        shown = await frame_where(visitor.ws, lambda f: f["type"] == "typing")
        assert shown == {"type": "typing", "typing": True, "name": "Sam"}
        await live.send(json.dumps({**typing, "typing": False}))
        await frame_where(visitor.ws, lambda f: f["type"] == "typing" and not f["typing"])


async def test_an_agent_whose_hub_dies_goes_offline_in_widgets_on_the_other(
    shared: Shared, tmp_path: Path
) -> None:
    env = {
        **shared.env,
        "OMNIHUB_AGENT__PRESENCE_HEARTBEAT_SECONDS": "1",
        "OMNIHUB_CONNECTORS__CHAT__PRESENCE_TTL_SECONDS": "3",
    }
    async with (
        run_hubs(2, tmp_path, env) as (a, b),
        agent_session(a, AGENT) as browser,
        agent_live(a, browser),
        widget(b) as visitor,
    ):
        if not visitor.welcome["online"]:
            await frame_where(visitor.ws, lambda f: f == {"type": "presence", "online": True})
        a.process.kill()  # no goodbye: only expiry can tell
        await frame_where(visitor.ws, lambda f: f == {"type": "presence", "online": False})


async def test_failed_sign_ins_count_across_hubs(shared: Shared, tmp_path: Path) -> None:
    env = {**shared.env, "OMNIHUB_SECURITY__SIGN_IN_BACKOFF_SECONDS": "600"}
    async with run_hubs(2, tmp_path, env) as hubs:

        async def sign_in(n: int, password: str) -> int:
            async with httpx.AsyncClient(base_url=hubs[n % 2].url, timeout=WAIT) as client:
                page = await client.get("/agent/login")
                form = {"email": AGENT, "password": password, "csrf": csrf_of(page.text)}
                return (await client.post("/agent/login", data=form)).status_code

        # Five wrong guesses, alternating: neither hub alone has seen five.
        assert [await sign_in(n, "wrong password!") for n in range(5)] == [401] * 5
        assert await sign_in(5, PASSWORD) == 429  # locked everywhere, even the right one
        assert await sign_in(6, PASSWORD) == 429
