"""The widget protocol over a real websocket session: acks, resends, reconnects."""

from __future__ import annotations

from hub.connectors.base import InboundMessage
from hub.timeline.model import Direction, Identity
from tests.connectors.chat.kit import Chat


def test_hello_gives_a_new_visitor_a_token_and_empty_history(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome, events = chat.hello(ws)
    assert welcome["visitor"].startswith("v_") and welcome["token"]
    assert welcome["online"] is True and welcome["identified"] is False
    assert events == {"type": "events", "events": [], "cursor": None, "reset": True}


def test_a_message_is_acked_with_its_event_and_lands_on_the_timeline(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome, _ = chat.hello(ws)
        ws.send_json({"type": "message", "id": "c1", "text": "  Hi, where is my order?  "})
        ack = ws.receive_json()
        live = ws.receive_json()
    assert ack["type"] == "ack" and ack["id"] == "c1" and ack["duplicate"] is False
    assert ack["event"]["text"] == "Hi, where is my order?"
    assert ack["event"]["client_id"] == "c1" and ack["event"]["direction"] == "in"
    assert live["type"] == "event" and live["event"]["id"] == ack["event"]["id"]
    [stored] = chat.timeline(welcome["visitor"])
    assert stored.id == ack["event"]["id"] and stored.channel == "chat"
    assert stored.identity == Identity("chat", welcome["visitor"])


def test_resending_a_client_id_returns_the_same_event_once(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome, _ = chat.hello(ws)
        ws.send_json({"type": "message", "id": "c1", "text": "hello"})
        first = ws.receive_json()
        ws.receive_json()  # the live event
    with chat.connect() as ws:  # the network dropped before the ack: resend
        chat.hello(ws, token=welcome["token"])
        ws.send_json({"type": "message", "id": "c1", "text": "hello"})
        again = ws.receive_json()
    assert again["event"]["id"] == first["event"]["id"] and again["duplicate"] is True
    assert len(chat.timeline(welcome["visitor"])) == 1


def test_reconnect_with_cursor_gets_exactly_what_was_missed(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome, _ = chat.hello(ws)
        ws.send_json({"type": "message", "id": "c1", "text": "anyone there?"})
        ack = ws.receive_json()
        live = ws.receive_json()
    cursor = live["cursor"]
    conversation = chat.timeline(welcome["visitor"])[0].conversation_id
    assert conversation is not None
    chat.reply(conversation, "Yes! Looking now.")
    chat.reply(conversation, "It ships tomorrow.")
    with chat.connect() as ws:
        again, missed = chat.hello(ws, token=welcome["token"], cursor=cursor)
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
    assert again["visitor"] == welcome["visitor"]
    assert missed["reset"] is False
    assert [e["text"] for e in missed["events"]] == ["Yes! Looking now.", "It ships tomorrow."]
    assert all(e["direction"] == "out" for e in missed["events"])
    assert all(e["author"] is None for e in missed["events"])  # "token:tests" stays internal
    assert ack["event"]["id"] not in {e["id"] for e in missed["events"]}
    with chat.connect() as ws:  # nothing new since the last cursor: nothing sent twice
        _, none = chat.hello(ws, token=welcome["token"], cursor=missed["cursor"])
    assert none["events"] == []


def test_reload_without_cursor_restores_the_history(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome, _ = chat.hello(ws)
        for i in range(3):
            ws.send_json({"type": "message", "id": f"m{i}", "text": f"line {i}"})
            ws.receive_json()
            ws.receive_json()
    with chat.connect() as ws:
        _, history = chat.hello(ws, token=welcome["token"])
    assert history["reset"] is True
    assert [e["text"] for e in history["events"]] == ["line 0", "line 1", "line 2"]


def test_agent_reply_reaches_every_open_tab_live(chat: Chat) -> None:
    with chat.connect() as tab1:
        welcome, _ = chat.hello(tab1)
        tab1.send_json({"type": "message", "id": "c1", "text": "hi"})
        tab1.receive_json()
        tab1.receive_json()
        with chat.connect() as tab2:
            chat.hello(tab2, token=welcome["token"])
            conversation = chat.timeline(welcome["visitor"])[0].conversation_id
            assert conversation is not None
            queued = chat.reply(conversation, "Hello from Sam")
            for tab in (tab1, tab2):
                frame = tab.receive_json()
                assert frame["type"] == "event" and frame["event"]["text"] == "Hello from Sam"
                assert frame["event"]["id"] == queued["id"]


def test_internal_notes_never_reach_the_widget(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome, _ = chat.hello(ws)
        ws.send_json({"type": "message", "id": "c1", "text": "hi"})
        ws.receive_json()
        ws.receive_json()
    conversation = chat.timeline(welcome["visitor"])[0].conversation_id
    response = chat.client.post(
        f"/api/v1/conversations/{conversation}/notes",
        json={"text": "VIP, refund approved internally"},
        headers={"Authorization": f"Bearer {chat.api_token}"},
    )
    assert response.status_code in (200, 201), response.text
    with chat.connect() as ws:
        _, history = chat.hello(ws, token=welcome["token"])
    assert [e["text"] for e in history["events"]] == ["hi"]
    kinds = {(e.direction, e.kind) for e in chat.timeline(welcome["visitor"])}
    assert any(d is Direction.INTERNAL for d, _ in kinds)


def test_the_customers_messages_on_other_channels_show_with_their_channel(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome, _ = chat.hello(ws)
        ws.send_json({"type": "message", "id": "c1", "text": "hi"})
        ws.receive_json()
        ws.receive_json()
    visitor = Identity("chat", welcome["visitor"])
    texted = InboundMessage(
        channel="sms", external_id="SM-other-channel", identity=visitor, text="sent by text"
    )
    chat.call(chat.hub.pipeline.ingest, texted)
    with chat.connect() as ws:
        _, history = chat.hello(ws, token=welcome["token"])
    shown = [(e["channel"], e["text"]) for e in history["events"]]
    assert shown == [("chat", "hi"), ("sms", "sent by text")]
    with chat.connect() as ws:
        other, history = chat.hello(ws)
    assert other["visitor"] != welcome["visitor"] and history["events"] == []
