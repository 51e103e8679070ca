"""The single write path: dedupe, identity, threading, publishing, send, merge."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from hub.bus import Bus, BusMessage, Topic
from hub.connectors.base import Capabilities, Channel, InboundMessage
from hub.pipeline import Pipeline, SendRejected
from hub.timeline.model import (
    ConversationStatus,
    DeliveryStatus,
    Direction,
    EventKind,
    Identity,
    utcnow,
)
from hub.timeline.store import ConversationUpdate, InboxFilter, TimelineStore

ANA = Identity("email", "ana@example.com")
ANA_PHONE = Identity("phone", "+14155550100")


@pytest.fixture
def pipeline(store: TimelineStore) -> Pipeline:
    channels = [
        Channel("api", None, Capabilities(text_limit=100)),
        Channel("sms", "phone", Capabilities(text_limit=1600)),
        Channel(
            "whatsapp",
            "phone",
            Capabilities(reply_window=timedelta(hours=24), window_escape="template"),
        ),
    ]
    return Pipeline(store, Bus(), channels={c.name: c for c in channels})


def msg(external_id: str, text: str = "hello", **kw: object) -> InboundMessage:
    fields: dict[str, object] = {"channel": "api", "identity": ANA}
    fields.update(kw)
    return InboundMessage(external_id=external_id, text=text, **fields)  # type: ignore[arg-type]


async def test_ingest_creates_customer_conversation_and_event(pipeline: Pipeline) -> None:
    sub = pipeline.bus.subscribe()
    result = await pipeline.ingest(msg("m1", customer_name="Ana", subject="Refund"))
    assert result.created
    customer = await pipeline.store.find_customer(ANA)
    assert customer is not None and customer.name == "Ana"
    assert result.event.customer_id == customer.id
    conv = await pipeline.store.get_conversation(result.event.conversation_id or "")
    assert conv.status is ConversationStatus.OPEN and conv.subject == "Refund"
    assert conv.waiting_since is not None
    published = await sub.get()
    assert isinstance(published, BusMessage) and published.topic == Topic.EVENT_CREATED
    assert published.event is not None and published.event.id == result.event.id


async def test_same_message_again_is_the_same_event_and_not_republished(pipeline: Pipeline) -> None:
    first = await pipeline.ingest(msg("m1"))
    sub = pipeline.bus.subscribe()
    again = await pipeline.ingest(msg("m1", text="changed on replay"))
    assert not again.created
    assert again.event.id == first.event.id and again.event.text == "hello"
    pipeline.bus.publish(BusMessage("marker", ""))
    nxt = await sub.get()
    assert isinstance(nxt, BusMessage) and nxt.topic == "marker"


async def test_concurrent_duplicates_store_one_event_in_one_conversation(
    pipeline: Pipeline,
) -> None:
    results = await asyncio.gather(*(pipeline.ingest(msg("dup-1")) for _ in range(3)))
    assert len({r.event.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    customer = await pipeline.store.find_customer(ANA)
    assert customer is not None
    page = await pipeline.store.events(customer_id=customer.id)
    assert len(page.items) == 1
    convs = await pipeline.store.list_conversations(InboxFilter(customer_id=customer.id))
    assert len(convs.items) == 1


async def test_follow_up_joins_the_open_conversation_until_resolved(pipeline: Pipeline) -> None:
    a = await pipeline.ingest(msg("m1"))
    b = await pipeline.ingest(msg("m2", text="any news?"))
    assert a.event.conversation_id == b.event.conversation_id
    await pipeline.store.update_conversation(
        a.event.conversation_id or "", ConversationUpdate(status=ConversationStatus.RESOLVED)
    )
    c = await pipeline.ingest(msg("m3", text="new topic"))
    assert c.event.conversation_id != a.event.conversation_id


async def test_a_new_thread_opens_its_own_conversation(pipeline: Pipeline) -> None:
    a = await pipeline.ingest(msg("m1", subject="Invoice"))
    b = await pipeline.ingest(msg("m2", subject="Address change", new_thread=True))
    assert a.event.conversation_id != b.event.conversation_id
    assert a.event.customer_id == b.event.customer_id


async def test_reply_by_thread_ref_reopens_its_resolved_conversation(pipeline: Pipeline) -> None:
    a = await pipeline.ingest(msg("m1", thread_ref="<a@mail>"))
    conv_id = a.event.conversation_id or ""
    await pipeline.store.update_conversation(
        conv_id, ConversationUpdate(status=ConversationStatus.RESOLVED)
    )
    b = await pipeline.ingest(msg("m2", in_reply_to=("<zzz@mail>", "<a@mail>")))
    assert b.event.conversation_id == conv_id
    conv = await pipeline.store.get_conversation(conv_id)
    assert conv.status is ConversationStatus.OPEN


async def test_a_conversation_pointer_for_someone_else_is_ignored(pipeline: Pipeline) -> None:
    bob = await pipeline.ingest(msg("b1", identity=Identity("email", "bob@example.com")))
    ana = await pipeline.ingest(msg("a1", conversation_id=bob.event.conversation_id))
    assert ana.event.conversation_id != bob.event.conversation_id
    assert ana.event.customer_id != bob.event.customer_id


async def test_send_queues_on_the_last_inbound_channel_to_its_address(pipeline: Pipeline) -> None:
    first = await pipeline.ingest(msg("m1"))
    await pipeline.ingest(msg("s1", channel="sms", identity=ANA_PHONE))
    sms_customer = await pipeline.store.find_customer(ANA_PHONE)
    assert sms_customer is not None
    woken: list[str] = []
    pipeline.on_queued.append(lambda e: woken.append(e.id))
    event = await pipeline.send(first.event.conversation_id or "", text="On it", author="agent:1")
    assert event.channel == "api" and event.direction is Direction.OUT
    assert event.identity == ANA
    assert event.delivery is not None and event.delivery.status is DeliveryStatus.QUEUED
    assert woken == [event.id]
    conv = await pipeline.store.get_conversation(event.conversation_id or "")
    assert conv.waiting_since is None and conv.first_response_at is not None


async def test_send_with_the_same_client_ref_queues_once(pipeline: Pipeline) -> None:
    first = await pipeline.ingest(msg("m1"))
    conv_id = first.event.conversation_id or ""
    a = await pipeline.send(conv_id, text="once", client_ref="k1")
    b = await pipeline.send(conv_id, text="once", client_ref="k1")
    assert a.id == b.id


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"text": "x" * 101}, "text"),
        ({"text": ""}, "text"),
        ({"channel": "sms"}, "channel"),  # Ana has no phone number
    ],
)
async def test_send_refuses_what_the_channel_cannot_take(
    pipeline: Pipeline, kwargs: dict[str, str], field: str
) -> None:
    first = await pipeline.ingest(msg("m1"))
    args: dict[str, str] = {"text": "hi", **kwargs}
    with pytest.raises(SendRejected) as info:
        await pipeline.send(first.event.conversation_id or "", **args)
    assert info.value.field == field
    page = await pipeline.store.events(customer_id=first.event.customer_id)
    assert [e.direction for e in page.items] == [Direction.IN]


async def test_note_is_internal_and_leaves_the_customer_waiting(pipeline: Pipeline) -> None:
    first = await pipeline.ingest(msg("m1"))
    note = await pipeline.note(first.event.conversation_id or "", "VIP", author="agent:1")
    assert note.direction is Direction.INTERNAL and note.kind is EventKind.NOTE
    conv = await pipeline.store.get_conversation(first.event.conversation_id or "")
    assert conv.waiting_since is not None


async def test_merge_and_unmerge_put_every_event_back(pipeline: Pipeline) -> None:
    a1 = await pipeline.ingest(msg("a1"))
    b1 = await pipeline.ingest(msg("b1", channel="sms", identity=ANA_PHONE))
    a2 = await pipeline.ingest(msg("a2"))
    source, target = b1.event.customer_id, a1.event.customer_id

    merged = await pipeline.merge(source, target, by="agent:1", reason="same person")
    assert {str(i) for i in merged.identities} == {str(ANA), str(ANA_PHONE)}
    timeline = await pipeline.store.events(customer_id=target)
    kinds = [e.kind for e in timeline.items]
    assert [e.id for e in timeline.items if e.kind is EventKind.MESSAGE] == [
        a1.event.id,
        b1.event.id,
        a2.event.id,
    ]
    assert kinds[-1] is EventKind.MERGE and timeline.items[-1].meta["by"] == "agent:1"
    assert (await pipeline.store.find_customer(ANA_PHONE)).id == target  # type: ignore[union-attr]

    await pipeline.unmerge(source, by="agent:2")
    for event in (a1.event, a2.event):
        assert (await pipeline.store.get_event(event.id)).customer_id == target
    assert (await pipeline.store.get_event(b1.event.id)).customer_id == source
    assert (await pipeline.store.find_customer(ANA_PHONE)).id == source  # type: ignore[union-attr]
    src_timeline = await pipeline.store.events(customer_id=source)
    assert [e.kind for e in src_timeline.items] == [EventKind.MESSAGE, EventKind.UNMERGE]


async def test_reply_window_closed_needs_a_template_and_says_so_before_sending(
    pipeline: Pipeline,
) -> None:
    long_ago = utcnow() - timedelta(hours=25)
    first = await pipeline.ingest(
        msg("w1", channel="whatsapp", identity=ANA_PHONE, occurred_at=long_ago)
    )
    conv_id = first.event.conversation_id or ""
    options = {o.channel: o for o in await pipeline.reply_options(conv_id)}
    assert options["whatsapp"].needs == "template"
    assert options["whatsapp"].window_closes_at == long_ago + timedelta(hours=24)
    assert options["sms"].available and options["sms"].needs is None
    assert options["api"].to == ANA_PHONE  # the api channel takes any identity
    with pytest.raises(SendRejected) as info:
        await pipeline.send(conv_id, text="Still there?", channel="whatsapp")
    assert info.value.field == "template" and "closed" in info.value.reason
    queued = await pipeline.send(
        conv_id, text="Still there?", channel="whatsapp", meta={"template": {"name": "follow_up"}}
    )
    assert queued.meta["template"] == {"name": "follow_up"}


async def test_reply_window_open_allows_free_form(pipeline: Pipeline) -> None:
    first = await pipeline.ingest(msg("w1", channel="whatsapp", identity=ANA_PHONE))
    conv_id = first.event.conversation_id or ""
    [option] = [o for o in await pipeline.reply_options(conv_id) if o.channel == "whatsapp"]
    assert option.needs is None and option.window_closes_at is not None
    event = await pipeline.send(conv_id, text="Yes!", channel="whatsapp")
    assert event.identity == ANA_PHONE
