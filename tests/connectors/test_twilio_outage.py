"""Voice while the store refuses writes: the caller is answered in time, the call is recorded
once the store is back, and status callbacks get a 5xx (Twilio retries) instead of a 200.

Real outages: SQLite on a full disk (a 2 MiB tmpfs), and a FerretDB server stopped and
started again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx

from hub.app import build_app
from hub.settings import Settings
from hub.timeline.mongo import MongoStore
from hub.timeline.sqlite import SQLiteStore
from hub.timeline.store import TimelineStore
from tests.conftest import missing_peer
from tests.connectors.test_twilio import twilio_settings
from tests.connectors.twilio_kit import PUBLIC, RestDouble, TwilioSide, parse_twiml, verbs
from tests.ferretdb import FerretDB, find_ferretdb
from tests.servers import serve
from tests.test_health import fill, small_disk
from tests.waiting import until

STORE_TIMEOUT = 8.0
"""How long the MongoDB client looks for a server: longer than the voice answer's budget."""


class SamePortFerretDB(FerretDB):
    """FerretDB that comes back on the port it had (the hub's client keeps its URI)."""

    def command(self) -> list[str]:
        port = self.port
        argv = super().command()
        if port:
            self.port = port
            argv = [
                f"--listen-addr=127.0.0.1:{port}" if a.startswith("--listen-addr") else a
                for a in argv
            ]
        return argv


@contextlib.asynccontextmanager
async def twilio_hub(store: TimelineStore, tmp_path: Path) -> AsyncIterator[TwilioSide]:
    rest = RestDouble()
    async with serve(rest.app()) as rest_url:
        settings = Settings(
            store=str(tmp_path / "unused.db"),
            blobs=str(tmp_path / "blobs"),
            public_url=PUBLIC,
            connectors={"twilio": twilio_settings(rest_url)},
        )
        app = build_app(settings, store=store)
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=14) as client:
            assert (await client.get("/healthz")).status_code == 200  # started
            yield TwilioSide(url, client)


async def call_through_an_outage(
    twilio: TwilioSide,
    store: TimelineStore,
    outage: Callable[[], Awaitable[None]],
    recovery: Callable[[], Awaitable[None]],
) -> None:
    await outage()
    async with asyncio.timeout(STORE_TIMEOUT):  # Twilio's caller is not left waiting on the store
        answer = await twilio.post("/voice", twilio.call_params("CA1", "ringing"))
    assert answer.status_code == 200
    assert verbs(parse_twiml(answer.text)) == ["Say", "Dial"]  # put through all the same
    ended = twilio.call_params("CA1", "completed", CallDuration="42")
    refused = await twilio.post("/voice/status", ended)
    assert refused.status_code == 503 and refused.headers["retry-after"]  # not a 200: not stored

    await recovery()

    async def recorded() -> bool:
        return await store.find_event("voice", "CA1:ringing") is not None

    await until(recorded, within=60)
    retried = await twilio.post("/voice/status", ended)  # Twilio's retry of the status callback
    assert retried.status_code == 200
    completed = await store.find_event("voice", "CA1:completed")
    ringing = await store.find_event("voice", "CA1:ringing")
    assert completed is not None and ringing is not None
    assert completed.conversation_id == ringing.conversation_id


async def test_a_call_during_a_full_disk_is_answered_and_recorded_afterwards(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        store = SQLiteStore(disk / "hub.db")
        filler = disk / "filler"

        async def outage() -> None:
            await asyncio.to_thread(fill, filler)

        async def recovery() -> None:
            os.remove(filler)

        async with twilio_hub(store, tmp_path) as twilio:
            await call_through_an_outage(twilio, store, outage, recovery)


async def test_a_call_during_a_mongodb_outage_is_answered_and_recorded_afterwards(
    tmp_path: Path,
) -> None:
    binary = find_ferretdb()
    if binary is None:
        missing_peer("no ferretdb binary")
        return
    server = SamePortFerretDB(binary, tmp_path / "ferret")
    await asyncio.to_thread(server.start)
    try:
        store = MongoStore(server.uri, database="outage", server_selection_timeout=STORE_TIMEOUT)

        async def outage() -> None:
            await asyncio.to_thread(server.stop)

        async def recovery() -> None:
            await asyncio.to_thread(server.start)

        async with twilio_hub(store, tmp_path) as twilio:
            await call_through_an_outage(twilio, store, outage, recovery)
    finally:
        await asyncio.to_thread(server.stop)
