"""Bridges to the web chat from channels that carry a URL: an agent sends a
"continue in the web chat" link on Telegram or SMS; the customer opens it in a
browser and the widget there restores the conversation; another browser sees
nothing."""

from __future__ import annotations

import json
import re
from typing import Any

from hub.connectors.telegram import TelegramConnector
from hub.connectors.telegram.connector import webhook_secret
from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from tests.connectors.telegram.test_telegram import TOKEN, USER, BotApi, update
from tests.connectors.test_twilio import twilio_settings
from tests.connectors.twilio_kit import CUSTOMER, RestDouble
from tests.handoff.conftest import HubRig, running_hub
from tests.journeys.conftest import CHAT, LINK, texts, widget
from tests.servers import serve

ANA_TG = Identity("telegram", str(USER))


async def restored(rig: HubRig, url: str, first_words: str) -> dict[str, Any]:
    """Open ``url`` in a fresh browser; its widget shows the conversation."""
    page = await rig.open_link(rig.local(url))
    assert page.status_code == 200 and first_words in page.text
    found = re.search(r'data-visitor-token="([^"]+)"', page.text)
    assert found is not None
    async with widget(rig) as browser:
        welcome, history = await browser.hello(found.group(1))
        assert first_words in texts(history["events"])
        assert "/c/" not in texts(history["events"])
        await browser.say("w1", "continuing in the browser")
    return dict(welcome)


async def test_telegram_to_the_web_chat(store: TimelineStore, tmp_path: Any) -> None:
    bot = BotApi()
    async with serve(bot.app()) as bot_url:
        telegram = {"bot_token": TOKEN, "api_url": bot_url}
        async with running_hub(store, tmp_path, {"chat": CHAT, "telegram": telegram}) as rig:
            connector = rig.hub.connectors["telegram"]
            assert isinstance(connector, TelegramConnector)
            r = await rig.client.post(
                "/connectors/telegram/webhook",
                content=json.dumps(update(1, 1, "My booking 5512 shows the wrong date")),
                headers={
                    "Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": webhook_secret(connector.config),
                },
            )
            assert r.status_code == 200, r.text
            customer = await rig.customer(ANA_TG)
            [conv] = {e["conversation_id"] for e in await rig.timeline(customer.id)}
            r = await rig.api.post(
                f"/api/v1/conversations/{conv}/handoff/chat_link", json={"to": str(ANA_TG)}
            )
            assert r.status_code == 202, r.text
            await rig.settled(r.json()["id"])
            [sent] = [b for name, b in bot.calls if name == "sendMessage"]
            assert sent["chat_id"] == USER
            [url] = LINK.findall(sent["text"])
            welcome = await restored(rig, url, "My booking 5512")
            assert (await rig.customer(Identity("chat", welcome["visitor"]))).id == customer.id
            events = (await rig.api.get(f"/api/v1/conversations/{conv}/events")).json()["items"]
            assert [(e["channel"], e["kind"]) for e in events] == [
                ("telegram", "message"),
                ("telegram", "message"),
                ("hub", "handoff"),
                ("chat", "message"),
            ]
            assert events[2]["meta"]["card"]["from_channel"] == "telegram"
            async with widget(rig) as stranger:
                _, history = await stranger.hello()
                assert history["events"] == []


async def test_sms_to_the_web_chat(store: TimelineStore, tmp_path: Any) -> None:
    rest = RestDouble()
    async with serve(rest.app()) as rest_url:
        connectors = {"chat": CHAT, "twilio": twilio_settings(rest_url)}
        async with running_hub(store, tmp_path, connectors) as rig:
            assert (await rig.twilio.sms("SM1", "Is my prescription 88 ready?")).status_code == 200
            customer = await rig.customer(Identity("phone", CUSTOMER))
            [conv] = {e["conversation_id"] for e in await rig.timeline(customer.id)}
            r = await rig.api.post(
                f"/api/v1/conversations/{conv}/handoff/chat_link", json={"to": f"phone:{CUSTOMER}"}
            )
            assert r.status_code == 202, r.text
            await rig.settled(r.json()["id"])
            [sms] = rest.messages
            assert sms["To"] == CUSTOMER and sms["Body"].isascii()
            [url] = LINK.findall(sms["Body"])
            welcome = await restored(rig, url, "prescription 88")
            assert (await rig.customer(Identity("chat", welcome["visitor"]))).id == customer.id
            convs = (await rig.api.get("/api/v1/conversations", params={"status": "any"})).json()
            assert [c["id"] for c in convs["items"]] == [conv]
