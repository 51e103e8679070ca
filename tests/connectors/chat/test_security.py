"""Bad input and trust: origins, limits, forged tokens, identify, isolation."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from hub.connectors.chat import user_hash
from hub.timeline.model import Identity
from tests.connectors.chat.kit import ORIGIN, SECRET, Chat


def _close_code(chat: Chat, site: str = "default", origin: str | None = ORIGIN) -> int:
    def attempt() -> None:
        with chat.connect(site=site, origin=origin) as ws:
            ws.send_json({"type": "hello"})
            ws.receive_json()

    with pytest.raises(WebSocketDisconnect) as info:
        attempt()
    return info.value.code


def test_a_page_from_another_origin_is_closed_with_1008(chat: Chat) -> None:
    assert _close_code(chat, origin="https://evil.example") == 1008
    assert _close_code(chat, origin=None) == 1008
    assert _close_code(chat, site="nope") == 1008
    assert _close_code(chat, site="shop", origin="http://testserver") == 1008
    with chat.connect(site="shop", origin="https://shop.example.com") as ws:
        welcome, _ = chat.hello(ws)
    assert welcome["visitor"]


def test_an_oversized_frame_is_closed_with_1009(chat: Chat) -> None:
    def oversized() -> None:
        with chat.connect() as ws:
            chat.hello(ws)
            ws.send_text(json.dumps({"type": "message", "id": "big", "text": "x" * 20_000}))
            ws.receive_json()

    with pytest.raises(WebSocketDisconnect) as info:
        oversized()
    assert info.value.code == 1009


def test_malformed_frames_get_an_error_and_the_connection_stays(chat: Chat) -> None:
    with chat.connect() as ws:
        ws.send_text("{not json")
        assert ws.receive_json()["code"] == "bad_json"
        welcome, _ = chat.hello(ws)
        ws.send_text("[1, 2]")
        assert ws.receive_json()["code"] == "bad_json"
        ws.send_json({"type": "message", "id": "bad id!", "text": "x"})
        error = ws.receive_json()
        assert error["code"] == "bad_frame" and error["id"] == "bad id!"
        ws.send_json({"type": "message", "id": "e1", "text": "   "})
        assert ws.receive_json() == {
            "type": "error",
            "code": "empty",
            "message": "a message needs text or an attachment",
            "id": "e1",
        }
        ws.send_json({"type": "warp"})
        assert ws.receive_json()["code"] == "bad_frame"
        ws.send_json({"type": "message", "id": "ok", "text": "still here"})
        assert ws.receive_json()["type"] == "ack"
    assert [e.text for e in chat.timeline(welcome["visitor"])] == ["still here"]


def test_a_flood_is_throttled_with_error_frames(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome, _ = chat.hello(ws)
        started = time.monotonic()
        for i in range(40):
            ws.send_json({"type": "message", "id": f"f{i}", "text": f"spam {i}"})
        frames: list[dict[str, object]] = []
        while len([f for f in frames if f["type"] in ("ack", "error")]) < 40:
            frames.append(ws.receive_json())
        elapsed = time.monotonic() - started
        acks = [f for f in frames if f["type"] == "ack"]
        limited = [f for f in frames if f["type"] == "error"]
    assert limited and all(f["code"] == "rate_limited" for f in limited)
    assert len(acks) + len(limited) == 40
    assert len(acks) <= 20 + 2 * elapsed + 1  # the burst, plus what refilled meanwhile
    assert len(chat.timeline(welcome["visitor"])) == len(acks)


def _flood(
    chat: Chat, frames: list[str], *, hello: bool = True
) -> tuple[list[dict[str, Any]], int]:
    """Send ``frames`` at once, then a message; the frames answered and the close code
    (0: still open once the message was answered)."""
    answers: list[dict[str, Any]] = []
    with chat.connect() as ws:
        if hello:
            chat.hello(ws)
        for text in frames:
            ws.send_text(text)
        ws.send_json({"type": "message", "id": "after", "text": "after the flood"})
        try:
            while not answers or not (
                answers[-1].get("id") == "after" or answers[-1].get("code") == "hello_first"
            ):
                answers.append(ws.receive_json())
        except WebSocketDisconnect as closed:
            return answers, closed.code
    return answers, 0


@pytest.mark.parametrize(
    ("frame", "hello"),
    [('{"type": "ping"}', True), ("{not json", True), ("[1]", True), ("{not json", False)],
    ids=["ping", "bad-json", "not-an-object", "bad-json-before-hello"],
)
def test_every_frame_is_rate_limited_and_a_flooder_is_closed_with_1008(
    chat: Chat, frame: str, hello: bool
) -> None:
    started = time.monotonic()
    answers, code = _flood(chat, [frame] * 200, hello=hello)
    elapsed = time.monotonic() - started
    assert code == 1008
    handled = [a for a in answers if a.get("code") != "rate_limited"]
    assert len(handled) <= 20 + 2 * elapsed + 1  # the burst, plus what refilled meanwhile
    assert any(a.get("code") == "rate_limited" for a in answers)


def test_a_forged_token_is_a_fresh_visitor_with_no_history(chat: Chat) -> None:
    with chat.connect() as ws:
        ana, _ = chat.hello(ws)
        ws.send_json({"type": "message", "id": "c1", "text": "my address is 1 Elm St"})
        ws.receive_json()
    forged = ana["token"][:-4] + ("AAAA" if not ana["token"].endswith("AAAA") else "BBBB")
    for token in (forged, "garbage", ana["token"].replace(".", "", 1)):
        with chat.connect() as ws:
            welcome, events = chat.hello(ws, token=token)
        assert welcome["visitor"] != ana["visitor"] and events["events"] == []
    with chat.connect(site="shop", origin="https://shop.example.com") as ws:
        other_site, events = chat.hello(ws, token=ana["token"])
    assert other_site["visitor"] != ana["visitor"] and events["events"] == []


def test_a_visitor_cannot_read_another_visitors_messages(chat: Chat) -> None:
    with chat.connect() as ws:
        ana, _ = chat.hello(ws)
        ws.send_json({"type": "message", "id": "c1", "text": "ana's secret"})
        ws.receive_json()
        first = ws.receive_json()
    with chat.connect() as ws:
        bob, events = chat.hello(ws, cursor=first["cursor"])
        assert events["events"] == []
        ws.send_json({"type": "history", "before": first["cursor"]})
        assert ws.receive_json() == {"type": "history", "events": [], "older": None}
        ws.send_json({"type": "message", "id": "c1", "text": "bob"})  # same client id as Ana
        ack = ws.receive_json()
        assert ack["duplicate"] is False and ack["event"]["text"] == "bob"
        conversation = chat.timeline(ana["visitor"])[0].conversation_id
        assert conversation is not None
        chat.reply(conversation, "for Ana only")
        ws.send_json({"type": "ping"})
        frames = [ws.receive_json(), ws.receive_json()]  # bob's own live event, then pong
    assert {f["type"] for f in frames} == {"event", "pong"}
    assert all("for Ana only" not in json.dumps(f) for f in frames)
    assert [e.text for e in chat.timeline(bob["visitor"])] == ["bob"]


def test_identify_with_a_valid_hash_links_and_follows_the_user_to_another_device(
    chat: Chat,
) -> None:
    proof = {"user_id": "u-42", "email": "ana@example.com", "name": "Ana Ruiz"}
    with chat.connect() as laptop:
        before, _ = chat.hello(laptop)
        laptop.send_json({"type": "message", "id": "c1", "text": "asked before signing in"})
        laptop.receive_json()
        laptop.receive_json()
        laptop.send_json({"type": "identify", **proof, "user_hash": user_hash(SECRET, "u-42")})
        welcome = laptop.receive_json()
        assert welcome["type"] == "welcome" and welcome["identified"] is True
        assert laptop.receive_json() == {"type": "identified", "name": "Ana Ruiz"}
        history = laptop.receive_json()
        assert [e["text"] for e in history["events"]] == ["asked before signing in"]
    user = chat.call(chat.hub.store.find_customer, Identity("chat_user", "default:u-42"))
    assert user is not None and user.name == "Ana Ruiz"
    assert Identity("chat", before["visitor"]) in user.identities
    assert user.attributes.get("email") == "ana@example.com"
    assert Identity("email", "ana@example.com") not in user.identities  # not signed: no link
    with chat.connect() as phone:
        other, _ = chat.hello(phone)
        assert other["visitor"] != before["visitor"]
        phone.send_json({"type": "identify", **proof, "user_hash": user_hash(SECRET, "u-42")})
        phone.receive_json()
        phone.receive_json()
        history = phone.receive_json()
    assert [e["text"] for e in history["events"]] == ["asked before signing in"]


def test_identify_with_a_bad_hash_is_refused_and_links_nothing(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome, _ = chat.hello(ws)
        ws.send_json({"type": "message", "id": "c1", "text": "hi"})
        ws.receive_json()
        ws.receive_json()
        for bad in (user_hash("wrong-secret-0123456789", "u-42"), "00", user_hash(SECRET, "u-43")):
            ws.send_json({"type": "identify", "user_id": "u-42", "user_hash": bad})
            error = ws.receive_json()
            assert error["type"] == "error" and error["code"] == "identify_refused"
        ws.send_json({"type": "message", "id": "c2", "text": "still anonymous"})
        assert ws.receive_json()["type"] == "ack"
    assert chat.call(chat.hub.store.find_customer, Identity("chat_user", "default:u-42")) is None
    customer = chat.call(chat.hub.store.find_customer, Identity("chat", welcome["visitor"]))
    assert [str(i) for i in customer.identities] == [f"chat:{welcome['visitor']}"]


def test_identify_by_signed_email_links_the_email_identity(chat: Chat) -> None:
    with chat.connect() as ws:
        welcome, _ = chat.hello(ws)
        ws.send_json(
            {
                "type": "identify",
                "email": "Bo@Example.com",
                "user_hash": user_hash(SECRET, "Bo@Example.com"),
            }
        )
        assert ws.receive_json()["identified"] is True
    customer = chat.call(chat.hub.store.find_customer, Identity("email", "bo@example.com"))
    assert Identity("chat", welcome["visitor"]) in customer.identities


def test_a_shared_browser_never_merges_two_signed_in_users(chat: Chat) -> None:
    with chat.connect() as ws:
        chat.hello(ws)
        ws.send_json({"type": "identify", "user_id": "ana", "user_hash": user_hash(SECRET, "ana")})
        ana = ws.receive_json()
        ws.receive_json()
        ws.receive_json()
        ws.send_json({"type": "message", "id": "a1", "text": "ana's order"})
        ws.receive_json()
        ws.receive_json()
        ws.send_json({"type": "identify", "user_id": "bob", "user_hash": user_hash(SECRET, "bob")})
        bob = ws.receive_json()
        ws.receive_json()
        history = ws.receive_json()
    assert bob["visitor"] != ana["visitor"] and bob["token"] != ana["token"]
    assert history["events"] == []
    ana_c = chat.call(chat.hub.store.find_customer, Identity("chat_user", "default:ana"))
    bob_c = chat.call(chat.hub.store.find_customer, Identity("chat_user", "default:bob"))
    assert ana_c.id != bob_c.id and ana_c.merged_into is None


def test_identify_needs_the_site_secret(chat: Chat) -> None:
    with chat.connect(site="shop", origin="https://shop.example.com") as ws:
        chat.hello(ws)
        ws.send_json({"type": "identify", "user_id": "u", "user_hash": user_hash(SECRET, "u")})
        assert ws.receive_json()["code"] == "identify_refused"
