"""The widget speaks the visitor's language: ``data-lang``, else the browser's, from its
one strings table (English, German, French, Spanish, Portuguese), in Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.hubserver import LiveHub

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, Route

LANGUAGES = {"en", "de", "fr", "es", "pt"}
OPEN = {"en": "Open chat", "de": "Chat öffnen", "fr": "Ouvrir le chat", "es": "Abrir el chat",
        "pt": "Abrir o chat"}  # fmt: skip
PLACEHOLDER = {"en": "Type your message…", "de": "Ihre Nachricht…",
               "fr": "Écrivez votre message…", "es": "Escribe tu mensaje…",
               "pt": "Escreva a sua mensagem…"}  # fmt: skip


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveHub]:
    server = LiveHub(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def shop(page: Page, url: str, lang: str | None) -> None:
    """A page on the hub's origin embedding the widget with ``data-lang``."""
    attribute = f' data-lang="{lang}"' if lang else ""
    body = f'<!doctype html><title>Shop</title><script src="/widget.js"{attribute}></script>'

    async def fulfil(route: Route) -> None:
        await route.fulfill(body=body, content_type="text/html")

    await page.route(f"{url}/shop", fulfil)
    await page.goto(f"{url}/shop")


@pytest.mark.parametrize(
    ("locale", "lang", "expected"),
    [
        ("de-DE", None, "de"),
        ("pt-BR", None, "pt"),
        ("fr-FR", "es", "es"),
        ("en-US", "fr", "fr"),
        ("ja-JP", None, "en"),
        ("de-DE", "xx", "en"),
    ],
)
async def test_the_widget_picks_its_language(
    live: LiveHub, browser: Browser, locale: str, lang: str | None, expected: str
) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(locale=locale)
    context.set_default_timeout(10_000)
    try:
        page = await context.new_page()
        await shop(page, live.url, lang)
        await page.get_by_role("button", name=OPEN[expected]).click()
        box = page.get_by_role("textbox", name=PLACEHOLDER[expected])
        await expect(box).to_be_visible()
        assert await page.locator("#omnihub-widget .panel").get_attribute("lang") == expected
    finally:
        await context.close()


async def test_every_language_has_every_text(live: LiveHub, page: Page) -> None:
    await page.goto(f"{live.url}/demo")
    keys = await page.evaluate(
        """async () => {
            const src = await (await fetch("/widget.js")).text();
            const table = src.match(/var STRINGS = (\\{[\\s\\S]*?\\n  \\});/)[1];
            const S = Function("return " + table)();
            const out = {};
            for (const lang in S) out[lang] = [Object.keys(S[lang]).sort(),
                                                Object.keys(S[lang].channels).sort()];
            return out;
        }"""
    )
    assert set(keys) == LANGUAGES
    for lang in LANGUAGES:
        assert keys[lang] == keys["en"], lang
