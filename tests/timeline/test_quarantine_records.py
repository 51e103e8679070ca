"""The quarantine section of the store port, on SQLite and MongoDB (FerretDB)."""

from __future__ import annotations

import pytest

from hub.errors import NotFound
from hub.timeline.quarantine import QuarantinedMessage, QuarantineStatus, printable
from hub.timeline.store import TimelineStore


def record(
    key: str, reason: str = "UnicodeEncodeError: surrogates not allowed"
) -> QuarantinedMessage:
    return QuarantinedMessage(
        channel="email",
        key=key,
        reason=reason,
        raw_blob=f"blob-{key}",
        size=1234,
        source={"account": "support", "mailbox": "INBOX", "uidvalidity": 7, "uid": 42},
        summary="From: ex@example.com",
    )


async def test_quarantine_keeps_one_record_per_message_and_counts_attempts(
    store: TimelineStore,
) -> None:
    first, created = await store.quarantine(record("sha-1"))
    assert created and first.status is QuarantineStatus.PENDING and first.attempts == 1
    again, created = await store.quarantine(record("sha-1", "ValueError: still bad"))
    assert not created and again.id == first.id
    assert again.attempts == 2 and again.reason == "ValueError: still bad"
    other, _ = await store.quarantine(record("sha-2"))
    listed = await store.list_quarantined()
    assert [q.id for q in listed] == [other.id, first.id]
    fetched = await store.get_quarantined(first.id)
    assert fetched.source == {"account": "support", "mailbox": "INBOX", "uidvalidity": 7, "uid": 42}
    assert fetched.raw_blob == "blob-sha-1" and fetched.size == 1234


async def test_settling_a_retry_releases_or_counts_a_failure(store: TimelineStore) -> None:
    stuck, _ = await store.quarantine(record("sha-3"))
    failed = await store.settle_quarantined(stuck.id, released=False, reason="no From address")
    assert failed.status is QuarantineStatus.PENDING and failed.attempts == 2
    assert failed.reason == "no From address"
    released = await store.settle_quarantined(stuck.id, released=True, event_id="evt_1")
    assert released.status is QuarantineStatus.RELEASED and released.event_id == "evt_1"
    assert await store.list_quarantined() == []
    assert [q.id for q in await store.list_quarantined(status=None)] == [stuck.id]
    assert await store.list_quarantined(channel="sms", status=None) == []
    with pytest.raises(NotFound):
        await store.get_quarantined("qua_missing")
    with pytest.raises(NotFound):
        await store.settle_quarantined("qua_missing", released=True)


def test_printable_drops_surrogates_and_controls() -> None:
    assert printable("Gr\udcfc\udcdfe\x00!") == "Gr\ufffd\ufffde\ufffd!"
