"""Friendly names and visitor context for the agent view (hub.agent.visitors)."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.agent.visitors import browser_of, customer_label, friendly_name, visitor_context
from hub.timeline.model import Customer, Direction, Event, EventKind, Identity

SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def test_friendly_names_are_stable_two_words_and_varied() -> None:
    names = {friendly_name(f"v_{i:04x}") for i in range(200)}
    assert friendly_name("v_32e7443828ce49e9acd3bcc3") == friendly_name(
        "v_32e7443828ce49e9acd3bcc3"
    )
    assert all(len(n.split()) == 2 for n in names)
    assert len(names) > 150


def test_a_real_name_wins_over_the_generated_one() -> None:
    anonymous = Customer(id="cus_1", identities=(Identity("chat", "v_abc"),))
    assert customer_label(anonymous) == friendly_name("v_abc")
    named = Customer(id="cus_1", name="Ana Lima", identities=(Identity("chat", "v_abc"),))
    assert customer_label(named) == "Ana Lima"
    assert customer_label(None) == "Unknown customer"


def test_browser_and_local_time_from_the_latest_chat_message() -> None:
    assert browser_of(SAFARI) == "Mobile Safari 17 on iOS"

    def event(seq: int, visitor: dict[str, str]) -> Event:
        return Event(
            id=f"evt_{seq}", seq=seq, customer_id="cus_1", conversation_id="con_1",
            kind=EventKind.MESSAGE,
            direction=Direction.IN, channel="chat", text="hi", meta={"visitor": visitor},
            occurred_at=datetime(2026, 12, 3, 8, 0, tzinfo=UTC),
        )  # fmt: skip

    events = [
        event(1, {"url": "https://shop.example/old"}),
        event(2, {"url": "https://shop.example/cart", "tz": "Asia/Tokyo", "user_agent": SAFARI}),
    ]
    seen = visitor_context(events, now=datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    assert seen is not None
    assert seen.page_url == "https://shop.example/cart"
    assert seen.local_time == "17:00 (Thu)" and seen.time_zone == "Asia/Tokyo"
    assert seen.browser == "Mobile Safari 17 on iOS"
    assert visitor_context([]) is None
