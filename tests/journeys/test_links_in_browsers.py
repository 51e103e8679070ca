"""Continuation links in Debian's Chromium: opened in the browser that asked, a link
restores the conversation there; opened in another browser profile it proves
nothing and shows nothing; another site cannot open a link in someone's browser
(login CSRF, issue 15 item 2)."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from hub.timeline.model import Identity
from tests.browser.test_widget import open_widget, say, visitor_of
from tests.journeys.conftest import LINK, Site, texts, widget
from tests.servers import serve

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

SECRET = "My order 4321 to 9 Oak Road is missing"


async def link_for(site: Site, token: str, to: str) -> str:
    """Ask for "email me this conversation" to ``to``; the link's local path."""
    before = len(site.smtp.received)
    r = await site.ask("email_transcript", to, token)
    assert r.status_code == 202, r.text
    await site.rig.settled(r.json()["event_id"])
    mail = (await site.smtp.wait_for(before + 1))[-1]
    assert mail["To"] == to.removeprefix("email:")
    plain = mail.get_body(("plain",))
    assert plain is not None
    [url] = LINK.findall(plain.get_content())
    return site.rig.local(url)


async def widget_token(page: Page) -> str:
    token = await page.evaluate("localStorage.getItem('omnihub:default:token')")
    assert token
    return str(token)


async def test_a_link_restores_only_in_the_browser_that_asked(
    site: Site, page: Page, browser: Browser
) -> None:
    from playwright.async_api import expect

    rig = site.rig
    await open_widget(page, rig.url)
    await say(page, SECRET)
    visitor = await visitor_of(page)
    await rig.until(lambda: any(e.channel == "chat" for e in rig.latest.values()))
    token = await widget_token(page)

    # Opened in another browser profile: nothing shown, nothing linked.
    elsewhere = await link_for(site, token, "email:ana@example.com")
    other = await browser.new_context()
    try:
        stranger = await other.new_page()
        await stranger.goto(rig.url + elsewhere)
        await stranger.get_by_role("button", name="Continue").click()
        await expect(stranger.get_by_role("heading", name="Thank you")).to_be_visible()
        assert SECRET not in await stranger.content()
        assert await stranger.evaluate("localStorage.getItem('omnihub:default:token')") is None
    finally:
        await other.close()
    assert await rig.hub.store.find_customer(Identity("email", "ana@example.com")) is None

    # Opened in the browser that asked: the address is hers and the chat continues.
    here = await link_for(site, token, "email:ana@example.com")
    await page.goto(rig.url + here)
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_text(SECRET).first).to_be_visible()
    assert await widget_token(page) == token
    customer = await site.customer_id(Identity("chat", visitor))
    assert await site.customer_id(Identity("email", "ana@example.com")) == customer
    assert len(await site.conversations()) == 1
    [conv] = await site.conversations()
    kinds = [(e["channel"], e["kind"]) for e in await site.events(conv["id"])]
    assert kinds.count(("hub", "handoff")) == 1
    assert "/c/" not in texts(await site.seen_by(token))


async def test_another_site_cannot_open_a_link_in_someone_elses_browser(
    site: Site, page: Page
) -> None:
    rig = site.rig
    # The attacker asks for a link to their own conversation and reads their mail.
    async with widget(rig) as sock:
        welcome, _ = await sock.hello()
        await sock.say("a1", "attacker's planted conversation")
    path = await link_for(site, welcome["token"], "email:mallory@example.net")
    asked = await rig.client.get(path)
    found = re.search(r'name="confirm" value="([^"]+)"', asked.text)
    assert found is not None
    confirm = html.unescape(found.group(1))

    # The victim visits the attacker's page, which posts the link to the hub.
    form = (
        f'<form id="f" method="post" action="{rig.url}{path}">'
        f'<input name="confirm" value="{html.escape(confirm)}">'
        '<input name="visitor" value=""></form>'
        "<script>document.getElementById('f').submit()</script>"
    )
    evil = Starlette(routes=[Route("/", lambda _: HTMLResponse(form))])
    async with serve(evil) as evil_url:
        await page.goto(evil_url.replace("127.0.0.1", "localhost"))
        await page.wait_for_url(f"{rig.url}{path}")
        assert "Open this link from the message we sent you" in await page.content()
    assert "attacker's planted" not in await page.content()
    assert await page.evaluate("localStorage.getItem('omnihub:default:token')") is None
    cookies = await page.context.cookies(rig.url)
    assert "omnihub_handoff" not in {c["name"] for c in cookies}
    # Nothing was consumed: the attacker's own link still opens for the attacker.
    assert (await rig.open_link(path)).status_code == 200
