"""The widget tells agents where the visitor is: ``hello.page`` and the browser's
``User-Agent`` ride on the visitor's messages (``meta.visitor``), never back to them."""

from __future__ import annotations

from typing import Any

from tests.connectors.chat.kit import ORIGIN, Chat

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _say(chat: Chat, page: Any, text: str = "hi") -> tuple[dict[str, Any], dict[str, Any]]:
    headers = {"origin": ORIGIN, "user-agent": FIREFOX}
    with chat.client.websocket_connect("/connectors/chat/ws?site=default", headers=headers) as ws:
        ws.send_json({"type": "hello", "page": page})
        welcome = ws.receive_json()
        assert welcome["type"] == "welcome", welcome
        assert ws.receive_json()["type"] == "events"
        ws.send_json({"type": "message", "id": "m1", "text": text})
        ack = ws.receive_json()
        assert ack["type"] == "ack", ack
        return welcome, ack


def test_page_context_is_kept_on_the_message_for_agents(chat: Chat) -> None:
    page = {
        "url": "https://shop.example.com/orders/42?session=SECRET#top",
        "title": "Order 42 — Acme",
        "referrer": "https://search.example/?q=tent",
        "lang": "de-DE",
        "tz": "Europe/Berlin",
    }
    welcome, ack = _say(chat, page)
    [event] = chat.timeline(welcome["visitor"])
    assert event.meta["visitor"] == {
        "url": "https://shop.example.com/orders/42",
        "title": "Order 42 — Acme",
        "referrer": "https://search.example/",
        "lang": "de-DE",
        "tz": "Europe/Berlin",
        "user_agent": FIREFOX,
    }
    assert "SECRET" not in str(event.meta)
    assert "visitor" not in ack["event"] and "meta" not in ack["event"]


def test_a_page_report_the_hub_cannot_use_never_stops_the_chat(chat: Chat) -> None:
    page = {"url": "javascript:alert(1)", "tz": "Mars/Olympus", "lang": "<b>", "title": "x"}
    welcome, _ = _say(chat, page)
    [event] = chat.timeline(welcome["visitor"])
    assert event.meta["visitor"] == {"title": "x", "user_agent": FIREFOX}
    welcome, _ = _say(chat, "not an object")
    [event] = chat.timeline(welcome["visitor"])
    assert event.meta["visitor"] == {"user_agent": FIREFOX}
    assert event.text == "hi"
