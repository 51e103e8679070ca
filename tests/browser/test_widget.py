"""The widget in Debian's Chromium: the demo page, a conversation, reload, other tabs,
a server restart, hostile text, and a screenshot of the open widget."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.hubserver import LiveHub

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page


DOCS_SHOT = Path(__file__).resolve().parents[2] / "docs" / "widget.png"
HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveHub]:
    server = LiveHub(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def visitor_of(page: Page) -> str:
    """The visitor id the widget got (read through its own socket state)."""
    token = await page.evaluate("localStorage.getItem('omnihub:default:token')")
    assert token, "the widget stored no visitor token"
    handle = await page.wait_for_function("window.Omnihub && window.Omnihub.loaded")
    await handle.dispose()
    return str(
        await page.evaluate(
            "JSON.parse(atob(localStorage.getItem('omnihub:default:token').split('.')[0]"
            ".replace(/-/g,'+').replace(/_/g,'/'))).v"
        )
    )


async def open_widget(page: Page, url: str) -> None:
    await page.goto(f"{url}/demo")
    await page.get_by_role("button", name="Open chat").click()
    await page.get_by_role("textbox", name="Type your message…").wait_for()


async def say(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Type your message…")
    await box.fill(text)
    await box.press("Enter")


def bubbles(page: Page, direction: str) -> object:
    return page.locator(f"li.msg.{direction}")


async def test_a_conversation_in_the_widget(
    live: LiveHub, page: Page, context: BrowserContext, page_errors: list[str], artifacts: Path
) -> None:
    from playwright.async_api import expect

    await open_widget(page, live.url)
    await expect(page.get_by_role("dialog", name="Chat with us")).to_be_visible()
    await say(page, "Hi! Where is my order #1042? https://shop.example.com/orders/1042")
    sent = page.locator("li.msg.in").first
    await expect(sent).to_have_attribute("data-id", re.compile(r"^evt_"))
    link = sent.get_by_role("link")
    await expect(link).to_have_attribute("href", "https://shop.example.com/orders/1042")
    await expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")

    visitor = await visitor_of(page)
    await live.reply(visitor, "Hi Ana, it left our warehouse this morning.", author="Sam")
    reply = page.locator("li.msg.out")
    await expect(reply).to_have_count(1)
    await expect(reply).to_contain_text("it left our warehouse this morning")
    await expect(reply.locator(".who")).to_have_text("Sam")
    await expect(page.locator("[aria-live=polite]")).to_contain_text("warehouse")

    # hostile text both ways renders as text
    await say(page, HOSTILE)
    await live.reply(visitor, HOSTILE)
    await expect(page.locator("li.msg.in").nth(1)).to_have_text(HOSTILE)
    await expect(page.locator("li.msg.out").nth(1)).to_contain_text(HOSTILE)
    assert await page.locator("li.msg img").count() == 0
    assert await page.evaluate("window.pwned === undefined")

    shot = artifacts / "widget.png"
    await page.screenshot(path=str(shot))
    if os.environ.get("OMNIHUB_UPDATE_SCREENSHOTS"):
        DOCS_SHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_SHOT)
    print(f"screenshot: {shot}")

    # reload: the history comes back, in order, nothing doubled
    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    texts = [
        "Hi! Where is my order #1042? https://shop.example.com/orders/1042",
        "Hi Ana, it left our warehouse this morning.",
        HOSTILE,
        HOSTILE,
    ]
    await expect(page.locator("li.msg")).to_have_count(4)
    seen = await page.locator("li.msg").all_inner_texts()
    assert [t.removeprefix("Sam\n").removeprefix("Support\n") for t in seen] == texts

    # another tab of the same browser shows the same history and gets replies live
    other = await context.new_page()
    await open_widget(other, live.url)
    await expect(other.locator("li.msg")).to_have_count(4)
    await page.get_by_role("button", name="Close chat").click()
    await live.reply(visitor, "Anything else?")
    await expect(other.locator("li.msg.out").last).to_contain_text("Anything else?")
    launcher = page.get_by_role("button", name="Open chat (1 unread)")
    await expect(launcher).to_be_visible()
    await expect(page.locator(".badge")).to_have_text("1")
    assert page_errors == []


async def test_server_restart_loses_and_doubles_nothing(live: LiveHub, page: Page) -> None:
    from playwright.async_api import expect

    await open_widget(page, live.url)
    await say(page, "before the restart")
    await expect(page.locator("li.msg.in").first).to_have_attribute("data-id", re.compile(r"^evt_"))
    visitor = await visitor_of(page)

    await live.stop()
    await expect(page.get_by_role("status")).to_have_text("Reconnecting…")
    await say(page, "typed while the server was down")
    await expect(page.get_by_text("Waiting for connection…")).to_be_visible()
    await live.start()
    await live.reply(visitor, "answered while the widget was reconnecting")

    await expect(page.locator("li.msg.out")).to_have_count(1, timeout=20_000)
    await expect(page.locator("li.msg.in").nth(1)).to_have_attribute(
        "data-id", re.compile(r"^evt_")
    )
    await expect(page.get_by_text("Sending…")).to_have_count(0)
    await expect(page.get_by_text("Waiting for connection…")).to_have_count(0)
    await expect(page.locator("li.msg")).to_have_count(3)
    stored = [e.text for e in await live.timeline(visitor) if e.kind.value == "message"]
    assert sorted(stored) == [  # each once; the reply was stored before the resend
        "answered while the widget was reconnecting",
        "before the restart",
        "typed while the server was down",
    ]
    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.locator("li.msg")).to_have_count(3)


async def test_keyboard_only_and_mobile_layout(live: LiveHub, page: Page) -> None:
    from playwright.async_api import expect

    await page.set_viewport_size({"width": 375, "height": 700})
    await page.goto(f"{live.url}/demo")
    launcher = page.get_by_role("button", name="Open chat")
    await launcher.focus()
    await page.keyboard.press("Enter")
    box = page.get_by_role("textbox", name="Type your message…")
    await expect(box).to_be_focused()
    dialog = page.get_by_role("dialog", name="Chat with us")
    size = await dialog.bounding_box()
    assert size is not None and size["width"] == 375 and size["height"] == 700
    await page.keyboard.type("from the keyboard")
    await page.keyboard.press("Enter")
    await expect(page.locator("li.msg.in")).to_have_text("from the keyboard")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(launcher).to_be_focused()
