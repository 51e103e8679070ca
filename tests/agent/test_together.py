"""Working together: @mentions in notes alert the agent; transfers carry a note."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.agent.together import mentioned
from hub.bus import BusMessage
from hub.operations.service import ALERT
from hub.timeline.model import Agent, AgentRole
from hub.timeline.store import TimelineStore
from tests.agent.kit import Running, hub_for_agents


def _agent(agent_id: str, email: str, name: str, *, disabled: bool = False) -> Agent:
    return Agent(
        id=agent_id,
        email=email,
        name=name,
        password_hash="x",
        role=AgentRole.AGENT,
        disabled=disabled,
    )


def test_mentions_by_email_name_or_unambiguous_first_name() -> None:
    agents = [
        _agent("a1", "ana@example.com", "Ana Lima"),
        _agent("a2", "ben.k@example.com", "Ben Kim"),
        _agent("a3", "bo@example.com", "Ben Ode"),
        _agent("a4", "old@example.com", "Old Timer", disabled=True),
    ]
    found = mentioned("@Ana can you check? cc @ben.k, @bo and @ana again.", agents)
    assert [a.id for a in found] == ["a1", "a2", "a3"]
    assert mentioned("@ben is ambiguous; @old is gone; mail ana@example.com", agents) == []


@pytest.fixture
async def running(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Running]:
    async with hub_for_agents(store, tmp_path) as r:
        yield r


async def _next_alert(messages: asyncio.Queue[BusMessage]) -> BusMessage:
    return await asyncio.wait_for(messages.get(), timeout=5)


async def test_a_mention_alerts_that_agent_and_a_transfer_needs_a_note(running: Running) -> None:
    await running.agent("ana@example.com", name="Ana")
    ben = await running.agent("ben@example.com", name="Ben")
    conv = (await running.push("m-1", text="Hi"))["conversation_id"]
    alerts: asyncio.Queue[BusMessage] = asyncio.Queue()

    async def watch() -> None:
        with running.hub.bus.subscribe(lambda m: m.topic == ALERT) as sub:
            async for item in sub:
                if isinstance(item, BusMessage):
                    await alerts.put(item)

    watcher = asyncio.create_task(watch())
    try:
        async with running.signed_in("ana@example.com") as ana:
            note = await ana.post(
                f"/agent/conversations/{conv}/notes", {"text": "@ben VIP, be quick"}
            )
            assert note.status_code == 201
            assert note.json()["event"]["meta"]["mentions"] == [ben.id]
            alert = await _next_alert(alerts)
            assert alert.data["agent"] == ben.id and alert.data["reason"] == "mention"
            assert alert.data["text"] == "Ana: @ben VIP, be quick"

            url = f"/agent/conversations/{conv}/transfer"
            bare = await ana.post(url, {"agent": ben.id, "note": " "})
            assert bare.status_code == 422 and bare.json()["field"] == "note"
            both = await ana.post(url, {"agent": ben.id, "team": "billing", "note": "x"})
            assert both.status_code == 422
            moved = await ana.post(url, {"agent": ben.id, "note": "Refund approved, send label"})
            assert moved.status_code == 201, moved.text
            assert moved.json()["conversation"]["assignee"] == ben.id
            assert moved.json()["event"]["meta"]["transfer"]["agent"] == ben.id
            alert = await _next_alert(alerts)
            assert alert.data["agent"] == ben.id and alert.data["reason"] == "transfer"
        async with running.signed_in("ben@example.com") as b:
            page = (await b.client.get(f"/agent/conversations/{conv}")).text
            assert "Transferred to you by Ana" in page and "Refund approved, send label" in page
            team = await b.post(url, {"to": "team:billing", "note": "Needs a refund specialist"})
            assert team.status_code == 201
            assert team.json()["conversation"]["assignee"] is None
            assert "team:billing" in team.json()["conversation"]["tags"]
            page = (await b.client.get(f"/agent/conversations/{conv}")).text
            assert "Transferred to team billing by Ben" in page and "transferred 2 times" in page
    finally:
        watcher.cancel()
