"""The README's quick start, as a new user runs it: ``omnihub connectors list`` shows
every channel, ``omnihub serve`` on a random port, the widget on
``http://localhost:<port>/demo`` and an agent in the agent view talk to each other.

``$OMNIHUB_QUICKSTART_BIN`` names the ``omnihub`` to run (``.ci/run`` points it at
a fresh ``pip install .`` venv, and at one with the Docker image's dependency
set); by default the one beside this Python.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.agent.kit import PASSWORD
from tests.browser.test_widget import open_widget, say
from tests.test_cli import clean_env, free_port

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

OMNIHUB = os.environ.get("OMNIHUB_QUICKSTART_BIN") or str(Path(sys.executable).with_name("omnihub"))
BUILT_IN = {"api", "chat", "email", "meta", "telegram", "twilio"}


def env() -> dict[str, str]:
    """What a new user has: no OMNIHUB_* settings, and not this checkout on the path."""
    fresh = clean_env()
    if os.environ.get("OMNIHUB_QUICKSTART_BIN"):
        fresh.pop("PYTHONPATH", None)
    return fresh


async def omnihub(*args: str, cwd: Path, stdin: str = "") -> str:
    proc = await asyncio.create_subprocess_exec(
        OMNIHUB,
        *args,
        cwd=cwd,
        env=env(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[str]:
    """``omnihub serve --port <random>`` in an empty directory; yields its localhost URL."""
    await omnihub(
        "agents", "create", "sam@example.com", "--name", "Sam", "--password-stdin",
        cwd=tmp_path, stdin=PASSWORD + "\n",
    )  # fmt: skip
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        OMNIHUB, "serve", "--port", str(port),
        cwd=tmp_path, env=env(),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = b""
    try:
        async with asyncio.timeout(60):
            while b"Uvicorn running" not in (line := await proc.stderr.readline()):
                seen += line
                assert line, f"omnihub serve exited at start:\n{seen.decode()}"
        yield f"http://localhost:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)


async def test_every_built_in_channel_is_there(tmp_path: Path) -> None:
    listed = await omnihub("connectors", "list", cwd=tmp_path)
    states = dict(line.split("\t")[:2] for line in listed.strip().splitlines())
    assert {n: s for n, s in states.items() if s == "disabled"} == {}, listed
    assert set(states) >= BUILT_IN


async def test_the_widget_and_the_agent_view_talk(
    served: str, page: Page, browser: Browser, page_errors: list[str]
) -> None:
    from playwright.async_api import expect

    await open_widget(page, served)
    await say(page, "Hello from the quick start")
    agent = await browser.new_context(viewport={"width": 1280, "height": 800})
    agent.set_default_timeout(10_000)
    try:
        desk = await agent.new_page()
        await desk.goto(f"{served}/agent/login")
        await desk.get_by_label("Email").fill("sam@example.com")
        await desk.get_by_label("Password").fill(PASSWORD)
        await desk.get_by_role("button", name="Sign in").click()
        row = desk.locator("#inbox-rows tr", has_text="Hello from the quick start")
        await row.locator("a.who").click()
        box = desk.get_by_label("Message", exact=True)
        await box.fill("Welcome! How can I help?")
        await box.press("Control+Enter")
        await expect(page.locator("li.msg.out")).to_contain_text("Welcome! How can I help?")
    finally:
        await agent.close()
    assert page_errors == []
