"""Typing, read receipts, presence and the offline email claim, uploads, ``/widget.js``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.bus import BusMessage, Subscription, Topic
from hub.timeline.model import DeliveryStatus, Event, EventKind, Identity
from tests.connectors.chat.conftest import DEFAULT_CHAT
from tests.connectors.chat.kit import ORIGIN, Chat
from tests.waiting import until

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)


@pytest.fixture
def chat_settings() -> dict[str, Any]:
    return {**DEFAULT_CHAT, "availability": "auto", "upload_max_bytes": 4096}


async def _next(sub: Subscription) -> Any:
    async with asyncio.timeout(5):
        return await sub.get()


def _started(chat: Chat, ws: Any) -> dict[str, Any]:
    welcome, _ = chat.hello(ws)
    ws.send_json({"type": "message", "id": "c1", "text": "hello"})
    ws.receive_json()
    ws.receive_json()
    return welcome


def test_typing_goes_both_ways_and_the_agent_read_receipt_arrives(chat: Chat) -> None:
    sub = chat.call(
        chat.hub.bus.subscribe,
        lambda m: m.topic == Topic.TYPING and m.data.get("from") == "customer",
    )
    with chat.connect() as ws:
        welcome = _started(chat, ws)
        ws.send_json({"type": "typing", "typing": True})
        seen = chat.call(_next, sub)
        assert seen.data["from"] == "customer" and seen.data["typing"] is True
        customer_id = seen.customer_id
        assert chat.timeline(welcome["visitor"])[0].customer_id == customer_id
        data = {"from": "agent", "typing": True, "name": "Sam"}
        chat.call(chat.hub.bus.publish, BusMessage(Topic.TYPING, customer_id, data=data))
        assert ws.receive_json() == {"type": "typing", "typing": True, "name": "Sam"}
        last = chat.timeline(welcome["visitor"])[-1].id
        data = {"agent": "sam", "name": "Sam", "up_to": last}
        chat.call(chat.hub.bus.publish, BusMessage(Topic.READ, customer_id, data=data))
        assert ws.receive_json() == {"type": "read", "up_to": last, "name": "Sam"}
        other = {"from": "agent", "typing": True, "name": "Sam"}
        chat.call(chat.hub.bus.publish, BusMessage(Topic.TYPING, "cus_someone_else", data=other))
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}  # nothing about another customer
    stopped = chat.call(_next, sub)  # closing the socket ends the visitor's typing
    assert stopped.data["typing"] is False
    sub.close()


def test_offline_offers_email_and_keeps_it_as_an_unverified_claim(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome = _started(chat, ws)
        assert welcome["online"] is False
        ws.send_json({"type": "offline_email", "id": "e1", "email": "not an email"})
        assert ws.receive_json()["code"] == "bad_email"
        ws.send_json({"type": "offline_email", "id": "e2", "email": "Ana@Example.com"})
        assert ws.receive_json() == {"type": "ack", "id": "e2", "duplicate": False}
        presence = {"agent": "sam", "online": True}
        chat.call(chat.hub.bus.publish, BusMessage(Topic.AGENT_PRESENCE, "", data=presence))
        assert ws.receive_json() == {"type": "presence", "online": True}
        presence = {"agent": "sam", "online": False}
        chat.call(chat.hub.bus.publish, BusMessage(Topic.AGENT_PRESENCE, "", data=presence))
        assert ws.receive_json() == {"type": "presence", "online": False}
    claim = [e for e in chat.timeline(welcome["visitor"]) if e.kind is EventKind.STATUS]
    assert len(claim) == 1
    assert claim[0].meta["claimed_email"] == "ana@example.com"
    assert claim[0].meta["verified"] is False
    email_owner = chat.call(chat.hub.store.find_customer, Identity("email", "ana@example.com"))
    assert email_owner is None  # a claim links nothing
    with chat.connect() as ws:
        _, history = chat.hello(ws, token=welcome["token"])
    assert [e["text"] for e in history["events"]] == ["hello"]  # the claim is not a message


def _upload(chat: Chat, token: str, data: bytes, name: str, kind: str, **headers: str) -> Any:
    return chat.client.post(
        "/connectors/chat/uploads?site=default",
        files={"file": (name, data, kind)},
        data={"token": token},
        headers={"origin": ORIGIN, **headers},
    )


def test_an_uploaded_image_is_sent_by_reference_and_served_back(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome, _ = chat.hello(ws)
        response = _upload(chat, welcome["token"], PNG, "../../etc/photo.png", "image/png")
        assert response.status_code == 201, response.text
        assert response.headers["access-control-allow-origin"] == ORIGIN
        ref = response.json()["ref"]
        ws.send_json({"type": "message", "id": "p1", "attachments": [ref]})
        ack = ws.receive_json()
    [attachment] = ack["event"]["attachments"]
    assert attachment["name"] == "photo.png" and attachment["image"] is True
    assert attachment["type"] == "image/png" and attachment["size"] == len(PNG)
    served = chat.client.get(attachment["url"])
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    assert chat.client.get(attachment["url"][:-3] + "xyz").status_code == 404


def test_uploads_are_limited_by_size_type_visitor_and_origin(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome, _ = chat.hello(ws)
        too_big = _upload(chat, welcome["token"], PNG + bytes(5000), "big.png", "image/png")
        assert too_big.status_code == 413
        fake = _upload(chat, welcome["token"], b"MZ\x90\x00 binary", "cat.png", "image/png")
        assert fake.status_code == 415
        html = _upload(chat, welcome["token"], b"<html><script>x</script>", "a.html", "text/html")
        assert html.status_code == 415
        text = _upload(chat, welcome["token"], b"order 1042\n", "notes.txt", "text/plain")
        assert text.status_code == 201
        assert _upload(chat, "forged", PNG, "a.png", "image/png").status_code == 401
        evil = _upload(
            chat, welcome["token"], PNG, "a.png", "image/png", origin="https://evil.test"
        )
        assert evil.status_code == 403
    with chat.connect() as ws:  # another visitor cannot use that upload
        chat.hello(ws)
        ws.send_json({"type": "message", "id": "x", "attachments": [text.json()["ref"]]})
        error = ws.receive_json()
    assert error["code"] == "bad_attachment" and error["id"] == "x"


def test_an_agent_reply_is_delivered_when_the_visitor_is_connected(chat: Chat) -> None:
    sub = chat.call(chat.hub.bus.subscribe, lambda m: m.topic == Topic.EVENT_UPDATED)
    with chat.connect() as ws:
        welcome = _started(chat, ws)
        conversation = chat.timeline(welcome["visitor"])[0].conversation_id
        assert conversation is not None
        queued = chat.reply(conversation, "on its way")
        assert ws.receive_json()["event"]["id"] == queued["id"]

        async def settled() -> DeliveryStatus:
            while True:
                message = await _next(sub)
                event = message.event
                if event.id == queued["id"] and event.delivery.status.final:
                    return DeliveryStatus(event.delivery.status)

        assert chat.call(settled) is DeliveryStatus.DELIVERED
    sub.close()


def test_a_reply_a_reconnecting_widget_catches_up_on_is_delivered(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome, _ = chat.hello(ws)
        ws.send_json({"type": "message", "id": "c1", "text": "hello"})
        frames = [ws.receive_json(), ws.receive_json()]  # the ack and the live event
    [cursor] = [f["cursor"] for f in frames if f["type"] == "event"]
    conversation = chat.timeline(welcome["visitor"])[0].conversation_id
    assert conversation is not None
    queued = chat.reply(conversation, "while you were away")

    def status() -> DeliveryStatus | None:
        event = chat.call(chat.hub.store.get_event, queued["id"])
        return event.delivery.status if event.delivery else None

    async def settles(wanted: DeliveryStatus) -> None:
        async def reached() -> bool:
            event = await chat.hub.store.get_event(queued["id"])
            return event.delivery is not None and event.delivery.status is wanted

        await until(reached, within=10)

    chat.call(settles, DeliveryStatus.SENT)  # nobody was connected
    with chat.connect() as ws:  # the same page reconnects after a network blip
        _, events = chat.hello(ws, token=welcome["token"], cursor=cursor)
        assert [e["text"] for e in events["events"]] == ["while you were away"]
        chat.call(settles, DeliveryStatus.DELIVERED)
    assert status() is DeliveryStatus.DELIVERED


def test_a_reply_another_instance_recorded_sent_is_delivered_to_a_live_widget_here(
    chat: Chat,
) -> None:
    with chat.connect() as ws:
        welcome = _started(chat, ws)
    conversation = chat.timeline(welcome["visitor"])[0].conversation_id
    assert conversation is not None
    queued = chat.reply(conversation, "sent by the other instance")

    async def reaches(wanted: DeliveryStatus) -> Event:
        async def reached() -> bool:
            event = await chat.hub.store.get_event(queued["id"])
            return event.delivery is not None and event.delivery.status is wanted

        await until(reached, within=10)
        return await chat.hub.store.get_event(queued["id"])

    sent = chat.call(reaches, DeliveryStatus.SENT)  # nobody was connected to this instance
    with chat.connect() as ws:
        chat.hello(ws, token=welcome["token"])  # the widget is live here now
        # what the bus brings from the instance whose outbox recorded `sent`
        update = BusMessage(Topic.EVENT_UPDATED, sent.customer_id, event=sent)
        chat.call(chat.hub.bus.publish, update)
        chat.call(reaches, DeliveryStatus.DELIVERED)


def test_widget_js_is_served_with_caching_headers_and_the_demo_embeds_it(chat: Chat) -> None:
    first = chat.client.get("/widget.js")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/javascript")
    assert "max-age=" in first.headers["cache-control"]
    assert "attachShadow" in first.text
    again = chat.client.get("/widget.js", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    demo = chat.client.get("/demo")
    assert demo.status_code == 200
    assert '<script src="/widget.js" data-site="default"' in demo.text
    assert "&lt;script src=&quot;http://testserver/widget.js&quot;" in demo.text
