"""A customer who comes back past the continuity window: the new conversation opens
with a card pointing at the earlier one (what was asked, what we promised and did
not do), and the caller hears only their own words."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.handoff.context import build_packet
from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from tests.connectors.email.conftest import Mailbox, SmtpSink
from tests.connectors.twilio_kit import CUSTOMER, parse_twiml
from tests.journeys.conftest import Site, journey_site

FIRST = "My refund for order 1234 never arrived"
PROMISE = "I'll text you tomorrow once finance confirms"


@pytest.fixture
async def no_window(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> AsyncIterator[Site]:
    async with journey_site(store, tmp_path, mailbox, smtp_sink, window_hours=0) as site:
        yield site


async def test_past_the_window_the_new_conversation_points_at_the_earlier_one(
    no_window: Site,
) -> None:
    site, rig = no_window, no_window.rig
    assert (await rig.twilio.sms("SM1", FIRST)).status_code == 200
    [earlier] = await site.conversations()
    r = await rig.api.post(
        f"/api/v1/conversations/{earlier['id']}/reply",
        json={"text": PROMISE, "channel": "sms", "follow_up": True},
    )
    assert r.status_code == 202, r.text
    await rig.settled(r.json()["id"])
    note = await rig.api.post(
        f"/api/v1/conversations/{earlier['id']}/notes", json={"text": "chargeback risk"}
    )
    assert note.status_code == 201

    # She calls, past the window: a new conversation, greeted with her own words.
    answer = parse_twiml(
        (await rig.twilio.post("/voice", rig.twilio.call_params("CA1", "ringing"))).text
    )
    greeting = answer[0].text or ""
    assert "chargeback" not in greeting and PROMISE not in greeting
    convs = await site.conversations()
    assert len(convs) == 2
    [new] = [c for c in convs if c["id"] != earlier["id"]]
    events = await site.events(new["id"])
    assert (events[0]["channel"], events[0]["kind"]) == ("hub", "handoff")
    card = events[0]["meta"]
    assert card["via"] == "earlier" and card["earlier_conversation_id"] == earlier["id"]
    assert card["card"]["first_message"]["text"] == FIRST
    assert [p["text"] for p in card["card"]["promises"]] == [PROMISE]
    assert "came back after the continuity window" in events[0]["text"]
    customer = await site.customer_id(Identity("phone", CUSTOMER))
    assert {c["customer_id"] for c in convs} == {customer}

    # The earlier one is closed, pointing forward; its promise now lives in the new one.
    old = (await rig.api.get(f"/api/v1/conversations/{earlier['id']}")).json()
    assert old["status"] == "resolved"
    [closed] = [e for e in await site.events(earlier["id"]) if e["kind"] == "status"]
    assert closed["meta"]["superseded_by"] == new["id"]
    assert "1 open promise(s) moved there" in closed["text"]
    [carried] = [e for e in events if e["kind"] == "note"]
    assert carried["meta"]["follow_up"] and PROMISE in carried["text"]
    assert carried["meta"]["earlier_conversation_id"] == earlier["id"]
    # Kept in the new conversation: no promise is left open anywhere.
    r = await rig.api.post(
        f"/api/v1/conversations/{new['id']}/reply",
        json={"text": "Finance confirmed: refund sent", "channel": "sms", "fulfils": carried["id"]},
    )
    assert r.status_code == 202, r.text
    await rig.settled(r.json()["id"])
    packet = await build_packet(rig.hub.store, await rig.hub.store.get_conversation(new["id"]))
    assert packet.promises == []
    # The caller's texts: the promise reply went by SMS; nothing internal did.
    bodies = [m["Body"] for m in site.rest.messages]
    assert bodies == [PROMISE, "Finance confirmed: refund sent"]
