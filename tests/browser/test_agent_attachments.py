"""Done when (issue 21): an agent sends an image by WhatsApp, by Messenger and by MMS
from the composer's file picker; the Graph API double receives the upload and the
message (Twilio's double a media URL that serves the image), and the timeline shows
the reply with its image. The composer says each channel's file limit before sending."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from hub.timeline.sqlite import SQLiteStore
from tests.agent.kit import PASSWORD, Running, hub_for_agents
from tests.connectors.meta.conftest import meta_settings
from tests.connectors.meta.kit import (
    PAGE_ID,
    GraphDouble,
    entry,
    message,
    messaging,
    signature,
    wa_text,
    wa_value,
    whatsapp,
)
from tests.connectors.test_twilio import twilio_settings
from tests.connectors.twilio_kit import PUBLIC, RestDouble, TwilioSide
from tests.servers import serve

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

WA_ANA = "14155550100"
PSID = "6101000000000009"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d"
    "49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@dataclass
class Desk:
    running: Running
    graph: GraphDouble

    async def webhook(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        r = await self.running.client.post(
            "/connectors/meta/webhook",
            content=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature(body)},
        )
        assert r.status_code == 200 and r.json()["stored"] == 1, r.text


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    graph = GraphDouble()
    async with (
        serve(graph.app()) as graph_url,
        hub_for_agents(
            SQLiteStore(tmp_path / "hub.db"),
            tmp_path,
            connectors={"meta": meta_settings(graph_url)},
        ) as running,
    ):
        await running.agent("ana@example.com", name="Ana Agent")
        yield Desk(running, graph)


async def test_send_an_image_by_whatsapp_and_by_messenger_from_the_composer(
    desk: Desk, page: Page, browser: Browser, page_errors: list[str]
) -> None:
    from playwright.async_api import expect

    now = int(time.time())
    await desk.webhook(
        whatsapp(wa_value(messages=[wa_text(WA_ANA, "wamid.IN1", "Photo of the label?", ts=now)]))
    )
    await desk.webhook(
        messaging("page", entry(PAGE_ID, message(PSID, "m_in1", "And the receipt?", ms=now * 1000)))
    )
    await page.goto(f"{desk.running.url}/agent/login")
    await page.get_by_label("Email").fill("ana@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()

    for said, channel, label in (
        ("Photo of the label?", "whatsapp", "WhatsApp: files up to 16 MB"),
        ("And the receipt?", "messenger", "Messenger: files up to 25 MB"),
    ):
        await page.goto(f"{desk.running.url}/agent/")
        await page.locator("#inbox-rows tr", has_text=said).locator("a.who").click()
        await expect(page.locator("#timeline")).to_contain_text(said)
        await page.get_by_label("Reply on").select_option(channel)
        await page.get_by_label("Message", exact=True).fill(f"Here it is on {channel}")
        await page.locator("#reply-files").set_input_files(
            {"name": "label.png", "mimeType": "image/png", "buffer": PNG}
        )
        await expect(page.locator("#constraints")).to_contain_text(label)
        await page.get_by_role("button", name="Send").click()
        mine = page.locator("li.ev.dir-out", has_text=f"Here it is on {channel}")
        await expect(mine.locator(".delivery")).to_have_text("Sent")
        await expect(mine.locator(".attachments img")).to_have_attribute("alt", "label.png")

    (wa_upload,) = desk.graph.uploads
    assert wa_upload["file"]["data"] == PNG
    sent = [s.body for s in desk.graph.sent]
    assert any(
        b.get("type") == "image" and b["image"]["caption"] == "Here it is on whatsapp" for b in sent
    )
    assert any(
        isinstance(b.get("filedata"), dict)
        and b["filedata"]["data"] == PNG
        and b["message"]["attachment"]["type"] == "image"
        for b in sent
    )
    assert page_errors == []


async def test_send_an_image_by_mms_from_the_composer(
    tmp_path: Path, page: Page, page_errors: list[str]
) -> None:
    from playwright.async_api import expect

    rest = RestDouble()
    async with (
        serve(rest.app()) as rest_url,
        hub_for_agents(
            SQLiteStore(tmp_path / "hub.db"),
            tmp_path,
            connectors={"twilio": twilio_settings(rest_url)},
            public_url=PUBLIC,
        ) as running,
        httpx.AsyncClient() as client,
    ):
        await running.agent("ana@example.com", name="Ana Agent")
        twilio = TwilioSide(running.url, client)
        assert (await twilio.sms("SMin1", "Can you send a photo of it?")).status_code == 200
        await page.goto(f"{running.url}/agent/login")
        await page.get_by_label("Email").fill("ana@example.com")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.locator("#inbox-rows tr", has_text="photo of it").locator("a.who").click()
        await page.get_by_label("Reply on").select_option("sms")
        await page.get_by_label("Message", exact=True).fill("Here it is")
        await page.locator("#reply-files").set_input_files(
            {"name": "label.png", "mimeType": "image/png", "buffer": PNG}
        )
        await expect(page.locator("#constraints")).to_contain_text("SMS: files up to 5 MB")
        await page.get_by_role("button", name="Send").click()
        mine = page.locator("li.ev.dir-out", has_text="Here it is")
        await expect(mine.locator(".delivery")).to_have_text("Sent")
        await expect(mine.locator(".attachments img")).to_have_attribute("alt", "label.png")
        [sent] = rest.messages
        [url] = sent["MediaUrls"].split()
        fetched = await client.get(running.url + url.removeprefix(PUBLIC))
        assert fetched.status_code == 200 and fetched.content == PNG
        assert page_errors == []
        await page.goto("about:blank")  # before the hub stops under the open page
