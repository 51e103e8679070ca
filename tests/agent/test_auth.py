"""Sign-in, sessions, CSRF, lockout and sign-out of the agent view, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hub.agent.passwords import hash_password, verify_password
from hub.timeline.store import TimelineStore
from tests.agent.kit import PASSWORD, Running, csrf_of, hub_for_agents


@pytest.fixture
async def running(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Running]:
    async with hub_for_agents(store, tmp_path, max_failed_sign_ins=3) as r:
        yield r


def test_password_hashes_are_salted_and_verify() -> None:
    one, two = hash_password("a long password"), hash_password("a long password")
    assert one != two and one.startswith("scrypt$")
    assert verify_password("a long password", one)
    assert not verify_password("a long passworD", one)
    assert not verify_password("x", "not-a-hash")


async def test_signed_out_pages_redirect_to_sign_in_and_scripts_get_401(
    running: Running,
) -> None:
    r = await running.client.get("/agent/")
    assert r.status_code == 303
    assert r.headers["location"] == "/agent/login?next=%2Fagent%2F"
    r = await running.client.get("/agent/conversations/con_x?tab=1")
    assert r.headers["location"] == "/agent/login?next=%2Fagent%2Fconversations%2Fcon_x%3Ftab%3D1"
    r = await running.client.get("/agent/fragments/inbox")
    assert r.status_code == 401
    r = await running.client.post(
        "/agent/conversations/con_x/reply",
        data={"text": "hi"},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 401


async def test_sign_in_sets_a_hardened_session_cookie(running: Running) -> None:
    await running.agent("ana@example.com", name="Ana Agent")
    async with httpx.AsyncClient(base_url=running.url) as client:
        page = await client.get("/agent/login")
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        r = await client.post(
            "/agent/login",
            data={"email": "ANA@example.com", "password": PASSWORD, "csrf": csrf_of(page.text)},
        )
        assert r.status_code == 303 and r.headers["location"] == "/agent/"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/agent" in cookie
        assert "secure" not in cookie  # plain HTTP here
        inbox = await client.get("/agent/")
        assert inbox.status_code == 200 and "Ana Agent" in inbox.text


async def test_cookie_is_secure_behind_https(running: Running) -> None:
    await running.agent("ana@example.com")
    https = {"X-Forwarded-Proto": "https"}  # what a TLS proxy on loopback says
    async with httpx.AsyncClient(base_url=running.url, headers=https) as client:
        page = await client.get("/agent/login")
        assert "secure" in page.headers["set-cookie"].lower()


async def test_wrong_password_and_unknown_email_look_the_same(running: Running) -> None:
    await running.agent("ana@example.com")
    for email, password in (("ana@example.com", "wrong password!"), ("who@example.com", "x")):
        async with httpx.AsyncClient(base_url=running.url) as client:
            page = await client.get("/agent/login")
            r = await client.post(
                "/agent/login",
                data={"email": email, "password": password, "csrf": csrf_of(page.text)},
            )
            assert r.status_code == 401
            assert "Wrong email or password." in r.text
            assert (await client.get("/agent/")).status_code == 303


async def test_sign_in_without_csrf_token_is_refused(running: Running) -> None:
    await running.agent("ana@example.com")
    async with httpx.AsyncClient(base_url=running.url) as client:
        await client.get("/agent/login")
        r = await client.post(
            "/agent/login", data={"email": "ana@example.com", "password": PASSWORD}
        )
        assert r.status_code == 403
        assert (await client.get("/agent/")).status_code == 303


async def test_repeated_failures_lock_that_client_out(running: Running) -> None:
    await running.agent("ana@example.com")
    async with httpx.AsyncClient(base_url=running.url) as client:
        page = await client.get("/agent/login")
        token = csrf_of(page.text)
        answers = []
        for password in ("nope-1", "nope-2", "nope-3", PASSWORD):
            r = await client.post(
                "/agent/login",
                data={"email": "ana@example.com", "password": password, "csrf": token},
            )
            answers.append(r.status_code)
        assert answers == [401, 401, 429, 429]  # the right password no longer opens it
        assert "locked" in r.text


async def test_state_changes_need_this_sessions_csrf_token(running: Running) -> None:
    await running.agent("ana@example.com")
    await running.agent("bob@example.com")
    created = await running.push("m-1", text="Where is my order?")
    conv = created["conversation_id"]
    async with (
        running.signed_in("ana@example.com") as ana,
        running.signed_in("bob@example.com") as bob,
    ):
        missing = await ana.post(f"/agent/conversations/{conv}/notes", {"text": "x"}, csrf="")
        assert missing.status_code == 403 and "CSRF" in missing.json()["error"]
        borrowed = await ana.post(
            f"/agent/conversations/{conv}/notes", {"text": "x"}, csrf=bob.csrf
        )
        assert borrowed.status_code == 403
        plain_form = await ana.client.post(f"/agent/conversations/{conv}/notes", data={"text": "x"})
        assert plain_form.status_code == 403
        page = await running.hub.store.events(conversation_id=conv)
        assert [e.kind.value for e in page.items] == ["message"]  # nothing was written

        ok = await ana.post(f"/agent/conversations/{conv}/notes", {"text": "checked"})
        assert ok.status_code == 201
        form = await ana.client.post(
            f"/agent/conversations/{conv}/notes", data={"text": "again", "csrf": ana.csrf}
        )
        assert form.status_code == 303
        assert form.headers["location"] == f"/agent/conversations/{conv}"


async def test_sign_out_ends_the_session_everywhere(running: Running) -> None:
    await running.agent("ana@example.com")
    async with running.signed_in("ana@example.com") as ana:
        stolen = dict(ana.client.cookies)
        refused = await ana.post("/agent/logout", csrf="")
        assert refused.status_code == 403
        r = await ana.client.post("/agent/logout", data={"csrf": ana.csrf})
        assert r.status_code == 303 and r.headers["location"] == "/agent/login"
        assert (await ana.client.get("/agent/")).status_code == 303
    async with httpx.AsyncClient(base_url=running.url, cookies=stolen) as replay:
        assert (await replay.get("/agent/")).status_code == 303


async def test_disabling_an_agent_ends_their_session(running: Running) -> None:
    agent = await running.agent("bob@example.com")
    await running.agent("root@example.com", admin=True)
    async with (
        running.signed_in("bob@example.com") as bob,
        running.signed_in("root@example.com") as root,
    ):
        assert (await bob.client.get("/agent/")).status_code == 200
        r = await root.client.post(
            f"/agent/admin/agents/{agent.id}", data={"op": "disable", "csrf": root.csrf}
        )
        assert r.status_code == 303
        assert (await bob.client.get("/agent/")).status_code == 303
        again = await bob.sign_in("bob@example.com", PASSWORD)
        assert again.status_code == 401
