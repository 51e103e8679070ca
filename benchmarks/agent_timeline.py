#!/usr/bin/env python
"""Open a customer with 100,000 events: time to the first timeline page.

Seeds one SQLite store (a customer, a conversation, N events across chat,
email and SMS), serves the real app on loopback and measures, in the same run:

* baseline — the raw SQL query for the newest page (aiosqlite, nothing of ours);
* HTTP floor — ``GET /healthz`` over the same loopback connection (what any
  request costs here before any timeline work);
* store — ``TimelineStore.events(customer_id=…, limit=50)``;
* API — ``GET /api/v1/customers/{id}/timeline?limit=50`` (bearer token, JSON);
* page — ``GET /agent/conversations/{id}`` signed in (the full HTML page:
  timeline, composer, customer panel, reply options);
* older — ``GET /agent/fragments/customers/{id}/events?cursor=…`` (scrolling up).

Figures are printed (median and p95 of ``--runs`` requests), never asserted.

    python benchmarks/agent_timeline.py
    python benchmarks/agent_timeline.py --events 20000 --runs 50
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosqlite
import httpx

from hub.agent.auth import create_agent
from hub.app import build_app
from hub.settings import Settings
from hub.timeline.model import AgentRole, Direction, Event, Identity, new_id, utcnow
from hub.timeline.sqlite import SQLiteStore
from hub.timeline.sqlite.base import insert_sql
from hub.timeline.sqlite.events import event_row
from hub.tokens import issue_token
from tests.servers import serve

CHANNELS = ("chat", "email", "sms")
PASSWORD = "benchmark password"


async def seed(store: SQLiteStore, count: int) -> tuple[str, str]:
    """A customer with ``count`` events in one conversation; (customer id, conversation id)."""
    customer = await store.create_customer(
        name="Ana Lima",
        identities=(Identity("email", "ana@example.com"), Identity("phone", "+15551230001")),
    )
    conv = await store.open_conversation(customer.id, channel="chat", subject="Order #4411")
    start = utcnow() - timedelta(days=365)
    async with store._write() as conn:  # bulk load: one transaction, the store's own row codec
        for i in range(count):
            channel = CHANNELS[i % 3]
            event = Event(
                id=new_id("evt"),
                customer_id=customer.id,
                conversation_id=conv.id,
                channel=channel,
                direction=Direction.IN if i % 2 == 0 else Direction.OUT,
                text=f"message {i} on {channel}: where is my order? " * 2,
                subject="Order #4411" if channel == "email" else None,
                external_id=f"bench-{i}",
                occurred_at=start + timedelta(seconds=300 * i),
                received_at=start + timedelta(seconds=300 * i),
                origin_customer_id=customer.id,
            )
            await conn.exec(*insert_sql("events", event_row(event)))
    return customer.id, conv.id


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    await call()  # warm up
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def line(name: str, samples: list[float], base: float) -> str:
    med = statistics.median(samples)
    p95 = sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]
    return f"{name:<34} median {med:8.2f} ms   p95 {p95:8.2f} ms   x{med / base:6.1f} baseline"


async def main(events: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hub.db"
        store = SQLiteStore(path)
        await store.open()
        t0 = time.perf_counter()
        customer_id, conv_id = await seed(store, events)
        print(f"seeded {events:,} events in {time.perf_counter() - t0:.1f} s (SQLite, {path.name})")
        await create_agent(
            store, email="ana@acme.test", name="Ana", password=PASSWORD, role=AgentRole.AGENT
        )
        _, token = await issue_token(store, "bench")
        await store.close()

        async with aiosqlite.connect(path) as raw:
            sql = "SELECT * FROM events WHERE customer_id = ? ORDER BY seq DESC LIMIT 50"

            async def baseline() -> object:
                async with raw.execute(sql, (customer_id,)) as cur:
                    return await cur.fetchall()

            base = await timed(runs, baseline)

        settings = Settings(
            store=str(path),
            blobs=str(Path(tmp) / "blobs"),
            secret_key="bench-key-0123456789abcdef",  # noqa: S106
        )
        app = build_app(settings)
        hub = app.state.hub
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/healthz")).status_code == 200  # started: store open
            store_page = await timed(
                runs, lambda: hub.store.events(customer_id=customer_id, limit=50)
            )
            auth = {"Authorization": f"Bearer {token}"}
            floor = await timed(runs, lambda: client.get("/healthz"))

            async def api() -> object:
                r = await client.get(
                    f"/api/v1/customers/{customer_id}/timeline?limit=50", headers=auth
                )
                assert r.status_code == 200
                assert len(r.json()["items"]) == 50
                return r

            api_page = await timed(runs, api)

            login = await client.get("/agent/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
            assert csrf
            r = await client.post(
                "/agent/login",
                data={"email": "ana@acme.test", "password": PASSWORD, "csrf": csrf.group(1)},
            )
            assert r.status_code == 303, r.text

            async def page() -> object:
                r = await client.get(f"/agent/conversations/{conv_id}")
                assert r.status_code == 200
                assert r.text.count('class="ev ') == 50
                return r

            html_page = await timed(runs, page)
            first = await client.get(f"/agent/conversations/{conv_id}")
            found = re.search(r'data-cursor="([^"]+)"', first.text)
            assert found
            cursor = found.group(1)

            async def older() -> object:
                r = await client.get(
                    f"/agent/fragments/customers/{customer_id}/events",
                    params={"cursor": cursor, "direction": "older"},
                )
                assert r.status_code == 200
                return r

            older_page = await timed(runs, older)

        b = statistics.median(base)
        print(f"first page of 50 of {events:,} events, {runs} runs each:")
        print(line("baseline: raw SQL (aiosqlite)", base, b))
        print(line("store.events()", store_page, b))
        print(line("HTTP floor: GET /healthz", floor, b))
        print(line("API /customers/{id}/timeline", api_page, b))
        print(line("page /agent/conversations/{id}", html_page, b))
        print(line("older page (scroll up fragment)", older_page, b))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.runs))
