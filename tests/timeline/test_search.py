"""Store contract: search across every customer's timeline, and macro usage (both stores)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from pymongo import monitoring

from hub.errors import InvalidInput
from hub.timeline.model import Direction, EventKind, utcnow
from hub.timeline.search import parse_query, terms
from hub.timeline.store import ConversationUpdate, InvalidCursor, TimelineStore
from tests.timeline.factories import event


async def _texts(store: TimelineStore, q: str, **filters: object) -> list[str]:
    page = await store.search(parse_query(q, **filters))  # type: ignore[arg-type]
    return [e.text or "" for e in page.items]


async def test_words_match_every_customer_newest_first(store: TimelineStore) -> None:
    ana = await store.create_customer(name="Ana")
    ben = await store.create_customer(name="Ben")
    conv_a = await store.open_conversation(ana.id, channel="sms")
    conv_b = await store.open_conversation(ben.id, channel="email")
    await store.append_event(event(ana.id, conv_a.id, text="I was charged twice for my order"))
    await store.append_event(event(ben.id, conv_b.id, channel="email", text="Refund please"))
    await store.append_event(event(ben.id, conv_b.id, channel="email", text="Charged TWICE again"))
    await store.append_event(event(ana.id, conv_a.id, text="hello there"))

    assert await _texts(store, "twice charged") == [
        "Charged TWICE again",
        "I was charged twice for my order",
    ]
    assert await _texts(store, "refund") == ["Refund please"]
    assert await _texts(store, "nothing-like-this") == []


async def test_phrases_need_their_words_in_order(store: TimelineStore) -> None:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="chat")
    await store.append_event(event(ana.id, conv.id, channel="chat", text="my card was declined"))
    await store.append_event(event(ana.id, conv.id, channel="chat", text="declined, my card"))

    assert await _texts(store, '"card was declined"') == ["my card was declined"]
    assert sorted(await _texts(store, "card declined")) == [
        "declined, my card",
        "my card was declined",
    ]


async def test_case_and_accents_do_not_matter(store: TimelineStore) -> None:
    ana = await store.create_customer()
    await store.append_event(event(ana.id, text="Lieferung nach Zürich verspätet"))
    assert await _texts(store, "zurich VERSPATET") == ["Lieferung nach Zürich verspätet"]


async def test_subject_is_searched(store: TimelineStore) -> None:
    ana = await store.create_customer()
    record = event(ana.id, channel="email", text="see below")
    record.subject = "Invoice 4411 missing"
    await store.append_event(record)
    assert await _texts(store, "invoice 4411") == ["see below"]


async def test_notes_are_found_but_system_records_are_not(store: TimelineStore) -> None:
    ana = await store.create_customer()
    conv = await store.open_conversation(ana.id, channel="sms")
    await store.append_event(
        event(ana.id, conv.id, direction=Direction.INTERNAL, kind=EventKind.NOTE, text="vip ana")
    )
    await store.append_event(
        event(ana.id, conv.id, direction=Direction.INTERNAL, kind=EventKind.STATUS, text="vip ana")
    )
    page = await store.search(parse_query("vip"))
    assert [e.kind for e in page.items] == [EventKind.NOTE]


async def test_filters_channel_customer_date_and_tag(store: TimelineStore) -> None:
    ana = await store.create_customer()
    ben = await store.create_customer()
    sms = await store.open_conversation(ana.id, channel="sms")
    mail = await store.open_conversation(ben.id, channel="email")
    await store.update_conversation(mail.id, ConversationUpdate(tags=["billing", "vip"]))
    now = utcnow()
    old = now - timedelta(days=10)
    await store.append_event(event(ana.id, sms.id, text="parcel lost", at=old))
    await store.append_event(event(ana.id, sms.id, text="parcel found", at=now))
    await store.append_event(event(ben.id, mail.id, channel="email", text="parcel late", at=now))

    assert sorted(await _texts(store, "parcel", channel="sms")) == ["parcel found", "parcel lost"]
    assert await _texts(store, "parcel", customer_id=ben.id) == ["parcel late"]
    assert await _texts(store, "parcel", tag="billing") == ["parcel late"]
    assert await _texts(store, "parcel", tag="nobody") == []
    recent = await _texts(store, "parcel", since=now - timedelta(days=1))
    assert sorted(recent) == ["parcel found", "parcel late"]
    assert await _texts(store, "parcel", until=now - timedelta(days=1)) == ["parcel lost"]


async def test_pages_continue_by_cursor(store: TimelineStore) -> None:
    ana = await store.create_customer()
    for n in range(5):
        await store.append_event(event(ana.id, text=f"ticket number {n}"))
    query = parse_query("ticket")
    first = await store.search(query, limit=2)
    second = await store.search(query, cursor=first.next, limit=2)
    third = await store.search(query, cursor=second.next, limit=2)
    seen = [e.text for e in first.items + second.items + third.items]
    assert seen == [f"ticket number {n}" for n in (4, 3, 2, 1, 0)]
    assert first.next and second.next and third.next is None
    with pytest.raises(InvalidCursor):
        await store.search(query, cursor="nope")


async def test_phrase_pages_fill_past_non_matching_events(store: TimelineStore) -> None:
    ana = await store.create_customer()
    await store.append_event(event(ana.id, text="order was shipped"))
    for n in range(12):
        await store.append_event(event(ana.id, text=f"shipped the order {n}"))
    page = await store.search(parse_query('"order was shipped"'), limit=3)
    assert [e.text for e in page.items] == ["order was shipped"]
    assert page.next is None


async def test_merged_customers_events_are_found_under_the_survivor(
    store: TimelineStore,
) -> None:
    ana = await store.create_customer()
    dup = await store.create_customer()
    await store.append_event(event(dup.id, text="my locker code is wrong"))
    await store.merge_customers(dup.id, ana.id)
    page = await store.search(parse_query("locker", customer_id=ana.id))
    assert [e.text for e in page.items] == ["my locker code is wrong"]


def test_sqlite_triggers_index_the_searchable_kinds() -> None:
    from hub.timeline.search import SEARCHABLE
    from hub.timeline.sqlite.search import BACKFILL, KINDS, SEARCH_SCHEMA

    assert ", ".join(f"'{k.value}'" for k in SEARCHABLE) == KINDS
    assert all(KINDS in sql for sql in (*SEARCH_SCHEMA[1:], BACKFILL[1]))


def test_query_parsing() -> None:
    q = parse_query('  Refund "double charged"  card ')
    assert q.words == ("refund", "card")
    assert q.phrases == (("double", "charged"),)
    assert terms("Straße, Ça-va? x_y 42") == ["straße", "ca", "va", "x", "y", "42"]
    with pytest.raises(InvalidInput) as caught:
        parse_query(' "" ,, ')
    assert caught.value.field == "q"


# -- the index costs the append nothing extra ---------------------------------


async def test_sqlite_index_is_written_by_the_append_statement(tmp_path: Path) -> None:
    from hub.timeline.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "hub.db")
    await store.open()
    try:
        ana = await store.create_customer()
        seen: list[str] = []
        store.engine.on_statement = seen.append

        async def cost(kind: EventKind, text: str) -> tuple[int, int]:
            seen.clear()
            await store.append_event(event(ana.id, kind=kind, text=text))
            # Trigger bodies are traced as "-- …"; SQLite traces a statement again each
            # time it resumes one (INSERT … RETURNING), hence the distinct ones.
            own = list(dict.fromkeys(s for s in seen if not s.startswith("--")))
            return len(own), sum(1 for s in own if s.startswith("BEGIN"))

        indexed = await cost(EventKind.MESSAGE, "searchable words")
        plain = await cost(EventKind.STATUS, "not indexed")
        assert indexed == plain
        assert indexed[1] == 1
        store.engine.on_statement = None
        assert await _texts(store, "searchable") == ["searchable words"]
    finally:
        await store.close()


class _Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.mark.mongo
async def test_mongo_terms_ride_in_the_insert(mongo_uri: str) -> None:
    from hub.timeline.mongo import MongoStore

    listener = _Commands()
    store = MongoStore(
        mongo_uri, database=f"omnihub_test_{uuid.uuid4().hex[:12]}", event_listeners=[listener]
    )
    await store.open()
    try:
        ana = await store.create_customer()
        await store.append_event(event(ana.id, text="warm up"))

        async def cost(kind: EventKind, text: str) -> list[str]:
            listener.names.clear()
            await store.append_event(event(ana.id, kind=kind, text=text))
            return list(listener.names)

        assert await cost(EventKind.MESSAGE, "searchable words") == await cost(
            EventKind.STATUS, "not indexed"
        )
        assert await _texts(store, "searchable") == ["searchable words"]
    finally:
        await store.drop_database()
        await store.close()


async def test_macro_usage_counts_replies_per_macro_in_a_window(store: TimelineStore) -> None:
    ana = await store.create_customer()
    now = utcnow()
    for n, (macro, days) in enumerate(
        [("closing", 0), ("closing", 0), ("refund_status", 0), ("closing", 40), (None, 0)]
    ):
        record = event(
            ana.id, direction=Direction.OUT, text=f"reply {n}", at=now - timedelta(days=days)
        )
        if macro:
            record.meta["macro"] = macro
        await store.append_event(record)
    note = event(ana.id, direction=Direction.INTERNAL, kind=EventKind.NOTE, text="n")
    note.meta["macro"] = "closing"
    await store.append_event(note)
    assert await store.macro_usage() == {"closing": 3, "refund_status": 1}
    recent = await store.macro_usage(since=now - timedelta(days=30))
    assert recent == {"closing": 2, "refund_status": 1}
    assert await store.macro_usage(until=now - timedelta(days=30)) == {"closing": 1}
