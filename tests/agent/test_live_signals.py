"""What the agent view tells the chat widget: presence, typing and read receipts.

The hub runs in Starlette's TestClient with the chat connector on SQLite; an
agent signs in, opens the live socket (``/agent/live``) and a conversation page,
and a visitor's widget socket sees what a customer would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.agent.auth import create_agent
from hub.agent.presence import Presence
from hub.bus import Bus, Subscription, Topic
from hub.timeline.model import Agent, AgentRole
from tests.agent.kit import PASSWORD, csrf_of
from tests.connectors.chat.kit import ORIGIN, Chat, make_store, running

CHAT: dict[str, Any] = {"sites": {"default": {"origins": [ORIGIN]}}, "availability": "auto"}


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Chat]:
    store, _ = make_store("sqlite", tmp_path, None)
    with running(store, tmp_path, CHAT) as rig:
        assert rig.hub.agent_runtime is not None
        rig.hub.agent_runtime.presence.grace = 0  # offline as soon as the last page closes
        rig.call(
            create_agent,
            rig.hub.store,
            email="sam@example.com",
            name="Sam",
            password=PASSWORD,
            role=AgentRole.AGENT,
        )
        yield rig


def sign_in(chat: Chat) -> str:
    """Sign the TestClient in as Sam; the session's CSRF token."""
    form = chat.client.get("/agent/login")
    r = chat.client.post(
        "/agent/login",
        data={"email": "sam@example.com", "password": PASSWORD, "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return csrf_of(chat.client.get("/agent/").text)


def visitor_says(chat: Chat, ws: Any, text: str) -> tuple[dict[str, Any], str]:
    """Hello, then one message: (welcome, the message's conversation id)."""
    welcome, _ = chat.hello(ws)
    ws.send_json({"type": "message", "id": "c1", "text": text})
    frames = [ws.receive_json(), ws.receive_json()]
    assert sorted(f["type"] for f in frames) == ["ack", "event"]
    conversation = chat.timeline(welcome["visitor"])[0].conversation_id
    assert conversation is not None
    return welcome, conversation


def nothing_pending(ws: Any) -> None:
    """Nothing else was queued for the visitor before this round trip."""
    ws.send_json({"type": "ping"})
    assert ws.receive_json() == {"type": "pong"}


def test_the_visitor_sees_the_agent_come_online_type_read_and_leave(chat: Chat) -> None:
    with chat.connect() as visitor:
        welcome, conversation = visitor_says(chat, visitor, "Is anyone there?")
        assert welcome["online"] is False  # no agent page open: the widget offers email
        sign_in(chat)
        with chat.client.websocket_connect("/agent/live", headers={"origin": ORIGIN}) as agent:
            assert visitor.receive_json() == {"type": "presence", "online": True}
            with chat.connect() as other_tab:
                assert chat.hello(other_tab, token=welcome["token"])[0]["online"] is True

            agent.send_json(
                {
                    "type": "typing",
                    "conversation_id": conversation,
                    "channel": "chat",
                    "typing": True,
                }
            )
            assert visitor.receive_json() == {"type": "typing", "typing": True, "name": "Sam"}
            agent.send_json(  # still typing a while later: the widget keeps showing it
                {
                    "type": "typing",
                    "conversation_id": conversation,
                    "channel": "chat",
                    "typing": True,
                }
            )
            assert visitor.receive_json() == {"type": "typing", "typing": True, "name": "Sam"}
            agent.send_json({"type": "typing", "conversation_id": conversation, "typing": False})
            assert visitor.receive_json() == {"type": "typing", "typing": False, "name": "Sam"}
            # Writing an SMS to this customer is not typing in their chat.
            agent.send_json(
                {
                    "type": "typing",
                    "conversation_id": conversation,
                    "channel": "sms",
                    "typing": True,
                }
            )
            agent.send_json({"type": "typing", "conversation_id": "con_nope", "typing": True})
            agent.send_text("not json")
            nothing_pending(visitor)

            page = chat.client.get(f"/agent/conversations/{conversation}")
            assert page.status_code == 200 and "Is anyone there?" in page.text
            [said] = chat.timeline(welcome["visitor"])
            read = visitor.receive_json()
            assert read == {"type": "read", "up_to": said.id, "seq": said.seq, "name": "Sam"}
        assert visitor.receive_json() == {"type": "presence", "online": False}
    with chat.connect() as later:
        assert chat.hello(later, token=welcome["token"])[0]["online"] is False


def test_a_closing_agent_page_stops_its_typing(chat: Chat) -> None:
    with chat.connect() as visitor:
        _, conversation = visitor_says(chat, visitor, "Hello")
        sign_in(chat)
        with chat.client.websocket_connect("/agent/live", headers={"origin": ORIGIN}) as agent:
            assert visitor.receive_json()["type"] == "presence"
            agent.send_json(
                {
                    "type": "typing",
                    "conversation_id": conversation,
                    "channel": "chat",
                    "typing": True,
                }
            )
            assert visitor.receive_json()["typing"] is True
        frames = [visitor.receive_json(), visitor.receive_json()]
        assert {"type": "typing", "typing": False, "name": "Sam"} in frames
        assert {"type": "presence", "online": False} in frames


def test_the_read_mark_posted_by_the_page_reaches_the_widget(chat: Chat) -> None:
    with chat.connect() as visitor:
        welcome, conversation = visitor_says(chat, visitor, "First")
        csrf = sign_in(chat)
        [first] = chat.timeline(welcome["visitor"])
        r = chat.client.post(
            f"/agent/conversations/{conversation}/read",
            data={"seq": str(first.seq)},
            headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
        )
        assert r.status_code == 200, r.text
        assert visitor.receive_json() == {
            "type": "read",
            "up_to": first.id,
            "seq": first.seq,
            "name": "Sam",
        }
        refused = chat.client.post(f"/agent/conversations/{conversation}/read", data={"seq": "1"})
        assert refused.status_code in (401, 403)
        nothing_pending(visitor)


async def _next(sub: Subscription) -> Any:
    async with asyncio.timeout(5):
        return await sub.get()


async def test_presence_survives_moving_between_pages_within_the_grace() -> None:
    bus = Bus()
    sub = bus.subscribe(lambda m: m.topic == Topic.AGENT_PRESENCE)
    presence = Presence(bus, grace=3600, heartbeat=3600)
    sam = Agent(id="agt_sam", email="sam@example.com", name="Sam", password_hash="-")
    presence.opened(sam)
    assert (await _next(sub)).data == {"agent": "agt_sam", "name": "Sam", "online": True}
    presence.opened(sam)  # a second tab
    presence.closed(sam)
    presence.closed(sam)  # the inbox closes as the conversation page loads…
    presence.opened(sam)  # …and opens its socket within the grace
    assert presence.online == {"agt_sam"}
    presence.grace = 0
    presence.closed(sam)
    assert (await _next(sub)).data == {"agent": "agt_sam", "name": "Sam", "online": False}
    assert presence.online == set()
    sub.close()
