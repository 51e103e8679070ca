"""Real Telegram updates (tests/connectors/payloads/telegram/, sources in its README)
posted with the webhook secret to a running hub: no 5xx, one event on replay, and
the agent view shows what the customer sent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.agent.auth import create_agent
from hub.timeline.model import AgentRole, Identity
from tests.agent.kit import PASSWORD, Agentside
from tests.connectors.telegram.test_telegram import Rig, rig

__all__ = ["rig"]

CASES = sorted((Path(__file__).parents[1] / "payloads" / "telegram").glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    case = load(path)
    return case


TAGS = re.compile(r"<[^>]+>")


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
async def test_real_update_is_stored_once_and_the_agent_sees_it(rig: Rig, path: Path) -> None:
    case = load(path)
    for file_id, file_path in (case.get("files") or {}).items():
        rig.bot.files[file_id] = (file_path, b"\x00real-bytes")
    first = await rig.post(case["payload"])
    assert first.status_code == 200 and first.json() == {"stored": True}, first.text
    replay = await rig.post(case["payload"])
    assert replay.status_code == 200 and replay.json() == {"duplicate": True}
    [event] = await rig.events(Identity("telegram", "23"))
    assert not event.meta.get("attachment_errors"), event.meta
    await create_agent(
        rig.hub.store, email="ana@agents.test", name="Ana", password=PASSWORD, role=AgentRole.ADMIN
    )
    async with httpx.AsyncClient(base_url=str(rig.client.base_url)) as client:
        assert (await Agentside(client).sign_in("ana@agents.test", PASSWORD)).status_code == 303
        r = await client.get(f"/agent/fragments/events/{event.id}")
    html: str = r.json()["html"]
    assert " ".join(TAGS.sub(" ", html.split("</header>", 1)[1]).split()), "empty bubble"
    for expected in case["shows"]:
        assert expected in html, f"{expected!r} not shown for {path.name}"
