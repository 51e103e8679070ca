"""Sign-in abuse: lock-outs of other people, password spraying, and concurrent guesses.

Clients are told apart by their address; the test hub runs behind loopback,
its trusted proxy, so each client sends its own ``X-Forwarded-For``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

import hub.agent.auth
from hub.security.throttle import SignInThrottle
from hub.timeline.store import TimelineStore
from tests.agent.kit import PASSWORD, Running, csrf_of, hub_for_agents

ATTACKER = {"X-Forwarded-For": "203.0.113.9"}
AGENT_HOME = {"X-Forwarded-For": "198.51.100.7"}


@pytest.fixture
async def running(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Running]:
    async with hub_for_agents(
        store,
        tmp_path,
        max_failed_sign_ins=5,
        security={"client_sign_in_failures": 12, "sign_in_backoff_seconds": 600},
    ) as r:
        yield r


class Browser:
    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.client = httpx.AsyncClient(base_url=url, headers=headers)
        self.token = ""

    async def __aenter__(self) -> Browser:
        page = await self.client.get("/agent/login")
        self.token = csrf_of(page.text)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def sign_in(self, email: str, password: str) -> int:
        r = await self.client.post(
            "/agent/login", data={"email": email, "password": password, "csrf": self.token}
        )
        return r.status_code


async def test_a_stranger_cannot_lock_an_agent_out_of_their_own_browser(running: Running) -> None:
    await running.agent("ana@example.com")
    async with Browser(running.url, ATTACKER) as attacker:
        answers = [await attacker.sign_in("ana@example.com", f"guess-{i}") for i in range(6)]
        assert answers == [401, 401, 401, 401, 429, 429]
        assert await attacker.sign_in("ana@example.com", PASSWORD) == 429
    async with Browser(running.url, AGENT_HOME) as ana:
        assert await ana.sign_in("ana@example.com", PASSWORD) == 303


async def test_one_client_spraying_many_accounts_is_throttled_and_logged(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(30):
        await running.agent(f"agent{n}@example.com")
    with caplog.at_level(logging.WARNING, logger="hub.security"):
        async with Browser(running.url, ATTACKER) as attacker:
            answers = [
                await attacker.sign_in(f"agent{n}@example.com", "Winter2026!") for n in range(30)
            ]
            assert await attacker.sign_in("agent29@example.com", PASSWORD) == 429
    assert answers == [401] * 12 + [429] * 18
    assert "sign-in spraying: client 203.0.113.9 failed 12 sign-ins across 12 accounts" in (
        caplog.text
    )
    async with Browser(running.url, AGENT_HOME) as agent:
        assert await agent.sign_in("agent29@example.com", PASSWORD) == 303


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the real password checks the sign-in runs."""
    checked: list[str] = []
    real: Callable[[str, str], Awaitable[bool]] = hub.agent.auth.verify_password_async

    async def counting(password: str, stored: str) -> bool:
        checked.append(password)
        return await real(password, stored)

    monkeypatch.setattr(hub.agent.auth, "verify_password_async", counting)
    return checked


async def test_forty_concurrent_guesses_run_at_most_the_allowed_checks(
    running: Running, password_checks: list[str]
) -> None:
    await running.agent("ana@example.com")
    async with Browser(running.url, ATTACKER) as attacker:
        answers = await asyncio.gather(
            *(attacker.sign_in("ana@example.com", f"guess-{i}") for i in range(40))
        )
        assert len(password_checks) == 5
        assert sorted(answers) == [401] * 4 + [429] * 36
        assert await attacker.sign_in("ana@example.com", PASSWORD) == 429


async def test_guesses_racing_a_success_get_no_extra_checks(
    running: Running, password_checks: list[str]
) -> None:
    await running.agent("ana@example.com")
    async with Browser(running.url, ATTACKER) as attacker:
        for i in range(4):
            assert await attacker.sign_in("ana@example.com", f"guess-{i}") == 401
        answers = await asyncio.gather(
            attacker.sign_in("ana@example.com", PASSWORD),
            *(attacker.sign_in("ana@example.com", f"late-{i}") for i in range(5)),
        )
    assert len(password_checks) == 5  # the one slot left went to one of them
    assert answers.count(429) == 5
    async with Browser(running.url, ATTACKER) as again:
        after = await again.sign_in("ana@example.com", PASSWORD)
    # a success leaves the pair open; a guess that took the slot locked it
    assert after == (303 if 303 in answers else 429)


def test_locks_back_off_doubling_up_to_the_cap_and_a_success_resets_them() -> None:
    now = [0.0]
    throttle = SignInThrottle(
        max_failures=2,
        backoff=30,
        cap=100,
        client_failures=1000,
        client_window=60,
        clock=lambda: now[0],
    )
    pair = ("ana@example.com", "203.0.113.9")

    def locks_seen(rounds: int, *, ok: bool = False) -> list[float]:
        lengths: list[float] = []
        while len(lengths) < rounds:
            start = now[0]
            while (attempt := throttle.begin(*pair)) is None:
                now[0] += 1
            if now[0] > start:
                lengths.append(now[0] - start)
            throttle.finish(attempt, ok=ok and len(lengths) == rounds)
        return lengths

    assert locks_seen(4, ok=True) == [30, 60, 100, 100]
    assert locks_seen(1) == [30]
