"""Visitor tokens age out: an expired token is a fresh anonymous visitor, never its history."""

from __future__ import annotations

import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from hub.connectors.chat.visitors import TOKEN_PURPOSE
from hub.signing import load_secret_key
from tests.connectors.chat.kit import Chat

DAY = 86400


def token_issued(chat: Chat, visitor: str, days_ago: float) -> str:
    """A genuine visitor token for ``visitor`` as the hub would have issued it ``days_ago``."""
    issued = int(time.time() - days_ago * DAY)

    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return issued

    serializer = URLSafeTimedSerializer(
        load_secret_key(chat.hub.settings), salt=f"omnihub.{TOKEN_PURPOSE}", signer=Then
    )
    return serializer.dumps({"v": visitor, "s": "default"})


def test_an_expired_visitor_token_starts_a_fresh_visitor(chat: Chat) -> None:
    days = chat.hub.connectors["chat"].settings.visitor_token_days  # type: ignore[attr-defined]
    with chat.connect() as ws:
        ana, _ = chat.hello(ws)
        ws.send_json({"type": "message", "id": "c1", "text": "my order is 1042"})
        ws.receive_json()
    recent = token_issued(chat, ana["visitor"], days - 1)
    with chat.connect() as ws:
        welcome, events = chat.hello(ws, token=recent)  # still valid: same visitor, history
    assert welcome["visitor"] == ana["visitor"]
    assert [e["text"] for e in events["events"]] == ["my order is 1042"]

    expired = token_issued(chat, ana["visitor"], days + 1)
    with chat.connect() as ws:
        welcome, events = chat.hello(ws, token=expired)
        assert welcome["visitor"] != ana["visitor"] and welcome["token"] != expired
        assert events["events"] == []
    assert [e.text for e in chat.timeline(ana["visitor"])] == ["my order is 1042"]
    assert chat.timeline(welcome["visitor"]) == []
