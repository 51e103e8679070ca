"""``/healthz`` tells the truth about the store: SQLite that cannot write is unhealthy,
and a MongoDB outage is answered within the configured server-selection timeout (and
ends when MongoDB is back)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from hub.app import build_app
from hub.settings import Settings
from hub.timeline.mongo import MongoStore
from hub.timeline.sqlite import SQLiteStore
from tests.conftest import missing_peer
from tests.ferretdb import FerretDB, find_ferretdb
from tests.servers import serve

HEALTH_TOKEN = "monitor-" + "h" * 24


@contextlib.contextmanager
def small_disk(where: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs at ``where`` (needs the right to mount, as root in CI has)."""
    where.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if mount is None or umount is None:
        pytest.skip("no mount command")
    mounted = subprocess.run(  # noqa: S603 - fixed arguments
        [mount, "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run([umount, "-l", str(where)], check=False)  # noqa: S603 - fixed arguments


def fill(path: Path) -> None:
    """Write to ``path`` until the disk is full."""
    with path.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass


@contextlib.asynccontextmanager
async def hub_on(
    store: SQLiteStore | MongoStore, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        security={"health_token": HEALTH_TOKEN},
    )
    app = build_app(settings, store=store)
    headers = {"authorization": f"Bearer {HEALTH_TOKEN}"}  # the details, as a monitor sees them
    async with (
        serve(app) as url,
        httpx.AsyncClient(base_url=url, timeout=14, headers=headers) as client,
    ):
        yield client


async def test_healthz_fails_while_the_sqlite_disk_is_full(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        store = SQLiteStore(disk / "hub.db")
        async with hub_on(store, tmp_path) as client:
            assert (await client.get("/healthz")).status_code == 200
            filler = disk / "filler"
            fill(filler)
            r = await client.get("/healthz")
            assert r.status_code == 503 and r.json()["store"]["ok"] is False
            os.remove(filler)
            assert (await client.get("/healthz")).status_code == 200


async def test_a_mongodb_outage_is_answered_before_twilio_gives_up(tmp_path: Path) -> None:
    binary = find_ferretdb()
    if binary is None:
        missing_peer("no ferretdb binary")
        return
    with FerretDB(binary, tmp_path / "ferret") as server:
        store = MongoStore(server.uri, database="health")  # the default timeout
        async with hub_on(store, tmp_path) as client:
            assert (await client.get("/healthz")).status_code == 200
            server.stop()
            # httpx gives up after 14 s, under Twilio's 15: PyMongo's own 30 s would not do
            for _ in range(2):  # the first fails on the dropped connection, then selection waits
                r = await client.get("/healthz")
                assert r.status_code == 503 and r.json()["store"]["ok"] is False
            await asyncio.to_thread(server.start)  # MongoDB comes back: so does the hub
            deadline = asyncio.get_running_loop().time() + 60
            while (r := await client.get("/healthz")).status_code != 200:
                assert asyncio.get_running_loop().time() < deadline, r.json()
                await asyncio.sleep(0.2)
            assert r.json()["store"]["ok"] is True


def test_the_store_timeout_setting_reaches_the_mongodb_client() -> None:
    settings = Settings(store="mongodb://127.0.0.1:1/hub", store_timeout=2.5)
    store = build_app(settings).state.hub.store
    assert isinstance(store, MongoStore) and store.server_selection_timeout == 2.5
