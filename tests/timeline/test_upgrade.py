"""A database written by the previous release opens, upgraded, with its data intact.

``releases/omnihub-0.1.0.*`` were written by release 0.1.0 (commit f137989)
through its store API: two customers (one merged into the other), identities,
conversations, inbound/outbound/note events with a delivery history, a
checkpoint, an API token, an agent with a read mark, a link suggestion and a
used link token. The MongoDB one is a JSON dump (documents and indexes).
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from bson import json_util

from hub.errors import ConfigError
from hub.timeline.model import ConversationStatus, DeliveryStatus, Direction, Identity
from hub.timeline.mongo import MongoStore
from hub.timeline.mongo import handoff as mongo_handoff
from hub.timeline.mongo.migrations import Migration, run_migrations
from hub.timeline.sqlite import SQLiteStore
from hub.timeline.sqlite import handoff as sqlite_handoff
from hub.timeline.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from hub.timeline.store import TimelineStore
from tests.timeline.factories import event

RELEASES = Path(__file__).parent / "releases"
ANA = Identity("email", "ana@example.com")
ANA_PHONE = Identity("phone", "+15551230001")
VISITOR = Identity("chat", "v_0123456789abcdef01234567")


def _copy_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "old.db"
    shutil.copyfile(RELEASES / "omnihub-0.1.0.db", path)
    return path


async def _load_mongo(uri: str) -> str:
    name = f"omnihub_upgrade_{uuid.uuid4().hex[:12]}"
    dump = json_util.loads((RELEASES / "omnihub-0.1.0.mongo.json").read_text())
    store = MongoStore(uri, database=name)
    store._connect()
    try:
        for collection, content in dump.items():
            for index in content["indexes"]:
                if index["name"] == "_id_":
                    continue
                options = {k: v for k, v in index.items() if k in ("unique", "sparse")}
                await store.db[collection].create_index(
                    list(index["key"].items()), name=index["name"], **options
                )
            if content["documents"]:
                await store.db[collection].insert_many(content["documents"])
    finally:
        await store._disconnect()
    return name


@pytest.fixture(params=["sqlite", pytest.param("mongo", marks=pytest.mark.mongo)])
async def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TimelineStore]:
    """The previous release's database, opened (and so upgraded) by this release."""
    store: TimelineStore
    if request.param == "sqlite":
        store = SQLiteStore(_copy_sqlite(tmp_path))
        await store.open()
        yield store
        await store.close()
    else:
        uri = request.getfixturevalue("mongo_uri")
        mongo = MongoStore(uri, database=await _load_mongo(uri))
        await mongo.open()
        yield mongo
        await mongo.drop_database()
        await mongo.close()


async def test_the_previous_release_s_data_reads_back_after_the_upgrade(
    old_store: TimelineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = await old_store.find_customer(ANA)
    assert ana is not None
    assert ana.name == "Ana Lima"
    assert {ANA, ANA_PHONE, VISITOR} <= set(ana.identities)
    merged = await old_store.find_customer(VISITOR)
    assert merged is not None and merged.id == ana.id

    page = await old_store.events(customer_id=ana.id, limit=50)
    texts = [e.text for e in page.items]
    assert texts[:2] == ["Where is my refund?", "We are on it"]
    assert "hello from chat" in texts
    reply = next(e for e in page.items if e.direction is Direction.OUT)
    assert reply.delivery is not None
    assert reply.delivery.status is DeliveryStatus.DELIVERED
    assert reply.delivery.provider_id == "SM0001"

    conv_id = page.items[0].conversation_id
    assert conv_id is not None
    conv = await old_store.get_conversation(conv_id)
    assert conv.status is ConversationStatus.RESOLVED
    assert conv.subject == "Refund for order 1042"
    assert conv.tags == ["refund"]

    assert await old_store.get_checkpoint("email", "support/INBOX") == {
        "uidvalidity": 7,
        "last_uid": 42,
    }
    assert await old_store.find_api_token("ab" * 32) is not None
    agent = await old_store.find_agent("sam@example.com")
    assert agent is not None and agent.is_admin
    marks = await old_store.read_marks(agent.id, [conv_id])
    assert marks[conv_id].seq == 2
    suggestion = await old_store.get_suggestion("sug_release_1")
    assert suggestion.identity == Identity("phone", "+15559990000")
    # the release used its link token a day before it expired: read it back on that day,
    # not today (an expired token is purged, as it should be)
    release_day = conv.opened_at + timedelta(minutes=5)
    for module in (sqlite_handoff, mongo_handoff):
        monkeypatch.setattr(module, "utcnow", lambda: release_day)
    assert not await old_store.use_link_token("jti_release_1", expires_at=release_day)


async def test_the_upgraded_database_takes_new_writes_in_order(old_store: TimelineStore) -> None:
    ana = await old_store.find_customer(ANA)
    assert ana is not None
    before = await old_store.events(customer_id=ana.id, limit=50)
    conv_id = before.items[0].conversation_id
    stored, created = await old_store.append_event(
        event(ana.id, conv_id, channel="email", text="Any news?", external_id="<m2@example.com>")
    )
    assert created
    assert stored.seq > max(e.seq for e in before.items)
    after = await old_store.events(customer_id=ana.id, cursor=before.newer, direction="newer")
    assert [e.text for e in after.items] == ["Any news?"]
    assert conv_id is not None
    assert (await old_store.get_conversation(conv_id)).status is ConversationStatus.OPEN


async def test_the_sqlite_file_records_the_current_schema_version(tmp_path: Path) -> None:
    path = _copy_sqlite(tmp_path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (1,)
    conn.close()
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()


def test_sqlite_steps_are_numbered_one_after_another() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(2, SCHEMA_VERSION + 1))


async def test_an_sqlite_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = _copy_sqlite(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    store = SQLiteStore(path)
    with pytest.raises(ConfigError, match="newer release"):
        await store.open()
    await store.close()


@pytest.mark.mongo
async def test_a_mongodb_database_from_a_newer_release_is_refused(mongo_uri: str) -> None:
    store = MongoStore(mongo_uri, database=await _load_mongo(mongo_uri))
    store._connect()
    await store.db["migrations"].insert_one({"_id": "9999-from-the-future", "state": "done"})
    try:
        with pytest.raises(ConfigError, match="newer release"):
            await store.open()
    finally:
        await store.drop_database()
        await store.close()


@pytest.mark.mongo
async def test_instances_starting_together_run_each_mongodb_step_once(mongo_uri: str) -> None:
    store = MongoStore(mongo_uri, database=f"omnihub_mig_{uuid.uuid4().hex[:12]}")
    store._connect()
    runs: list[str] = []
    started = asyncio.Event()
    release = asyncio.Event()

    async def step(db: object) -> None:
        runs.append("ran")
        started.set()
        await release.wait()

    steps = (Migration("0002-test", "a test step", step),)
    try:
        first = asyncio.create_task(run_migrations(store.db, steps))
        second = asyncio.create_task(run_migrations(store.db, steps))
        await asyncio.wait_for(started.wait(), 60)
        release.set()
        done = await asyncio.gather(first, second)
        assert sorted(done) == [[], ["0002-test"]]
        assert runs == ["ran"]
        record = await store.db["migrations"].find_one({"_id": "0002-test"})
        assert record is not None and record["state"] == "done"
        assert await run_migrations(store.db, steps) == []
    finally:
        await store.drop_database()
        await store.close()
