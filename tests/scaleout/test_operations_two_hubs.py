"""Two real ``omnihub serve`` processes with operations on, sweeping one store: each
SLA decision is stored (and acted on) once (SQLite file and MongoDB)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from hub.connectors.api import sign
from hub.timeline.model import Identity, Priority, utcnow
from hub.timeline.mongo import MongoStore
from hub.timeline.sqlite import SQLiteStore
from hub.timeline.store import TimelineStore
from tests.hubs import HubProcess, run_hubs
from tests.scaleout.test_two_hubs import _with_database

SECRET = "ops-two-hubs-api-secret-0123456789"


async def push(hub: HubProcess, payload: dict[str, object]) -> None:
    body = json.dumps(payload).encode()
    ts = str(int(time.time()))
    async with httpx.AsyncClient(base_url=hub.url, timeout=30) as client:
        r = await client.post(
            "/connectors/api/messages",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Omnihub-Timestamp": ts,
                "X-Omnihub-Signature": sign(SECRET, ts, body),
            },
        )
    assert r.status_code == 201, r.text


@pytest.fixture(params=["sqlite", pytest.param("mongo", marks=pytest.mark.mongo)])
async def shared(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, TimelineStore]]:
    store: TimelineStore
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        store = SQLiteStore(tmp_path / "shared.db")
    else:
        uri: str = request.getfixturevalue("mongo_uri")
        name = f"omnihub_ops_{uuid.uuid4().hex[:10]}"
        store = MongoStore(uri, database=name)
        url = _with_database(uri, name)
    await store.open()
    yield url, store
    if isinstance(store, MongoStore):
        await store.drop_database()
    await store.close()


async def _decisions(store: TimelineStore, identity: Identity) -> Counter[str]:
    customer = await store.find_customer(identity)
    if customer is None:
        return Counter()
    page = await store.events(customer_id=customer.id, limit=200)
    return Counter(str(e.meta["operations"]) for e in page.items if "operations" in e.meta)


async def test_two_hubs_sweeping_one_store_decide_each_rule_once(
    shared: tuple[str, TimelineStore], tmp_path: Path
) -> None:
    url, store = shared
    env = {
        "OMNIHUB_STORE": url,
        "OMNIHUB_BLOBS": str(tmp_path / "blobs"),
        "OMNIHUB_SECRET_KEY": "ops-two-hubs-secret-key-0123456789abcdef",
        "OMNIHUB_ENABLED_CONNECTORS": '["api"]',
        "OMNIHUB_CONNECTORS__API__SECRET": SECRET,
        "OMNIHUB_LOG_LEVEL": "warning",
        "OMNIHUB_OPERATIONS__ENABLED": "true",
        "OMNIHUB_OPERATIONS__CHECK_SECONDS": "0.2",
        "OMNIHUB_OPERATIONS__CALENDARS": '{"business": {"hours": {}}}',
    }
    async with run_hubs(2, tmp_path, env) as (a, b):
        two_hours_ago = (utcnow() - timedelta(hours=2)).isoformat()
        first = Identity("email", "first@example.com")
        await push(
            a,
            {
                "id": "m1",
                "from": str(first),
                "text": "I was charged twice",
                "timestamp": two_hours_ago,
            },
        )

        async def settled(identity: Identity) -> Counter[str]:
            async with asyncio.timeout(60):
                while True:
                    seen = await _decisions(store, identity)
                    if seen["sla_breach"]:
                        return seen
                    await asyncio.sleep(0.1)

        await settled(first)
        # A second conversation through the other hub: once its breach is in, both hubs
        # have swept the first one many times over.
        second = Identity("email", "second@example.com")
        await push(
            b,
            {
                "id": "m2",
                "from": str(second),
                "text": "Double charged!",
                "timestamp": two_hours_ago,
            },
        )
        await settled(second)
        for identity in (first, second):
            seen = await _decisions(store, identity)
            assert seen["triage"] == 1 and seen["sla_warning"] == 1, seen
            assert seen["sla_breach"] == 1, seen
        customer = await store.find_customer(first)
        assert customer is not None
        convs = await store.events(customer_id=customer.id, limit=50)
        conv = await store.get_conversation(convs.items[0].conversation_id or "")
        assert conv.priority is Priority.URGENT  # raised once: P2 → P1, not further
