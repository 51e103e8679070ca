"""Two hub instances on one MongoDB: how long a change on one takes to show on the other.

Starts a FerretDB (``ferretdb`` on PATH, unless ``--mongo URI``) and two real
``omnihub serve`` processes on one database. A widget and an agent page (its live
socket) are connected to hub A; replies are sent and customer messages pushed, one
at a time, through A (the baseline: one instance, the in-process fan-out) and
through B (the MongoDB bus: B's writer, the capped collection, A's tail). Each is
timed from the request to its arrival on A's socket.

    python benchmarks/two_hubs.py [--rounds 20] [--mongo mongodb://…]

Prints median / p95 / max in milliseconds per path; asserts nothing. On FerretDB
the bus is polled every 50 ms (it has no ``awaitData`` worth using), which bounds
what the cross-instance rows can show; MongoDB waits in the server instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from hub.agent.auth import create_agent
from hub.timeline.model import AgentRole, Identity
from hub.timeline.mongo import MongoStore
from hub.timeline.store import InboxFilter
from hub.tokens import issue_token
from tests.agent.kit import PASSWORD
from tests.ferretdb import FerretDB, find_ferretdb
from tests.hubs import HubProcess, run_hubs
from tests.scaleout.live import API_SECRET, agent_live, agent_session, push, widget
from tests.scaleout.test_two_hubs import _with_database

AGENT = "bench@example.com"


@contextlib.asynccontextmanager
async def mongo(uri: str | None) -> AsyncIterator[str]:
    if uri:
        yield uri
        return
    binary = find_ferretdb()
    if binary is None:
        raise SystemExit("no ferretdb on PATH: pass --mongo URI")
    with tempfile.TemporaryDirectory() as tmp, FerretDB(binary, Path(tmp)) as server:
        yield server.uri


class Arrivals:
    """When each frame's id arrived on one socket (read in the background)."""

    def __init__(self, ws: Any, id_of: Callable[[dict[str, Any]], str | None]) -> None:
        self.at: dict[str, float] = {}
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._read(ws, id_of))

    async def _read(self, ws: Any, id_of: Callable[[dict[str, Any]], str | None]) -> None:
        while True:
            frame = json.loads(await ws.recv())
            found = id_of(frame)
            if found is not None:
                self.at.setdefault(found, time.perf_counter())
                self.changed.set()

    async def since(self, start: float, frame_id: str) -> float:
        """Milliseconds from ``start`` until ``frame_id`` arrived."""
        async with asyncio.timeout(60):
            while frame_id not in self.at:
                self.changed.clear()
                await self.changed.wait()
        return (self.at[frame_id] - start) * 1000

    def stop(self) -> None:
        self.task.cancel()


def summary(name: str, millis: list[float]) -> str:
    ordered = sorted(millis)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{name:<44} {statistics.median(ordered):>8.1f} {p95:>8.1f} {ordered[-1]:>8.1f}"


async def main(args: argparse.Namespace) -> None:
    async with mongo(args.mongo) as uri:
        name = f"omnihub_bench_{uuid.uuid4().hex[:8]}"
        store = MongoStore(uri, database=name)
        await store.open()
        _, token = await issue_token(store, "bench")
        await create_agent(
            store, email=AGENT, name="Bench", password=PASSWORD, role=AgentRole.AGENT
        )
        env = {
            "OMNIHUB_STORE": _with_database(uri, name),
            "OMNIHUB_SECRET_KEY": "bench-two-hubs-secret-key-0123456789",
            "OMNIHUB_ENABLED_CONNECTORS": '["api", "chat"]',
            "OMNIHUB_CONNECTORS__API__SECRET": API_SECRET,
            "OMNIHUB_LOG_LEVEL": "warning",
        }
        try:
            with tempfile.TemporaryDirectory() as tmp:
                async with run_hubs(2, Path(tmp), env) as (a, b):
                    rows = await measure(a, b, store, token, args.rounds)
        finally:
            await store.drop_database()
            await store.close()
    print(f"{'path (to a socket on hub A)':<44} {'median':>8} {'p95':>8} {'max':>8}  ms")
    for row in rows:
        print(row)


async def measure(
    a: HubProcess, b: HubProcess, store: MongoStore, token: str, rounds: int
) -> list[str]:
    rows: list[str] = []
    async with widget(a) as visitor, agent_session(a, AGENT) as browser:
        await visitor.say("c0", "hello")
        customer = await store.find_customer(Identity("chat", visitor.visitor))
        assert customer is not None
        convs = await store.list_conversations(InboxFilter(status=(), customer_id=customer.id))
        path = f"/api/v1/conversations/{convs.items[0].id}/reply"
        headers = {"Authorization": f"Bearer {token}"}
        replies = Arrivals(visitor.ws, lambda f: f["event"]["id"] if f["type"] == "event" else None)
        for hub, label in (
            (a, "agent reply via A, widget on A (baseline)"),
            (b, "agent reply via B, widget on A"),
        ):
            async with httpx.AsyncClient(base_url=hub.url, timeout=60) as api:
                millis = []
                for n in range(rounds):
                    start = time.perf_counter()
                    r = await api.post(
                        path, json={"text": f"reply {n}", "channel": "chat"}, headers=headers
                    )
                    r.raise_for_status()
                    millis.append(await replies.since(start, r.json()["id"]))
            rows.append(summary(label, millis))
        replies.stop()
        async with agent_live(a, browser) as live:
            inbound = Arrivals(
                live, lambda f: f.get("event_id") if f.get("topic") == "event.created" else None
            )
            for hub, label in (
                (a, "inbound via A, agent page on A (baseline)"),
                (b, "inbound via B, agent page on A"),
            ):
                millis = []
                for n in range(rounds):
                    start = time.perf_counter()
                    payload = {
                        "id": f"{label}-{n}",
                        "from": f"email:bench{n}@example.com",
                        "text": "hi",
                    }
                    created = await push(hub, payload)
                    millis.append(await inbound.since(start, created["event_id"]))
                rows.append(summary(label, millis))
            inbound.stop()
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--mongo", default=None, help="a MongoDB URI (default: start FerretDB)")
    asyncio.run(main(parser.parse_args()))
