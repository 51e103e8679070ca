"""The inbox, the conversation view, actions and permissions, and the live socket, over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from hub.timeline.model import Identity
from hub.timeline.store import ConversationUpdate, TimelineStore
from tests.agent.kit import Running, hub_for_agents

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
async def running(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Running]:
    async with hub_for_agents(store, tmp_path) as r:
        yield r


async def test_inbox_lists_conversations_with_unread_counts(running: Running) -> None:
    await running.agent("ana@example.com")
    first = await running.push("m-1", text="Where is my order?", name="Ana Lima")
    await running.push("m-2", text="Hello?", name="Ana Lima")
    async with running.signed_in("ana@example.com") as ana:
        inbox = await ana.client.get("/agent/")
        assert "Ana Lima" in inbox.text and "Hello?" in inbox.text
        assert 'data-unread="2"' in inbox.text
        page = await ana.client.get(f"/agent/conversations/{first['conversation_id']}")
        assert page.status_code == 200 and "Where is my order?" in page.text
        rows = await ana.client.get("/agent/fragments/inbox")
        assert 'data-unread="0"' in rows.text
        mine = await ana.client.get("/agent/fragments/inbox?view=mine")
        assert "Ana Lima" not in mine.text


async def test_outside_content_renders_as_text(running: Running) -> None:
    await running.agent("ana@example.com")
    created = await running.push("m-1", text=XSS, name=XSS, subject=XSS, html=XSS)
    async with running.signed_in("ana@example.com") as ana:
        for path in ("/agent/", f"/agent/conversations/{created['conversation_id']}"):
            html = (await ana.client.get(path)).text
            assert "<script>alert" not in html and "<img src=x" not in html
            assert "&lt;script&gt;alert(" in html
        # The HTML body goes only into a sandboxed iframe's srcdoc, escaped.
        assert 'sandbox=""' in html and "srcdoc=" in html


async def test_reply_queues_on_the_channel_and_the_view_shows_it(running: Running) -> None:
    await running.agent("ana@example.com", name="Ana Agent")
    created = await running.push("m-1", text="Hi")
    conv = created["conversation_id"]
    async with running.signed_in("ana@example.com") as ana:
        page = await ana.client.get(f"/agent/conversations/{conv}")
        assert 'value="api"' in page.text  # the channel the customer used, offered first
        r = await ana.post(
            f"/agent/conversations/{conv}/reply",
            {"text": "On its way", "channel": "api", "idempotency_key": "k1"},
        )
        assert r.status_code == 202, r.text
        event = r.json()["event"]
        again = await ana.post(
            f"/agent/conversations/{conv}/reply",
            {"text": "On its way", "channel": "api", "idempotency_key": "k1"},
        )
        assert again.json()["event"]["id"] == event["id"]  # a double submit sends once
        assert event["author"] == "Ana Agent" and event["delivery"]["status"] == "queued"
        fragment = await ana.client.get(f"/agent/fragments/events/{event['id']}")
        assert "On its way" in fragment.json()["html"]
        too_long = await ana.post(
            f"/agent/conversations/{conv}/reply", {"text": "x" * 5000, "channel": "sms"}
        )
        assert too_long.status_code == 422 and too_long.json()["field"] == "channel"


async def test_canned_reply_with_unfilled_placeholders_is_refused(running: Running) -> None:
    await running.agent("ana@example.com")
    conv = (await running.push("m-1", text="Hi"))["conversation_id"]
    async with running.signed_in("ana@example.com") as ana:
        r = await ana.post(
            f"/agent/conversations/{conv}/reply",
            {"text": "Your order {{order number}} shipped", "canned": "1"},
        )
        assert r.status_code == 422 and "order number" in r.json()["error"]


async def test_actions_and_permissions(running: Running) -> None:
    ana = await running.agent("ana@example.com")
    await running.agent("bob@example.com")
    await running.agent("root@example.com", admin=True)
    conv = (await running.push("m-1", text="Hi"))["conversation_id"]
    async with (
        running.signed_in("ana@example.com") as a,
        running.signed_in("bob@example.com") as b,
        running.signed_in("root@example.com") as root,
    ):
        r = await a.post(f"/agent/conversations/{conv}/update", {"op": "assign", "assignee": "me"})
        assert r.status_code == 200 and r.json()["conversation"]["assignee"] == ana.id
        r = await a.post(
            f"/agent/conversations/{conv}/update", {"op": "priority", "priority": "high"}
        )
        assert r.json()["conversation"]["priority"] == "high"
        r = await a.post(f"/agent/conversations/{conv}/update", {"op": "snooze", "hours": "4"})
        assert r.json()["conversation"]["status"] == "snoozed"
        assert r.json()["conversation"]["snoozed_until"]
        bad = await a.post(f"/agent/conversations/{conv}/update", {"op": "status", "status": "x"})
        assert bad.status_code == 422

        # Bob may read and add notes, not reply or change Ana's conversation.
        assert (await b.client.get(f"/agent/conversations/{conv}")).status_code == 200
        denied = await b.post(
            f"/agent/conversations/{conv}/reply", {"text": "hi", "channel": "api"}
        )
        assert denied.status_code == 403
        denied = await b.post(
            f"/agent/conversations/{conv}/update", {"op": "status", "status": "resolved"}
        )
        assert denied.status_code == 403
        assert (
            await b.post(f"/agent/conversations/{conv}/notes", {"text": "fyi"})
        ).status_code == 201
        assert (await b.client.get("/agent/admin/agents")).status_code == 403
        customer_id = (await running.hub.store.get_conversation(conv)).customer_id
        merge = await b.post(
            f"/agent/customers/{customer_id}/merge", {"identity": "email:other@example.com"}
        )
        assert merge.status_code == 403

        # An admin may.
        r = await root.post(
            f"/agent/conversations/{conv}/update", {"op": "status", "status": "resolved"}
        )
        assert r.status_code == 200 and r.json()["conversation"]["status"] == "resolved"
        assert (await root.client.get("/agent/admin/agents")).status_code == 200


async def test_admin_merges_and_unmerges_customers(running: Running) -> None:
    await running.agent("root@example.com", admin=True)
    one = await running.push("m-1", text="Hi", **{"from": "email:ana@example.com"})
    two = await running.push("m-2", text="Me again", **{"from": "phone:+15551230001"})
    async with running.signed_in("root@example.com") as root:
        r = await root.post(
            f"/agent/customers/{one['customer_id']}/merge",
            {"identity": "phone:+15551230001", "reason": "same person"},
        )
        assert r.status_code == 200, r.text
        found = await running.hub.store.find_customer(Identity("phone", "+15551230001"))
        assert found is not None and found.id == one["customer_id"]
        page = await root.client.get(f"/agent/conversations/{one['conversation_id']}")
        assert "Me again" in page.text and "Undo this merge" in page.text
        r = await root.post(f"/agent/customers/{two['customer_id']}/unmerge")
        assert r.status_code == 200
        found = await running.hub.store.find_customer(Identity("phone", "+15551230001"))
        assert found is not None and found.id == two["customer_id"]


async def test_earlier_history_pages_by_cursor(running: Running) -> None:
    await running.agent("ana@example.com")
    for i in range(60):
        created = await running.push(f"m-{i}", text=f"message number {i}")
    async with running.signed_in("ana@example.com") as ana:
        page = await ana.client.get(f"/agent/conversations/{created['conversation_id']}")
        assert "message number 59" in page.text and "message number 5<" not in page.text
        cursor = page.text.split('data-cursor="')[1].split('"')[0]
        older = await ana.client.get(
            f"/agent/fragments/customers/{created['customer_id']}/events",
            params={"cursor": cursor, "direction": "older"},
        )
        body = older.json()
        assert "message number 0<" in body["html"] and body["older"] is None
        bad = await ana.client.get(
            f"/agent/fragments/customers/{created['customer_id']}/events", params={"cursor": "x"}
        )
        assert bad.status_code == 400


async def test_live_socket_needs_a_session_and_pushes_changes(running: Running) -> None:
    await running.agent("ana@example.com")
    ws_url = running.url.replace("http", "ws") + "/agent/live"
    with pytest.raises(InvalidStatus):
        async with connect(ws_url):
            pass
    async with running.signed_in("ana@example.com") as ana:
        cookie = "; ".join(f"{k}={v}" for k, v in ana.client.cookies.items())
        host = running.url.removeprefix("http://")
        with pytest.raises(InvalidStatus):  # another site's page cannot open it
            async with connect(
                ws_url,
                additional_headers={"Cookie": cookie},
                origin="http://evil.example",  # type: ignore[arg-type]
            ):
                pass
        async with connect(
            ws_url,
            additional_headers={"Cookie": cookie},
            origin=f"http://{host}",  # type: ignore[arg-type]
        ) as ws:
            created = await running.push("m-1", text="Live!")
            seen: list[dict[str, str]] = []
            async with asyncio.timeout(5):
                while not any(m["topic"] == "conversation.updated" for m in seen):
                    seen.append(json.loads(await ws.recv()))
            [event] = [m for m in seen if m["topic"] == "event.created"]
            assert event["event_id"] == created["event_id"]
            assert event["conversation_id"] == created["conversation_id"]


async def test_labels_keep_the_team_and_tier_tags_and_name_a_bad_label(running: Running) -> None:
    await running.agent("ana@example.com")
    conv = (await running.push("m-1", text="Hi"))["conversation_id"]
    await running.hub.store.update_conversation(conv, ConversationUpdate(tags=["team:billing"]))
    async with running.signed_in("ana@example.com") as ana:
        url = f"/agent/conversations/{conv}/update"
        r = await ana.post(url, {"op": "labels", "labels": "refund, vip"})
        assert r.status_code == 200, r.text
        assert r.json()["conversation"]["tags"] == ["team:billing", "refund", "vip"]
        bad = await ana.post(url, {"op": "labels", "labels": "<b>x</b>"})
        assert bad.status_code == 422 and bad.json()["field"] == "labels"


async def test_search_page_scopes_to_a_customer_and_names_bad_input(running: Running) -> None:
    await running.agent("ana@example.com")
    pushed = await running.push("m-1", text="My locker code is wrong")
    event = await running.hub.store.get_event(pushed["event_id"])
    async with running.signed_in("ana@example.com") as ana:
        scoped = await ana.client.get("/agent/search", params={"customer": event.customer_id})
        assert scoped.status_code == 200 and "Only Ana's history" in scoped.text
        found = await ana.client.get(
            "/agent/search", params={"q": "locker", "customer": event.customer_id}
        )
        assert f"?at={event.id}#ev-{event.id}" in found.text
        assert "<mark>locker</mark>" in found.text
        bad = await ana.client.get("/agent/search", params={"q": "locker", "from": "soon"})
        assert 'role="alert"' in bad.text and 'aria-invalid="true"' in bad.text
