"""Framing and headers: another site cannot frame the hub's pages; HTML has a CSP; HSTS on HTTPS.

Chromium loads an attacker's page (another origin) that frames ``/demo`` and a
link page; the frames stay empty. A site listed in ``security.frame_ancestors``
(a widget host) may frame the demo.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from hub.app import build_app
from hub.settings import Settings
from hub.timeline.store import TimelineStore
from tests.servers import serve

if TYPE_CHECKING:
    from playwright.async_api import Page


def hub_settings(tmp_path: Path, public_url: str = "", **security: Any) -> Settings:
    return Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        secret_key="framing-tests-secret-key-0123456789",
        public_url=public_url or "http://127.0.0.1:8000",
        connectors={"chat": {"availability": "online"}},
        security=security,
    )


def framer(target: str) -> Starlette:
    async def page(request: Request) -> HTMLResponse:
        path = request.query_params["path"]
        return HTMLResponse(
            f'<!doctype html><h1>attacker</h1><iframe id="f" src="{target}{path}"></iframe>'
        )

    return Starlette(routes=[Route("/", page)])


@contextlib.asynccontextmanager
async def hub_and_site(
    store: TimelineStore, tmp_path: Path, allow_site: bool = False
) -> AsyncIterator[tuple[str, str]]:
    """(hub URL, framing site URL); the site is allowed to frame when ``allow_site``."""
    site = framer("")
    async with serve(site) as site_url:
        ancestors = (site_url,) if allow_site else ()
        app = build_app(hub_settings(tmp_path, frame_ancestors=ancestors), store=store)
        async with serve(app) as hub_url:
            site.router.routes = framer(hub_url).router.routes
            yield hub_url, site_url


async def _framed_text(page: Page, site_url: str, path: str) -> str:
    await page.goto(f"{site_url}/?path={path}")
    frame_element = await page.wait_for_selector("#f", state="attached")
    frame = await frame_element.content_frame()
    assert frame is not None
    with contextlib.suppress(Exception):
        await frame.wait_for_load_state("load", timeout=5_000)
    try:
        return await frame.evaluate("document.body ? document.body.innerText : ''")
    except Exception:  # a blocked frame is an error page the test cannot read
        return ""


@pytest.mark.parametrize(
    ("path", "marker"),
    [
        ("/demo", "Acme Outdoor Gear"),
        ("/c/not-a-real-token", "Link not available"),
        ("/agent/login", "Sign in to Omnihub"),
    ],
)
async def test_another_site_cannot_frame_the_hubs_pages(
    store: TimelineStore, tmp_path: Path, page: Page, path: str, marker: str
) -> None:
    async with hub_and_site(store, tmp_path) as (hub_url, site_url):
        async with httpx.AsyncClient() as client:
            assert marker in (await client.get(f"{hub_url}{path}")).text
        assert marker not in await _framed_text(page, site_url, path)


async def test_a_configured_widget_host_may_frame_the_demo(
    store: TimelineStore, tmp_path: Path, page: Page
) -> None:
    async with hub_and_site(store, tmp_path, allow_site=True) as (_, site_url):
        text = await _framed_text(page, site_url, "/demo")
    assert "Acme Outdoor Gear" in text


async def test_every_html_route_has_a_csp_with_frame_ancestors(
    store: TimelineStore, tmp_path: Path
) -> None:
    app = build_app(hub_settings(tmp_path), store=store)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        for path in ("/demo", "/c/not-a-real-token", "/agent/login"):
            r = await client.get(path)
            assert r.headers["content-type"].startswith("text/html"), path
            csp = r.headers["content-security-policy"]
            assert "frame-ancestors" in csp and "object-src 'none'" in csp, path
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "strict-transport-security" not in r.headers  # public URL is http


async def test_hsts_when_the_public_url_is_https(store: TimelineStore, tmp_path: Path) -> None:
    app = build_app(hub_settings(tmp_path, "https://hub.example.com"), store=store)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        for path in ("/demo", "/healthz", "/widget.js"):
            r = await client.get(path)
            assert r.headers["strict-transport-security"].startswith("max-age="), path


def test_frame_ancestors_must_be_origins() -> None:
    with pytest.raises(ValueError, match="origin"):
        Settings(security={"frame_ancestors": ["https://ok.example; script-src *"]})
