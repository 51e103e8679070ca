"""Edits, deletions and reactions change the message they name, on both stores:
the agent sees the new text with its history, a deletion marked (the text still
there), reactions on their message, and no blank bubble for any of them."""

from __future__ import annotations

import time
from typing import Any

import httpx

from hub.agent.auth import create_agent
from hub.timeline.content import Reaction
from hub.timeline.model import AgentRole, DeliveryStatus, Event, Identity
from tests.agent.kit import PASSWORD, Agentside
from tests.connectors.meta.conftest import MetaRig
from tests.connectors.meta.kit import PAGE_ID, entry, messaging, wa_text, wa_value, whatsapp

ANA = "14155550100"
OTHER = "14155550199"
PHONE = Identity("phone", "+" + ANA)
PSID = "6101000000000001"


def wa(sender: str, wamid: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    ts = str(int(time.time()))
    return whatsapp(
        wa_value(
            messages=[{"from": sender, "id": wamid, "timestamp": ts, "type": kind, kind: body}]
        )
    )


async def view(meta: MetaRig, event: Event) -> str:
    await create_agent(
        meta.hub.store, email="ana@agents.test", name="Ana", password=PASSWORD, role=AgentRole.ADMIN
    )
    async with httpx.AsyncClient(base_url=str(meta.client.base_url)) as client:
        side = Agentside(client)
        assert (await side.sign_in("ana@agents.test", PASSWORD)).status_code == 303
        r = await client.get(f"/agent/fragments/events/{event.id}")
        assert r.status_code == 200
        html: str = r.json()["html"]
        return html


async def test_a_whatsapp_edit_replaces_the_text_keeps_the_history_and_replays_once(
    meta: MetaRig,
) -> None:
    assert (
        await meta.post(whatsapp(wa_value(messages=[wa_text(ANA, "wamid.A", "See you at 5")])))
    ).status_code == 200
    edit = wa(
        ANA,
        "wamid.E1",
        "edit",
        {
            "original_message_id": "wamid.A",
            "message": {"type": "text", "text": {"body": "See you at 6"}},
        },
    )
    for _ in range(2):
        r = await meta.post(edit)
        assert r.status_code == 200 and r.json()["failed"] == 0
    [event] = await meta.events(PHONE)
    assert event.text == "See you at 6"
    assert [h["text"] for h in event.meta["history"]] == ["See you at 5"]
    await meta.until(lambda: meta.latest.get(event.id, event).text == "See you at 6")
    html = await view(meta, event)
    assert "See you at 6" in html and "See you at 5" in html and "Edited" in html


async def test_a_whatsapp_revoke_marks_the_message_deleted_and_keeps_it(meta: MetaRig) -> None:
    await meta.post(whatsapp(wa_value(messages=[wa_text(ANA, "wamid.A", "my card number is …")])))
    r = await meta.post(wa(ANA, "wamid.R1", "revoke", {"original_message_id": "wamid.A"}))
    assert r.status_code == 200 and r.json()["failed"] == 0
    [event] = await meta.events(PHONE)
    assert event.meta["deleted"]["at"] and event.text == "my card number is …"
    html = await view(meta, event)
    assert "Deleted by the customer" in html and "struck" in html


async def test_a_reaction_lands_on_the_business_reply_it_reacts_to(meta: MetaRig) -> None:
    await meta.post(
        whatsapp(
            wa_value(messages=[wa_text(ANA, "wamid.A", "Is it in stock?", ts=int(time.time()))])
        )
    )
    [inbound] = await meta.events(PHONE)
    assert inbound.conversation_id is not None
    r = await meta.reply(inbound.conversation_id, text="Yes, two left")
    assert r.status_code == 202, r.text
    sent = await meta.settled(r.json()["id"])
    assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
    wamid = sent.delivery.provider_id
    assert wamid
    await meta.post(wa(ANA, "wamid.X1", "reaction", {"message_id": wamid, "emoji": "\U0001f44d"}))
    reply = await meta.hub.store.get_event(sent.id)
    assert [(x["by"], x["emoji"]) for x in reply.meta["reactions"]] == [(str(PHONE), "\U0001f44d")]
    assert len(await meta.events(PHONE)) == 2  # no bubble of its own
    assert "\U0001f44d" in await view(meta, reply)

    await meta.post(wa(ANA, "wamid.X2", "reaction", {"message_id": wamid}))  # removed
    assert (await meta.hub.store.get_event(sent.id)).meta["reactions"] == []


async def test_nobody_amends_another_customers_message(meta: MetaRig) -> None:
    await meta.post(whatsapp(wa_value(messages=[wa_text(ANA, "wamid.A", "mine")])))
    await meta.post(
        wa(
            OTHER,
            "wamid.E9",
            "edit",
            {
                "original_message_id": "wamid.A",
                "message": {"type": "text", "text": {"body": "hijacked"}},
            },
        )
    )
    await meta.post(wa(OTHER, "wamid.X9", "reaction", {"message_id": "wamid.A", "emoji": "x"}))
    [event] = await meta.events(PHONE)
    assert event.text == "mine" and "reactions" not in event.meta
    stranger = await meta.events(Identity("phone", "+" + OTHER))
    assert {type(e.content).__name__ for e in stranger} == {"Edit", "Reaction"}
    assert isinstance(stranger[-1].content, Reaction)


async def test_a_messenger_message_edit_updates_the_shown_text(meta: MetaRig) -> None:
    item = {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE_ID},
        "timestamp": int(time.time() * 1000),
        "message": {"mid": "m_1", "text": "helo"},
    }
    await meta.post(messaging("page", entry(PAGE_ID, item)))
    edit = {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE_ID},
        "timestamp": int(time.time() * 1000),
        "message_edit": {"mid": "m_1", "text": "hello", "num_edit": 1},
    }
    r = await meta.post(messaging("page", entry(PAGE_ID, edit)))
    assert r.status_code == 200 and r.json()["failed"] == 0
    [event] = await meta.events(Identity("messenger", PSID))
    assert event.text == "hello" and event.meta["history"][0]["text"] == "helo"
