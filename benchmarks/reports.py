#!/usr/bin/env python
"""The Reports dashboard over N conversations, beside the raw aggregation query.

Seeds one SQLite store with N conversations in one month (each: a customer message,
an agent reply, every third resolved with operations' ``resolved`` record, every
fifteenth answered a CSAT survey), bulk-loaded with the store's own row codecs. Then, in
the same run:

* baseline — one raw SQL ``GROUP BY`` over the conversations table (volume and
  wall-clock first response per channel, what the stored summaries alone give);
* collect — :func:`hub.metrics.service.collect` (conversations and customers read
  through the store port; a conversation's events only when its event mark moved since
  the cache measured them, see :mod:`hub.metrics.cache`) plus summarise and group: once
  with an empty cache (the first report after a start), then cached;
* page — ``GET /agent/reports`` signed in, through the real app on loopback (the
  whole dashboard: collect, four SVG charts, the tables, the macros), first with an
  empty cache, then cached.

Figures are printed (median of ``--runs``), never asserted.

    python benchmarks/reports.py                       # 100,000 conversations
    python benchmarks/reports.py --conversations 20000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosqlite
import httpx

from hub.agent.auth import create_agent
from hub.app import build_app
from hub.metrics.cache import cache_for
from hub.metrics.service import collect, group, policies_for, summarise
from hub.operations.settings import OperationsSettings
from hub.settings import Settings
from hub.surveys.records import answer_event, sent_event
from hub.timeline.model import (
    AgentRole,
    Conversation,
    ConversationStatus,
    Customer,
    Delivery,
    DeliveryStatus,
    Direction,
    Event,
    EventKind,
    new_id,
)
from hub.timeline.sqlite import SQLiteStore
from hub.timeline.sqlite.base import insert_sql
from hub.timeline.sqlite.conversations import conversation_row
from hub.timeline.sqlite.events import event_row
from tests.servers import serve

CHANNELS = ("chat", "email", "sms")
PASSWORD = "benchmark password"
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)
RAW = """
    SELECT last_channel, COUNT(*),
           AVG((julianday(first_response_at) - julianday(opened_at)) * 86400)
    FROM conversations WHERE opened_at >= ? AND opened_at < ? GROUP BY last_channel
"""


def _event(conv: Conversation, at: datetime, direction: Direction, **kw: object) -> Event:
    return Event(
        id=new_id("evt"),
        customer_id=conv.customer_id,
        conversation_id=conv.id,
        channel=str(kw.pop("channel", conv.last_channel)),
        direction=direction,
        occurred_at=at,
        received_at=at,
        origin_customer_id=conv.customer_id,
        **kw,  # type: ignore[arg-type]
    )


def _bulk(conn: sqlite3.Connection, batch: dict[str, list[Sequence[object]]]) -> None:
    for sql, params in batch.items():
        conn.executemany(sql, params)


async def seed(store: SQLiteStore, count: int) -> None:
    """``count`` conversations spread over November 2026 (see the module docstring)."""
    step = (UNTIL - SINCE).total_seconds() / count
    seq = 0
    batch: dict[str, list[Sequence[object]]] = {}

    def add(table: str, row: dict[str, object]) -> None:
        sql, params = insert_sql(table, row)
        batch.setdefault(sql, []).append(params)

    async with store._write() as conn:  # bulk load: one transaction, the store's row codecs
        for i in range(count):
            channel = CHANNELS[i % 3]
            opened = SINCE + timedelta(seconds=step * i)
            replied = opened + timedelta(minutes=5 + i % 240)
            customer = Customer(id=new_id("cus"), name=f"Customer {i}")
            batch.setdefault(
                "INSERT INTO customers (id, name, attributes, created_at, updated_at) "
                "VALUES (?, ?, '{}', ?, ?)",
                [],
            ).append((customer.id, customer.name, opened.isoformat(), opened.isoformat()))
            resolved = i % 3 == 0
            conv = Conversation(
                id=new_id("con"),
                customer_id=customer.id,
                status=ConversationStatus.RESOLVED if resolved else ConversationStatus.OPEN,
                channels=[channel],
                last_channel=channel,
                opened_at=opened,
                last_activity_at=replied + timedelta(hours=1),
                first_response_at=replied,
                resolved_at=replied + timedelta(hours=1) if resolved else None,
                origin_customer_id=customer.id,
                customer_channel=channel,
            )
            add("conversations", conversation_row(conv))
            events = [
                _event(conv, opened, Direction.IN, text="Where is my order?"),
                _event(
                    conv,
                    replied,
                    Direction.OUT,
                    text="It ships today.",
                    author="Sam",
                    delivery=Delivery(status=DeliveryStatus.SENT, next_attempt_at=None),
                ),
            ]
            if resolved:
                done = replied + timedelta(hours=1)
                events.append(
                    _event(
                        conv,
                        done,
                        Direction.INTERNAL,
                        channel="hub",
                        kind=EventKind.STATUS,
                        meta={"operations": "resolved"},
                    )
                )
                if i % 5 == 0:
                    events += [
                        sent_event(conv, "csat", channel, done),
                        answer_event(conv, "csat", 1 + i % 5, channel, done),
                    ]
            for event in events:
                seq += 1
                event.seq, event.origin_customer_id = seq, conv.customer_id
                add("events", event_row(event))
            if i % 5000 == 4999 or i == count - 1:
                await conn.engine.call(_bulk, batch)
                batch = {}


async def timed(fn: Callable[[], Awaitable[object]], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hub.db"
        store = SQLiteStore(path)
        await store.open()
        started = time.perf_counter()
        await seed(store, args.conversations)
        print(
            f"seeded {args.conversations:,} conversations in {time.perf_counter() - started:.1f} s"
        )

        async def raw() -> None:
            async with (
                aiosqlite.connect(path) as db,
                db.execute(RAW, (SINCE.isoformat(), UNTIL.isoformat())) as cur,
            ):
                await cur.fetchall()

        policies = policies_for(OperationsSettings())

        async def dashboard_data() -> None:
            facts = await collect(store, policies, since=SINCE, until=UNTIL)
            summarise(facts)
            group(facts, "channel")

        baseline = await timed(raw, args.runs)
        cold_data = await timed(dashboard_data, 1)  # the first report after a start
        data = await timed(dashboard_data, args.runs)
        await create_agent(
            store, email="lee@example.com", name="Lee", password=PASSWORD, role=AgentRole.AGENT
        )
        settings = Settings(store=str(path), blobs=str(Path(tmp) / "blobs"))
        app = build_app(settings, store=store)
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=600) as client:
            login = await client.get("/agent/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
            assert csrf is not None
            await client.post(
                "/agent/login",
                data={"email": "lee@example.com", "password": PASSWORD, "csrf": csrf.group(1)},
            )

            async def page() -> None:
                r = await client.get("/agent/reports?since=2026-11-01&until=2026-11-30")
                assert r.status_code == 200, r.status_code
                assert "<svg" in r.text

            cache_for(store).clear()
            cold = await timed(page, 1)
            shown = await timed(page, args.runs)
        await store.close()
    n = args.conversations
    rows = [
        ("raw SQL GROUP BY (baseline)", baseline),
        ("collect, first after start", cold_data),
        ("collect + summarise + group", data),
        ("GET /agent/reports, first", cold),
        ("GET /agent/reports", shown),
    ]
    for label, seconds in rows:
        ratio = f"  ({seconds / baseline:,.0f}x)" if seconds is not baseline else ""
        print(f"{label:<34} {seconds * 1000:10.1f} ms{ratio}")
    print(f"per conversation: {data / n * 1e6:.1f} µs (collect), {shown / n * 1e6:.1f} µs (page)")


if __name__ == "__main__":
    asyncio.run(main())
