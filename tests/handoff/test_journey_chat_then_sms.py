"""Journey 1: a widget chat → "text me instead" → the customer replies by SMS.

The SMS lands in the same conversation; the agent's timeline shows the chat,
the handoff card and the SMS, in that order; the agent can answer on either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from tests.connectors.test_twilio import twilio_settings
from tests.connectors.twilio_kit import AGENT, CUSTOMER, RestDouble
from tests.handoff.conftest import CHAT, HubRig, running_hub, widget
from tests.servers import serve

PHONE = Identity("phone", CUSTOMER)

SmsSite = tuple[HubRig, RestDouble]


@pytest.fixture
async def site(store: TimelineStore, tmp_path: Path) -> AsyncIterator[SmsSite]:
    """The hub with the chat and Twilio channels, Twilio's REST API a double."""
    rest = RestDouble()
    async with (
        serve(rest.app()) as rest_url,
        running_hub(store, tmp_path, {"chat": CHAT, "twilio": twilio_settings(rest_url)}) as rig,
    ):
        yield rig, rest


async def test_chat_then_text_me_instead_then_an_sms_reply_is_one_conversation(
    site: SmsSite,
) -> None:
    rig, rest = site
    async with widget(rig) as browser:
        welcome, _ = await browser.hello()
        ack = await browser.say("c1", "My parcel hasn't arrived, can we do this by text?")
        assert ack["duplicate"] is False
        visitor = Identity("chat", welcome["visitor"])
        chat_customer = await rig.customer(visitor)

        # "Text me instead", from the widget with its visitor token.
        r = await rig.client.post(
            "/handoff/actions/text_me",
            json={"to": f"phone:{CUSTOMER}"},
            headers={"Authorization": f"Bearer {welcome['token']}"},
        )
        assert r.status_code == 202, r.text
        offer = await rig.settled(r.json()["event_id"])
        assert offer.delivery is not None and offer.delivery.error is None
        [sms] = rest.messages
        assert sms["To"] == CUSTOMER and "Reply OK" in sms["Body"]
        # The number may be mistyped: the text carries nothing of the conversation.
        assert "parcel" not in sms["Body"] and sms["Body"].isascii()

    # The customer answers the text from their phone.
    r = await rig.twilio.sms("SM1", "Yes - texting now: it's order 1234", sender=CUSTOMER)
    assert r.status_code == 200

    assert (await rig.customer(PHONE)).id == chat_customer.id
    conv = offer.conversation_id
    assert conv is not None
    events = (await rig.api.get(f"/api/v1/conversations/{conv}/events")).json()["items"]
    assert [(e["channel"], e["kind"], e["direction"]) for e in events] == [
        ("chat", "message", "in"),
        ("sms", "message", "out"),
        ("hub", "handoff", "internal"),
        ("sms", "message", "in"),
    ]
    card = events[2]["meta"]["card"]
    assert (card["from_channel"], card["to_channel"]) == ("chat", "sms")
    assert card["first_message"]["text"].startswith("My parcel hasn't arrived")

    # The agent answers by SMS in the same conversation.
    r = await rig.api.post(
        f"/api/v1/conversations/{conv}/reply", json={"text": "Found it, arriving Friday"}
    )
    assert r.status_code == 202 and r.json()["channel"] == "sms"
    await rig.settled(r.json()["id"])
    assert rest.messages[-1]["Body"] == "Found it, arriving Friday"


async def test_text_me_instead_needs_the_visitors_token(
    site: SmsSite,
) -> None:
    rig, rest = site
    r = await rig.client.post("/handoff/actions/text_me", json={"to": f"phone:{CUSTOMER}"})
    assert r.status_code == 401
    forged = await rig.client.post(
        "/handoff/actions/text_me",
        json={"to": f"phone:{CUSTOMER}"},
        headers={"Authorization": "Bearer not-a-visitor"},
    )
    assert forged.status_code == 401
    assert rest.messages == []


async def test_call_me_back_rings_the_agent_with_the_context_then_the_customer(
    site: SmsSite,
) -> None:
    rig, rest = site
    async with widget(rig) as browser:
        welcome, _ = await browser.hello()
        await browser.say("c1", "The refund for order 1234 never came")
    # An anonymous visitor cannot make the hub call a number nobody verified…
    r = await rig.client.post(
        "/handoff/actions/call_me",
        json={"to": f"phone:{CUSTOMER}"},
        headers={"Authorization": f"Bearer {welcome['token']}"},
    )
    assert r.status_code == 403 and r.json()["refused"] == "needs_agent"
    assert "An agent will pick this up" in r.json()["error"]
    assert rest.calls == [] and rig.handoff.relay.refusals[("call_me", "needs_agent")] == 1
    customer = await rig.customer(Identity("chat", welcome["visitor"]))
    [note] = [e for e in await rig.timeline(customer.id) if e["kind"] == "note"]
    assert note["meta"]["relay_refused"] == "needs_agent"
    # …the agent can.
    r = await rig.api.post(
        f"/api/v1/conversations/{note['conversation_id']}/handoff/call_me",
        json={"to": f"phone:{CUSTOMER}"},
    )
    assert r.status_code == 202, r.text
    event_id = r.json()["id"]
    await rig.settled(event_id)
    [call] = rest.calls
    assert call["To"] == AGENT  # the agent first, then the customer
    assert "asked to be called back about: The refund for order 1234" in call["Twiml"]
    assert CUSTOMER in call["Twiml"]
    callback = await rig.hub.store.get_event(event_id)
    assert callback.meta["follow_up"] is True  # a promise until someone calls
