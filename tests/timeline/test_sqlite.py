"""SQLite specifics the contract suite cannot see: the file, WAL, crash recovery."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from hub.timeline.model import Identity, utcnow
from hub.timeline.sqlite import SQLiteStore
from tests.timeline.factories import event, outbound

ANA = Identity("email", "ana@example.com")
ANA_PHONE = Identity("phone", "+14155550100")


def raw(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(sql, params).fetchall()
    conn.close()
    return rows


async def test_creates_the_file_and_its_directory_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "var" / "hub.db"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        assert await store.health() == {"store": "sqlite", "ok": True, "path": str(path)}
    finally:
        await store.close()
    assert raw(path, "PRAGMA journal_mode") == [("wal",)]
    assert (await store.health())["ok"] is False


async def test_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    store = SQLiteStore(path)
    await store.open()
    ana = await store.create_customer(identities=(ANA,))
    stored, _ = await store.append_event(event(ana.id, text="kept"))
    await store.close()

    again = SQLiteStore(path)
    await again.open()
    try:
        found = await again.find_customer(ANA)
        assert found is not None
        assert found.id == ana.id
        assert (await again.get_event(stored.id)).seq == stored.seq
        later, _ = await again.append_event(event(ana.id))
        assert later.seq > stored.seq
    finally:
        await again.close()


async def test_times_are_stored_as_sortable_utc_text(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    store = SQLiteStore(path)
    await store.open()
    ana = await store.create_customer()
    await store.append_event(event(ana.id))
    await store.close()
    [(occurred_at,)] = raw(path, "SELECT occurred_at FROM events")
    assert isinstance(occurred_at, str)
    assert occurred_at.endswith("+00:00")
    assert len(occurred_at) == len("2024-01-01T00:00:00.000000+00:00")


async def test_open_finishes_a_merge_a_crash_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    store = SQLiteStore(path)
    await store.open()
    email = await store.create_customer(identities=(ANA,))
    phone = await store.create_customer(identities=(ANA_PHONE,))
    await store.append_event(event(phone.id, text="from phone"))
    await store.close()
    # The first step of a merge, then the crash.
    raw(
        path,
        "UPDATE customers SET merged_into = ?, pending = 'merge' WHERE id = ?",
        (email.id, phone.id),
    )

    await store.open()
    try:
        target = await store.get_customer(email.id)
        assert target.identities == [ANA, ANA_PHONE]
        page = await store.events(customer_id=email.id)
        assert [e.text for e in page.items] == ["from phone"]
    finally:
        await store.close()
    assert raw(path, "SELECT count(*) FROM customers WHERE pending IS NOT NULL") == [(0,)]


async def test_open_finishes_an_unmerge_a_crash_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    store = SQLiteStore(path)
    await store.open()
    email = await store.create_customer(identities=(ANA,))
    phone = await store.create_customer(identities=(ANA_PHONE,))
    await store.merge_customers(phone.id, email.id)
    await store.close()
    raw(path, "UPDATE customers SET pending = 'unmerge' WHERE id = ?", (phone.id,))

    await store.open()
    try:
        restored = await store.get_customer(phone.id)
        assert restored.merged_into is None
        assert restored.identities == [ANA_PHONE]
    finally:
        await store.close()


async def test_two_connections_to_one_file_never_share_a_claim(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    one, two = SQLiteStore(path), SQLiteStore(path)
    await one.open()
    await two.open()
    try:
        ana = await one.create_customer()
        due = utcnow()
        for _ in range(8):
            await one.append_event(outbound(ana.id, due=due))
        batches = await asyncio.gather(
            *(s.claim_outbound(now=due, lease_seconds=30, limit=3) for s in (one, two, one, two))
        )
        ids = [e.id for batch in batches for e in batch]
        assert len(ids) == len(set(ids)) == 8

        customers = await asyncio.gather(
            *(s.get_or_create_customer(ANA) for s in (one, two, two, one))
        )
        assert len({c.id for c, _ in customers}) == 1
        assert [created for _, created in customers].count(True) == 1
    finally:
        await one.close()
        await two.close()


async def test_in_memory_store() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    try:
        customer, created = await store.get_or_create_customer(ANA)
        assert created
        assert (await store.get_customer(customer.id)).identities == [ANA]
    finally:
        await store.close()
