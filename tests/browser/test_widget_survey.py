"""In Debian's Chromium: a resolved chat shows stars in the widget; the rating (and a
comment) lands on the conversation's timeline, once, without reopening it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from hub.settings import Settings
from hub.surveys.settings import SurveySettings
from hub.timeline.model import ConversationStatus
from tests.browser.hubserver import LiveHub
from tests.browser.test_widget import open_widget, say, visitor_of
from tests.operations.kit import until

if TYPE_CHECKING:
    from playwright.async_api import Page


class SurveyingHub(LiveHub):
    def settings(self) -> Settings:
        return super().settings().model_copy(update={"surveys": SurveySettings(enabled=True)})


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveHub]:
    server = SurveyingHub(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_stars_after_a_resolved_chat(
    live: LiveHub, page: Page, page_errors: list[str]
) -> None:
    from playwright.async_api import expect

    await open_widget(page, live.url)
    await say(page, "My order never came")
    visitor = await visitor_of(page)
    await expect(page.locator("li.msg.in")).to_have_count(1)
    reply = await live.reply(visitor, "I have refunded it for you.", author="Sam")
    conv = reply["conversation_id"]
    async with httpx.AsyncClient(base_url=live.url) as client:
        r = await client.patch(
            f"/api/v1/conversations/{conv}",
            json={"status": "resolved"},
            headers={"Authorization": f"Bearer {live.token}"},
        )
        assert r.status_code == 200, r.text

    rating = page.get_by_role("group", name="Rate our help")
    await expect(rating).to_be_visible()
    await rating.get_by_role("button", name="4 of 5 stars").click()
    await expect(rating.get_by_role("button", name="4 of 5 stars")).to_have_attribute(
        "aria-pressed", "true"
    )
    await rating.get_by_role("textbox", name="Anything to add? (optional)").fill("Fast, thanks")
    await rating.get_by_role("button", name="Send rating").click()
    await expect(page.get_by_text("Thank you for your rating!")).to_be_visible()

    assert live.hub is not None
    store = live.hub.store

    async def answers() -> list[dict[str, object]]:
        events = (await store.events(conversation_id=conv, limit=100)).items
        return [e.meta["survey"] for e in events if "survey" in e.meta]

    assert await until(answers) == [
        {"kind": "csat", "score": 4, "comment": "Fast, thanks", "channel": "chat"}
    ]
    assert (await store.get_conversation(conv)).status is ConversationStatus.RESOLVED
    assert page_errors == []
