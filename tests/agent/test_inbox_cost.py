"""An inbox page costs the store the same number of round trips however many rows it has."""

from __future__ import annotations

import functools
import inspect
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.connectors.api import sign
from hub.timeline.store import TimelineStore
from tests.agent.kit import API_SECRET, Running, hub_for_agents


class Counting:
    """The store as the agent view sees it, counting every call the view makes."""

    def __init__(self, store: TimelineStore) -> None:
        self._store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        @functools.wraps(attr)
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return await attr(*args, **kwargs)

        return counted


@pytest.fixture
async def running(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Running]:
    async with hub_for_agents(store, tmp_path) as r:
        yield r


async def push(running: Running, n: int) -> None:
    payload = {
        "id": f"c-{n}",
        "from": f"email:customer{n}@example.com",
        "name": f"Customer {n}",
        "text": f"question {n}",
    }
    body = json.dumps(payload).encode()
    ts = str(int(time.time()))
    r = await running.client.post(
        "/connectors/api/messages",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Omnihub-Timestamp": ts,
            "X-Omnihub-Signature": sign(API_SECRET, ts, body),
        },
    )
    assert r.status_code == 201, r.text


async def test_an_inbox_page_costs_the_same_with_3_rows_as_with_30(running: Running) -> None:
    await running.agent("ana@example.com")
    counting = Counting(running.hub.store)
    costs: list[list[str]] = []
    async with running.signed_in("ana@example.com") as ana:
        running.hub.store = counting  # type: ignore[assignment]
        try:
            for total in (3, 30):
                for n in range(len(costs) and 3, total):
                    await push(running, n)
                counting.calls.clear()
                rows = await ana.client.get("/agent/fragments/inbox")
                costs.append(list(counting.calls))
                assert rows.text.count("data-unread=") == total
        finally:
            running.hub.store = counting._store
    assert costs[0] == costs[1]
    assert len(costs[1]) <= 8, costs[1]
