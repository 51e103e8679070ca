"""WhatsApp templates for real: the catalogue is read from the Graph API (paged), the
composer offers the approved ones with a field per parameter when the 24 h window is
closed, and the timeline shows the filled template the customer received."""

from __future__ import annotations

import time
from typing import Any

import httpx

from hub.agent.auth import create_agent
from hub.connectors.base import Template
from hub.timeline.model import AgentRole, DeliveryStatus, Identity
from tests.agent.kit import PASSWORD, Agentside
from tests.connectors.meta.conftest import MetaRig
from tests.connectors.meta.kit import wa_text, wa_value, whatsapp

WABA = "102290129340398"
ANA = "14155550100"
PAGES: list[dict[str, Any]] = [
    {
        "data": [
            {
                "name": "order_update",
                "language": "en_US",
                "status": "APPROVED",
                "category": "UTILITY",
                "id": "1",
                "components": [
                    {"type": "HEADER", "format": "TEXT", "text": "Your order"},
                    {"type": "BODY", "text": "Hi {{1}}, order {{2}} has shipped."},
                ],
            }
        ]
    },
    {
        "data": [
            {
                "name": "spring_sale",
                "language": "en_US",
                "status": "PENDING",
                "category": "MARKETING",
                "id": "2",
                "components": [{"type": "BODY", "text": "Sale!"}],
            }
        ]
    },
]


async def test_the_catalogue_is_read_across_pages_and_kept(meta: MetaRig) -> None:
    meta.graph.template_pages[WABA] = PAGES
    await meta.post(whatsapp(wa_value(messages=[wa_text(ANA, "wamid.IN", "hi")]), waba=WABA))
    assert await meta.connector.sync_templates() == 2
    found = await meta.connector.templates("whatsapp")
    assert found[0] == Template(
        "order_update", "en_US", "APPROVED", "Hi {{1}}, order {{2}} has shipped.", 2, "UTILITY"
    )
    assert [t.approved for t in found] == [True, False]
    assert await meta.connector.templates("messenger") == ()


async def test_an_agent_sends_a_filled_template_when_the_window_is_closed(meta: MetaRig) -> None:
    meta.graph.template_pages[WABA] = PAGES
    old = int(time.time()) - 3 * 24 * 3600
    await meta.post(
        whatsapp(wa_value(messages=[wa_text(ANA, "wamid.OLD", "hi", ts=old)]), waba=WABA)
    )
    [inbound] = await meta.events(Identity("phone", "+" + ANA))
    conv = inbound.conversation_id
    await create_agent(
        meta.hub.store, email="ana@agents.test", name="Ana", password=PASSWORD, role=AgentRole.ADMIN
    )
    async with httpx.AsyncClient(base_url=str(meta.client.base_url)) as client:
        side = Agentside(client)
        assert (await side.sign_in("ana@agents.test", PASSWORD)).status_code == 303
        page = await client.get(f"/agent/conversations/{conv}")
        assert 'value="order_update|en_US" data-params="2"' in page.text
        assert "spring_sale" not in page.text  # not approved: not offered
        r = await side.client.post(
            f"/agent/conversations/{conv}/reply",
            data={
                "channel": "whatsapp",
                "text": "",
                "template": "order_update|en_US",
                "template_param": ["Ana", "A-42"],
            },
            headers={"Accept": "application/json", "X-CSRF-Token": side.csrf},
        )
        assert r.status_code == 202, r.text
        event_id = r.json()["event"]["id"]
        sent = await meta.settled(event_id)
        assert sent.delivery is not None and sent.delivery.status is DeliveryStatus.SENT
        assert sent.text == "Hi Ana, order A-42 has shipped."
        [call] = meta.graph.sent
        assert call.body["type"] == "template"
        assert call.body["template"]["name"] == "order_update"
        assert call.body["template"]["components"][0]["parameters"] == [
            {"type": "text", "text": "Ana"},
            {"type": "text", "text": "A-42"},
        ]
        shown = (await client.get(f"/agent/fragments/events/{event_id}")).json()["html"]
        assert "Hi Ana, order A-42 has shipped." in shown

        r = await side.client.post(
            f"/agent/conversations/{conv}/reply",
            data={"channel": "whatsapp", "template": "order_update|en_US", "template_param": "Ana"},
            headers={"Accept": "application/json", "X-CSRF-Token": side.csrf},
        )
        assert r.status_code == 422 and "needs 2 parameters" in r.text
