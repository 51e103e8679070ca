"""The browser fixtures themselves: Chromium starts and renders a served page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.servers import serve

if TYPE_CHECKING:
    from playwright.async_api import Page


async def test_chromium_renders_a_served_page(
    page: Page, page_errors: list[str], artifacts: Path
) -> None:
    async def home(request: object) -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>t</title><h1 id=h>hello</h1>")

    async with serve(Starlette(routes=[Route("/", home)]), lifespan="off") as url:
        await page.goto(url)
        assert await page.text_content("#h") == "hello"
        shot = artifacts / "fixtures.png"
        await page.screenshot(path=str(shot))
        assert shot.stat().st_size > 0
    assert page_errors == []
