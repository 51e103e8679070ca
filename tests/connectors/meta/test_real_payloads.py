"""Real provider payloads (tests/connectors/payloads/, sources in its README) posted,
signed as Meta signs them, to a running hub: none is a 5xx, a replay stores
nothing new, and the agent view shows what the customer sent (never an empty bubble)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.agent.auth import create_agent
from hub.timeline.model import AgentRole, Event
from tests.agent.kit import PASSWORD, Agentside
from tests.connectors.meta.conftest import MetaRig

PAYLOADS = Path(__file__).parents[1] / "payloads"
FOLDERS = ("whatsapp", "messenger", "instagram")
CASES = sorted(p for folder in FOLDERS for p in (PAYLOADS / folder).glob("*.json"))
TAGS = re.compile(r"<[^>]+>")


def load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text())
    return case


async def agent_view(meta: MetaRig, client: httpx.AsyncClient) -> Agentside:
    await create_agent(
        meta.hub.store, email="ana@agents.test", name="Ana", password=PASSWORD, role=AgentRole.ADMIN
    )
    side = Agentside(client)
    assert (await side.sign_in("ana@agents.test", PASSWORD)).status_code == 303
    return side


async def shown(side: Agentside, event: Event) -> str:
    r = await side.client.get(f"/agent/fragments/events/{event.id}")
    assert r.status_code == 200, r.text
    html: str = r.json()["html"]
    return html


def bubble_text(html: str) -> str:
    """What the article shows below its header, without markup."""
    body = html.split("</header>", 1)[1]
    return " ".join(TAGS.sub(" ", body).split())


async def inbound(meta: MetaRig) -> list[Event]:
    """Every inbound message the hub announced, as stored now."""
    await meta.until(lambda: any(e.direction.value == "in" for e in meta.latest.values()))
    found = [await meta.hub.store.get_event(i) for i in list(meta.latest)]
    return [e for e in found if e.direction.value == "in" and e.kind.value == "message"]


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_real_payload_is_stored_once_and_the_agent_sees_it(meta: MetaRig, path: Path) -> None:
    case = load(path)
    for media_id, mime in (case.get("media") or {}).items():
        meta.graph.media[media_id] = (b"\xff\xd8real-bytes", mime)
    first = await meta.post(case["payload"])
    assert first.status_code == 200, first.text
    assert first.json()["failed"] == 0 and first.json()["stored"] >= 1, first.json()
    replay = await meta.post(case["payload"])
    assert replay.status_code == 200 and replay.json()["stored"] == 0, replay.json()

    async with httpx.AsyncClient(base_url=str(meta.client.base_url)) as client:
        side = await agent_view(meta, client)
        events = await inbound(meta)
        assert events, "nothing reached a conversation"
        html = " ".join([await shown(side, e) for e in events])
        for event in events:
            assert bubble_text(await shown(side, event)), f"empty bubble for {event.external_id}"
    for expected in case["shows"]:
        assert expected in html, f"{expected!r} not shown for {path.name}"
