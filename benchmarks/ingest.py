#!/usr/bin/env python
"""Push N messages through ``pipeline.ingest`` on each store and print the figures.

Beside each run, a baseline measured in the same process: the raw driver
writing one equivalent row/document per message (one commit each), i.e. what
the storage stack can do with nothing of ours in the way. Figures are printed,
never asserted; compare the ratio, not absolute numbers across machines.

Also counted, per message: SQL statements and transactions on SQLite, commands
on MongoDB — for a new customer's first message and for a known customer's —
and throughput at rising concurrency (units of different customers never wait
for each other).

    python benchmarks/ingest.py                      # SQLite, and MongoDB if reachable
    python benchmarks/ingest.py --messages 2000 --stores sqlite
    OMNIHUB_TEST_MONGODB_URI=mongodb://… python benchmarks/ingest.py --stores mongo

MongoDB: the URI above, else a FerretDB started from ``ferretdb`` on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosqlite
from pymongo import AsyncMongoClient, monitoring

from hub.bus import Bus
from hub.connectors.base import InboundMessage
from hub.handoff.continuity import HandoffPolicy
from hub.pipeline import Pipeline
from hub.settings import HandoffSettings
from hub.timeline.model import Identity
from hub.timeline.mongo import MongoStore
from hub.timeline.sqlite import SQLiteStore
from hub.timeline.store import TimelineStore
from tests.ferretdb import FerretDB, find_ferretdb

TEXT = "Hi, I ordered a blue kettle last week and it has not arrived yet. Can you check?"


def message(n: int, customers: int) -> InboundMessage:
    who = n % customers
    return InboundMessage(
        channel="api",
        external_id=f"bench-{n}",
        identity=Identity("email", f"customer{who}@example.com"),
        text=f"{TEXT} ({n})",
        customer_name=f"Customer {who}",
    )


def report(name: str, latencies: list[float], elapsed: float) -> float:
    rate = len(latencies) / elapsed
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    print(f"  {name:<28} {rate:>9,.0f} msg/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    return rate


async def timed(n: int, op: Callable[[int], Awaitable[object]]) -> tuple[list[float], float]:
    latencies: list[float] = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        await op(i)
        latencies.append(time.perf_counter() - t0)
    return latencies, time.perf_counter() - start


async def sqlite_baseline(path: Path, n: int) -> tuple[list[float], float]:
    async with aiosqlite.connect(path) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute(
            "CREATE TABLE events"
            " (seq INTEGER PRIMARY KEY, key TEXT UNIQUE, customer TEXT, body TEXT)"
        )

        async def insert(i: int) -> None:
            await db.execute(
                "INSERT INTO events (key, customer, body) VALUES (?, ?, ?)",
                (f"api\x1fbench-{i}", f"customer{i % 500}", f"{TEXT} ({i})"),
            )
            await db.commit()

        return await timed(n, insert)


async def mongo_baseline(uri: str, n: int, *, lookup: bool) -> tuple[list[float], float]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
    db = client[f"bench_base_{uuid.uuid4().hex[:8]}"]
    try:
        await db.events.create_index("key", unique=True)

        async def insert(i: int) -> None:
            if lookup:
                await db.events.find_one({"key": f"api\x1fbench-{i}"})
            await db.events.insert_one(
                {
                    "key": f"api\x1fbench-{i}",
                    "customer": f"customer{i % 500}",
                    "body": f"{TEXT} ({i})",
                }
            )

        return await timed(n, insert)
    finally:
        await client.drop_database(db.name)
        await client.close()


def hub_pipeline(store: TimelineStore) -> Pipeline:
    """A pipeline with the handoff rules, as the hub runs it."""
    return Pipeline(store, Bus(), policies=[HandoffPolicy(HandoffSettings())])


async def through_pipeline(
    store: TimelineStore, n: int, customers: int
) -> tuple[list[float], float]:
    await store.open()
    pipeline = hub_pipeline(store)
    try:
        return await timed(n, lambda i: pipeline.ingest(message(i, customers)))
    finally:
        await store.close()


async def concurrent_rate(store: TimelineStore, n: int, concurrency: int) -> float:
    """Messages per second with ``concurrency`` ingests in flight (distinct customers)."""
    await store.open()
    pipeline = hub_pipeline(store)
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await pipeline.ingest(message(i + 1_000_000, n))

    try:
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - start)
    finally:
        await store.close()


class Commands(monitoring.CommandListener):
    """Counts the commands a MongoDB client sends."""

    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def round_trips(store: TimelineStore, counter: Callable[[], int]) -> dict[str, float]:
    """Per-message cost: a new customer's first message, then known customers'."""
    pipeline = hub_pipeline(store)
    samples = 50
    costs: dict[str, float] = {}
    for label, offset in (("new customer", 0), ("known customer", samples)):
        before = counter()
        for i in range(samples):
            await pipeline.ingest(
                InboundMessage(
                    channel="api",
                    external_id=f"count-{offset + i}",
                    identity=Identity("email", f"count{i}@example.com"),
                    text=f"{TEXT} ({offset + i})",
                    customer_name=f"Count {i}",
                )
            )
        costs[label] = (counter() - before) / samples
    return costs


async def sqlite_round_trips(path: Path) -> None:
    store = SQLiteStore(path)
    await store.open()
    statements: list[str] = []

    last = [""]

    def traced(sql: str) -> None:
        # SQLite traces a statement again "at the start of each trigger subprogram"
        # (sqlite3_trace_v2, SQLITE_TRACE_STMT): the same statement, not a new one.
        # What runs inside one (trigger bodies, FTS5's own writes) traces as "-- …".
        if sql.startswith("--"):
            statements.append(sql)
        elif sql != last[0]:
            statements.append(sql)
            last[0] = sql

    store.engine.on_statement = traced
    try:
        sql = await round_trips(store, lambda: sum(1 for s in statements if _is_sql(s)))
        transactions = await round_trips(
            store, lambda: sum(1 for s in statements if s.startswith("BEGIN"))
        )
    finally:
        await store.close()
    for label in sql:
        print(
            f"  per message, {label:<15} {sql[label]:5.1f} statements, "
            f"{transactions[label]:4.2f} transactions (target <= 8 new, <= 5 known; 1)"
        )


def _is_sql(statement: str) -> bool:
    """A statement the hub issued: not transaction control, and not one SQLite runs
    inside another (trigger bodies and FTS5's own writes trace as ``-- …``)."""
    return not statement.startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK", "--"))


async def server_name(uri: str) -> str:
    """``, FerretDB …`` when the server is FerretDB, whose figures need a caveat."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
    try:
        info = await client.admin.command("buildInfo")
    finally:
        await client.close()
    if "ferretdbVersion" not in info:
        return f", MongoDB {info.get('version', '?')}"
    return (
        f", FerretDB {info['ferretdbVersion']}: its SQLite backend uses indexes for `_id`"
        " lookups only, so every other query scans; not representative of MongoDB"
    )


@contextlib.asynccontextmanager
async def mongo_uri() -> AsyncIterator[str | None]:
    uri = os.environ.get("OMNIHUB_TEST_MONGODB_URI")
    if uri:
        yield uri
        return
    binary = find_ferretdb()
    if binary is None:
        yield None
        return
    with tempfile.TemporaryDirectory() as tmp, FerretDB(binary, Path(tmp)) as server:
        yield server.uri


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--stores", default="sqlite,mongo")
    args = parser.parse_args()
    stores = args.stores.split(",")
    n = args.messages
    print(f"ingest benchmark: {n:,} messages from {args.customers:,} customers, sequential")

    if "sqlite" in stores:
        with tempfile.TemporaryDirectory() as tmp:
            print("SQLite (aiosqlite, WAL, synchronous=NORMAL)")
            base = report(
                "baseline: raw insert+commit", *await sqlite_baseline(Path(tmp) / "b.db", n)
            )
            ours = report(
                "pipeline.ingest",
                *await through_pipeline(SQLiteStore(Path(tmp) / "hub.db"), n, args.customers),
            )
            print(f"  ratio to baseline: {ours / base:.2f}")
            for concurrency in (1, 8, 64):
                rate = await concurrent_rate(
                    SQLiteStore(Path(tmp) / f"c{concurrency}.db"), n, concurrency
                )
                print(f"  {concurrency:>3} in flight (group commit) {rate:>9,.0f} msg/s")
            await sqlite_round_trips(Path(tmp) / "count.db")

    if "mongo" in stores:
        async with mongo_uri() as uri:
            if uri is None:
                print("MongoDB: skipped (set OMNIHUB_TEST_MONGODB_URI or put ferretdb on PATH)")
                return
            print(f"MongoDB ({uri.split('@')[-1]}{await server_name(uri)})")
            base = report("baseline: raw insert_one", *await mongo_baseline(uri, n, lookup=False))
            report("baseline: find by key + insert", *await mongo_baseline(uri, n, lookup=True))
            store = MongoStore(uri, database=f"bench_{uuid.uuid4().hex[:8]}")
            ours = report("pipeline.ingest", *await through_pipeline(store, n, args.customers))
            print(f"  ratio to baseline: {ours / base:.2f}")
            await store.open()
            await store.drop_database()
            await store.close()
            for concurrency in (1, 4, 16):
                db = f"bench_c{concurrency}_{uuid.uuid4().hex[:8]}"
                rate = await concurrent_rate(MongoStore(uri, database=db), n // 4, concurrency)
                print(f"  {concurrency:>3} in flight                {rate:>9,.0f} msg/s")
                cleanup = MongoStore(uri, database=db)
                await cleanup.drop_database()
            listener = Commands()
            counted = MongoStore(
                uri, database=f"bench_n_{uuid.uuid4().hex[:8]}", event_listeners=[listener]
            )
            await counted.open()
            try:
                cost = await round_trips(counted, lambda: listener.count)
            finally:
                await counted.drop_database()
                await counted.close()
            for label, commands in cost.items():
                print(f"  per message, {label:<15} {commands:5.1f} commands (target <= 5)")


if __name__ == "__main__":
    asyncio.run(main())
