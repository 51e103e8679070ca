#!/usr/bin/env python
"""What the operations rules add to ingest, beside ingest without them (SQLite).

Three runs of N messages from N/4 customers through ``pipeline.ingest`` on a fresh
store each: operations off; operations on (each bus message handled before the
next ingest: triage, acknowledgement, escalation checks); and the sweep (SLA
clocks and time rules) over the open conversations that leaves. Figures are
printed, never asserted; compare the ratios, not absolute numbers.

    python benchmarks/operations.py --messages 400
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.bus import Bus, BusMessage
from hub.connectors.base import Capabilities, Channel, InboundMessage
from hub.operations import Operations, OperationsSettings
from hub.pipeline import Pipeline
from hub.timeline.model import Identity
from hub.timeline.sqlite import SQLiteStore

TEXTS = (
    "Hi, I was charged twice for my order last week, can you check?",
    "I cannot log in since this morning",
    "How do I export my invoices?",
    "Some of my data is missing from the dashboard",
)


def message(n: int, customers: int) -> InboundMessage:
    return InboundMessage(
        channel="email",
        external_id=f"bench-{n}",
        identity=Identity("email", f"customer{n % customers}@example.com"),
        text=f"{TEXTS[n % len(TEXTS)]} ({n})",
    )


async def run(messages: int, with_ops: bool) -> tuple[float, float | None, int]:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db")
        await store.open()
        bus = Bus(default_maxsize=100_000)
        channels = {"email": Channel("email", "email", Capabilities())}
        pipeline = Pipeline(store, bus, channels=channels)
        ops = Operations(pipeline, OperationsSettings(enabled=True)) if with_ops else None
        sub = bus.subscribe()
        customers = max(1, messages // 4)
        start = time.perf_counter()
        for n in range(messages):
            await pipeline.ingest(message(n, customers))
            while not sub._queue.empty():
                item = sub._queue.get_nowait()
                if ops is not None and isinstance(item, BusMessage):
                    await ops.handle(item)
        ingest = time.perf_counter() - start
        sweep = None
        if ops is not None:
            start = time.perf_counter()
            await ops.tick()
            sweep = time.perf_counter() - start
        await store.close()
        return ingest, sweep, customers


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args()
    off, _, customers = await run(args.messages, False)
    on, sweep, _ = await run(args.messages, True)
    per_off = off / args.messages * 1000
    per_on = on / args.messages * 1000
    print(f"SQLite, {args.messages} messages from {customers} customers")
    print(f"  ingest, operations off : {per_off:7.2f} ms/message")
    print(f"  ingest + operations    : {per_on:7.2f} ms/message  ({per_on / per_off:.1f}x)")
    print(f"  operations' own cost   : {per_on - per_off:7.2f} ms/message")
    if sweep is not None:
        print(
            f"  one sweep              : {sweep * 1000:7.1f} ms for {customers} open conversations"
            f" ({sweep / customers * 1000:.2f} ms each)"
        )


if __name__ == "__main__":
    asyncio.run(main())
