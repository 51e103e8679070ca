"""Bus fan-out: what one publish costs beside many idle subscriptions.

A publish concerns one customer; the subscription waiting for it is filed under
that customer. The baseline is the same publish on a bus with that one
subscription only ("one of one"). Beside it: the same bus with 4,999 more
subscriptions, each filed under another customer (indexed, as the hub
subscribes now), and — what the bus did before subscriptions were indexed —
4,999 unkeyed subscriptions whose filters each look at every message. The last
two rows are the receiving side of the MongoDB bus: another instance's message
decoded from its document and fanned out, with one and with 5,000 subscriptions.

    python benchmarks/bus_fanout.py [--idle 4999] [--publishes 20000]

Prints microseconds per publish (median of 5 rounds) and the ratio to the
baseline; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from hub.bus import Bus, BusMessage, Topic
from hub.bus.mongo import MongoBus
from hub.bus.wire import message_to_doc
from hub.timeline.model import utcnow

ROUNDS = 5


def message(customer: str) -> BusMessage:
    return BusMessage(Topic.TYPING, customer, data={"from": "agent", "typing": True})


def idle(bus: Bus, count: int, *, indexed: bool) -> None:
    for n in range(count):
        customer = f"cus_idle_{n}"
        if indexed:
            bus.subscribe(customer=customer)
        else:
            bus.subscribe(lambda m, c=customer: m.customer_id == c)


def time_once(bus: Bus, publishes: int, publish: Callable[[int], None]) -> float:
    """Microseconds per ``publish(n)`` for ``n`` in ``range(publishes)``."""
    target = bus.subscribe(customer="cus_target", maxsize=publishes + 1)
    start = time.perf_counter()
    for n in range(publishes):
        publish(n)
    elapsed = (time.perf_counter() - start) / publishes * 1e6
    target.close()
    return elapsed


def median_of_rounds(bus: Bus, publishes: int, publish: Callable[[int], None]) -> float:
    time_once(bus, publishes, publish)  # warm-up
    return statistics.median(time_once(bus, publishes, publish) for _ in range(ROUNDS))


def local(idle_count: int, publishes: int, *, indexed: bool) -> float:
    bus = Bus()
    idle(bus, idle_count, indexed=indexed)
    hello = message("cus_target")
    return median_of_rounds(bus, publishes, lambda _: bus.publish(hello))


def remote(idle_count: int, publishes: int) -> float:
    """Another instance's messages as the tail reads them: decoded, then fanned out."""
    bus = MongoBus(lambda: None)  # type: ignore[arg-type,return-value]  # never started
    idle(bus, idle_count, indexed=True)
    doc = message_to_doc(message("cus_target"), origin="other", n=0, at=utcnow())
    sequence = iter(range(1, 1 << 62))
    return median_of_rounds(bus, publishes, lambda _: bus._receive(doc | {"n": next(sequence)}))


async def main(args: argparse.Namespace) -> None:
    n, p = args.idle, args.publishes
    rows: list[tuple[str, float]] = [
        ("in-process, one of one (baseline)", local(0, p, indexed=True)),
        (f"in-process, one of {n + 1:,} indexed", local(n, p, indexed=True)),
        (  # every filter runs on every publish: fewer publishes keep the run short
            f"in-process, one of {n + 1:,} unindexed filters (before)",
            local(n, max(p // 50, 10), indexed=False),
        ),
        ("MongoDB bus receiving, one of one", remote(0, p)),
        (f"MongoDB bus receiving, one of {n + 1:,} indexed", remote(n, p)),
    ]
    base = rows[0][1]
    print(f"{'publish to one subscription':<58} {'µs/publish':>11} {'x baseline':>11}")
    for name, micros in rows:
        print(f"{name:<58} {micros:>11.2f} {micros / base:>11.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=4999, help="idle subscriptions beside it")
    parser.add_argument("--publishes", type=int, default=20000, help="publishes per round")
    options: Any = parser.parse_args()
    asyncio.run(main(options))
