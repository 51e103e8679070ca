"""Real conversations through the pipeline with a controllable clock, on both stores."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hub.timeline.model import ConversationStatus, Direction, EventKind, Identity, Priority, utcnow
from hub.timeline.store import ConversationUpdate, TimelineStore
from tests.operations.kit import FRIDAY, FakeClock, agents, decisions, make_hub, until


async def test_charged_twice_email_is_triaged_acknowledged_and_its_sla_runs_on_business_time(
    store: TimelineStore,
) -> None:
    sam, lee = await agents(store)
    hub = make_hub(store, FakeClock(FRIDAY))
    await hub.ops.start()
    try:
        event = await hub.ingest(
            "m1", "Hello, I was charged twice and now I cannot log in.", subject="Payment"
        )
        conv_id = event.conversation_id
        assert conv_id is not None

        async def triaged() -> bool:
            conv = await store.get_conversation(conv_id)
            return "team:billing" in conv.tags

        await until(triaged)
        conv = await store.get_conversation(conv_id)
        assert conv.priority is Priority.HIGH  # P2
        assert {"billing", "access", "team:billing", "tier:t1"} <= set(conv.tags)
        (triage,) = await decisions(store, conv_id, "triage")
        assert triage.meta["rule"] == "charged-twice"
        assert triage.meta["decision"]["by"]["priority"] == "charged-twice"
        assert triage.direction is Direction.INTERNAL

        async def acked() -> list[object]:
            page = await store.events(conversation_id=conv_id, limit=50)
            return [e for e in page.items if e.meta.get("operations") == "ack"]

        (ack,) = await until(acked)
        assert ack.channel == "email" and ack.direction is Direction.OUT
        # 60 business minutes from Friday 16:40 ends on Monday morning: said honestly.
        assert ack.text is not None and "by Monday 09:40 (UTC)" in ack.text
        assert "charged" not in ack.text  # never echoes the customer's words
        conv = await store.get_conversation(conv_id)
        assert conv.first_response_at is None and conv.waiting_since == FRIDAY
    finally:
        await hub.ops.stop()

    hub.online.add(sam.id)
    saturday = FRIDAY + timedelta(hours=20)
    assert await hub.ops.tick(saturday) == []  # 20 of 60 business minutes: a third

    monday = FRIDAY.replace(day=7, hour=9, minute=0)
    (assigned,) = await hub.ops.tick(monday + timedelta(minutes=11))  # 31 of 60: 51 %
    assert assigned.meta["operations"] == "sla_assign" and assigned.meta["agent"] == sam.id
    assert (await store.get_conversation(conv_id)).assignee == sam.id
    assert await hub.ops.tick(monday + timedelta(minutes=12)) == []  # decided once

    (warned,) = await hub.ops.tick(monday + timedelta(minutes=29))  # 49 of 60: 81 %
    assert warned.meta["operations"] == "sla_warning" and warned.meta["lead"] == lee.id
    conv = await store.get_conversation(conv_id)
    assert conv.priority is Priority.URGENT and "sla:p2" in conv.tags
    alerts = hub.alerts_now()
    assert {a["agent"] for a in alerts} == {sam.id, lee.id}

    (breach,) = await hub.ops.tick(monday + timedelta(minutes=41))
    assert breach.meta["operations"] == "sla_breach" and breach.meta["priority"] == "P2"
    assert breach.meta["clock"] == "first_response"
    assert await hub.ops.tick(monday + timedelta(minutes=50)) == []


async def test_unanswered_conversation_is_warned_at_48h_and_closed_at_72h(
    store: TimelineStore,
) -> None:
    hub = make_hub(store, FakeClock(utcnow()))  # sends are stamped with the real time
    event = await hub.ingest("m1", "How do I export my invoices?")
    conv_id = event.conversation_id
    assert conv_id is not None
    reply = await hub.pipeline.send(conv_id, text="Settings → Billing → Export.", author="Sam")
    t0 = reply.occurred_at
    assert await hub.ops.tick(t0 + timedelta(hours=47)) == []
    (warning,) = await hub.ops.tick(t0 + timedelta(hours=48))
    assert warning.direction is Direction.OUT and warning.meta["operations"] == "close_warning"
    assert warning.meta["automated"] is True and warning.channel == "email"
    assert await hub.ops.tick(t0 + timedelta(hours=60)) == []  # warned once
    assert (await store.get_conversation(conv_id)).status is ConversationStatus.OPEN
    (closed,) = await hub.ops.tick(t0 + timedelta(hours=72))
    assert closed.meta["operations"] == "auto_close" and closed.meta["rule"] == "time.close"
    assert (await store.get_conversation(conv_id)).status is ConversationStatus.RESOLVED


async def test_a_customer_reply_stops_the_closing_clock(store: TimelineStore) -> None:
    hub = make_hub(store, FakeClock(utcnow()))  # sends are stamped with the real time
    event = await hub.ingest("m1", "How do I export my invoices?")
    conv_id = event.conversation_id
    assert conv_id is not None
    reply = await hub.pipeline.send(conv_id, text="Settings → Billing → Export.", author="Sam")
    await hub.ingest("m2", "Thanks, trying now", occurred_at=reply.occurred_at + timedelta(hours=1))
    later = reply.occurred_at + timedelta(hours=80)
    done = await hub.ops.tick(later)
    assert not [e for e in done if e.meta.get("operations") in ("auto_close", "close_warning")]
    assert (await store.get_conversation(conv_id)).status is ConversationStatus.OPEN


async def test_asking_for_a_manager_escalates_to_the_lead_with_the_context_card(
    store: TimelineStore,
) -> None:
    _, lee = await agents(store)
    hub = make_hub(store, FakeClock(FRIDAY))
    event = await hub.ingest("m1", "This is the third time. I want to speak to your manager.")
    await hub.ops.on_inbound(event)
    assert event.conversation_id is not None
    (escalation,) = await decisions(store, event.conversation_id, "escalation")
    assert escalation.meta["rule"] == "manager" and escalation.meta["lead"] == lee.id
    card = escalation.meta["card"]
    assert any("speak to your manager" in x["text"] for x in card["latest"])
    assert card["conversations"][0]["id"] == event.conversation_id
    assert [a["reason"] for a in hub.alerts_now()] == ["escalation:manager"]
    await hub.ops.on_inbound(event)  # seen again (a replay, another instance): once
    assert len(await decisions(store, event.conversation_id, "escalation")) == 1


async def test_no_acknowledgement_for_auto_replies_or_closed_windows(store: TimelineStore) -> None:
    config = {"enabled": True, "ack": {"channels": ["email", "whatsapp"]}}
    hub = make_hub(store, FakeClock(FRIDAY), config)
    auto = await hub.ingest("m1", "I am out of office until Monday", meta={"auto": "auto-reply"})
    await hub.ops.on_inbound(auto)
    late = utcnow() - timedelta(days=2)  # the 24 h window closed long ago
    wa = await hub.ingest(
        "w1",
        "hi there",
        channel="whatsapp",
        identity=Identity("phone", "+14155550100"),
        occurred_at=late,
    )
    await hub.ops.on_inbound(wa)
    for event in (auto, wa):
        assert event.conversation_id is not None
        page = await store.events(conversation_id=event.conversation_id, limit=50)
        assert not [e for e in page.items if e.direction is Direction.OUT]
    (skipped,) = await decisions(store, wa.conversation_id or "", "ack_skipped")
    assert "template" in (skipped.text or "")


async def test_two_hub_instances_fire_each_rule_once(store: TimelineStore) -> None:
    sam, _ = await agents(store)
    clock = FakeClock(FRIDAY)
    one, two = make_hub(store, clock), make_hub(store, clock)
    one.online.add(sam.id)
    two.online.add(sam.id)
    event = await one.ingest("m1", "I was charged twice")
    await asyncio.gather(one.ops.on_inbound(event), two.ops.on_inbound(event))
    conv_id = event.conversation_id
    assert conv_id is not None
    assert len(await decisions(store, conv_id, "triage")) == 1
    assert len(await decisions(store, conv_id, "ack")) == 1
    monday = FRIDAY.replace(day=7, hour=9, minute=45)  # past 100 % of P2's first response
    await asyncio.gather(one.ops.tick(monday), two.ops.tick(monday))
    (assigned,) = await decisions(store, conv_id, "assign")  # on arrival, by one of them
    assert assigned.meta["agent"] == sam.id
    for what in ("sla_warning", "sla_breach"):
        assert len(await decisions(store, conv_id, what)) == 1, what
    assert await decisions(store, conv_id, "sla_assign") == []  # assigned already


async def test_a_reopened_conversation_is_triaged_and_acknowledged_again(
    store: TimelineStore,
) -> None:
    hub = make_hub(store, FakeClock(utcnow()))  # sends are stamped with the real time
    first = await hub.ingest("m1", "How do I change my address?")
    await hub.ops.on_inbound(first)
    conv_id = first.conversation_id
    assert conv_id is not None
    await hub.pipeline.send(conv_id, text="Under Profile.", author="Sam")
    before = await store.get_conversation(conv_id)
    resolved = await hub.pipeline.update_conversation(
        conv_id, ConversationUpdate(status=ConversationStatus.RESOLVED), by="agt_x", before=before
    )
    await hub.ops.on_change(resolved, {"by": "agt_x", "before": {"status": "open"}})
    again = await hub.ingest(
        "m2", "Now I was charged twice for the change!", conversation_id=conv_id
    )
    assert again.conversation_id == conv_id
    await hub.ops.on_inbound(again)
    assert len(await decisions(store, conv_id, "ack")) == 2
    triages = await decisions(store, conv_id, "triage")  # the opening, then the re-opening
    assert [t.meta["rule"] for t in triages] == [None, "charged-twice"]
    assert triages[0].text == "Triage: no rule matched (P3)"
    follow = await hub.ingest("m3", "Any news? I was charged twice", conversation_id=conv_id)
    await hub.ops.on_inbound(follow)
    assert len(await decisions(store, conv_id, "ack")) == 2  # not a new opening


async def test_no_acknowledgement_to_a_number_that_opted_out(store: TimelineStore) -> None:
    hub = make_hub(store, FakeClock(FRIDAY), {"enabled": True, "ack": {"channels": ["sms"]}})
    phone = Identity("phone", "+14155550100")
    await hub.ingest(
        "SM1:consent",
        "STOP",
        channel="sms",
        identity=phone,
        kind=EventKind.STATUS,
        meta={"sms_opt_out": True, "keyword": "stop"},
    )
    event = await hub.ingest("SM2", "my order is late", channel="sms", identity=phone)
    await hub.ops.on_inbound(event)
    page = await store.events(conversation_id=event.conversation_id, limit=50)
    assert not [e for e in page.items if e.direction is Direction.OUT]
    await hub.ingest(
        "SM3:consent",
        "START",
        channel="sms",
        identity=phone,
        kind=EventKind.STATUS,
        meta={"sms_opt_out": False, "keyword": "start"},
    )
    other = await hub.ingest("SM4", "new question", channel="sms", identity=phone, new_thread=True)
    await hub.ops.on_inbound(other)
    assert len(await decisions(store, other.conversation_id or "", "ack")) == 1


async def test_a_promise_not_kept_reminds_the_assignee_once(store: TimelineStore) -> None:
    sam, _ = await agents(store)
    hub = make_hub(store, FakeClock(utcnow()))  # sends are stamped with the real time
    event = await hub.ingest("m1", "Where is my refund?")
    conv_id = event.conversation_id
    assert conv_id is not None
    await hub.pipeline.update_conversation(conv_id, ConversationUpdate(assignee=sam.id))
    promise = await hub.pipeline.note(
        conv_id, "I'll call the bank tomorrow", meta={"follow_up": True}
    )
    early = await hub.ops.tick(promise.occurred_at + timedelta(hours=23))
    assert not [e for e in early if e.meta["operations"] == "promise_reminder"]
    fired = await hub.ops.tick(promise.occurred_at + timedelta(hours=25))
    (reminder,) = [e for e in fired if e.meta["operations"] == "promise_reminder"]
    assert reminder.meta["promise"] == promise.id
    assert [a["agent"] for a in hub.alerts_now() if a["reason"] == "promise_reminder"] == [sam.id]
    again = await hub.ops.tick(promise.occurred_at + timedelta(hours=30))
    assert not [e for e in again if e.meta["operations"] == "promise_reminder"]
    await hub.pipeline.note(conv_id, "Called: refund sent", meta={"fulfils": promise.id})
    # kept: nothing more, whoever sweeps
    assert not [
        e
        for e in await make_hub(store, FakeClock(utcnow())).ops.tick(
            promise.occurred_at + timedelta(hours=60)
        )
        if e.meta["operations"] == "promise_reminder"
    ]
