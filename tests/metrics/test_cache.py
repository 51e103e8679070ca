"""Reports keep what each conversation's events say between runs, and never serve a stale
figure: a new reply, a survey answer, a reassignment or a conversation merge shows in
the next report (both stores)."""

from __future__ import annotations

import dataclasses

import pytest

from hub.metrics import service
from hub.metrics.cache import FactsCache
from hub.metrics.service import collect, policies_for, summarise
from hub.operations import OperationsSettings
from hub.timeline.model import Priority
from hub.timeline.store import ConversationUpdate, TimelineStore
from tests.metrics.month import CONFIG, EMAIL, SINCE, UNTIL, at, build_month


async def test_a_second_report_reads_no_events_and_changes_show_at_once(
    store: TimelineStore,
) -> None:
    month = await build_month(store)
    policies = policies_for(OperationsSettings.model_validate(CONFIG))
    cache = FactsCache()
    first = await collect(store, policies, since=SINCE, until=UNTIL, cache=cache)
    misses = cache.dressed.misses
    measured = cache.measured.misses
    again = await collect(store, policies, since=SINCE, until=UNTIL, cache=cache)
    assert again == first and cache.dressed.misses == misses  # nothing re-read
    assert summarise(again).as_json() == summarise(first).as_json()

    # A customer's new plan re-dresses their conversation without reading its events.
    a = month.convs["A"]
    customer = (await store.get_conversation(a)).customer_id
    await store.update_customer(customer, attributes={"plan": "Starter"})
    renamed = await collect(store, policies, since=SINCE, until=UNTIL, cache=cache)
    assert {x.conversation_id: x.tier for x in renamed}[a] == "starter"
    assert cache.dressed.misses == misses + 1 and cache.measured.misses == measured

    g, e, f = (month.convs[k] for k in "GEF")
    await month.reply(at(30, 16, 30), g, month.sam, EMAIL)
    await month.survey(at(30, 16, 40), g, "csat", 1, EMAIL)
    await month.change(at(30, 16, 45), g, ConversationUpdate(priority=Priority.HIGH))
    await month.change(at(30, 16, 50), e, ConversationUpdate(assignee=month.sam.id))
    await month.pipeline.merge_conversations(f, e, by="admin")

    facts = await collect(store, policies, since=SINCE, until=UNTIL, cache=cache)
    fresh = await collect(store, policies, since=SINCE, until=UNTIL, cache=FactsCache())
    assert facts == fresh
    by_id = {x.conversation_id: x for x in facts}
    assert f not in by_id  # its events moved into E
    assert (by_id[g].first_response, by_id[g].csat, by_id[g].priority) == (1800, 1, "P2")
    assert (by_id[e].agent, by_id[e].replies, by_id[e].reopened) == ("Sam", 2, True)
    total = summarise(facts)
    # F's NPS answer (10) joins E's and is the one E keeps; G's CSAT (1) is new.
    assert (total.volume, total.csat_avg, total.responses, total.nps) == (6, 3.0, 8, 100.0)


async def test_many_changed_conversations_are_read_by_listing_with_the_same_figures(
    store: TimelineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await build_month(store)
    policies = policies_for(OperationsSettings.model_validate(CONFIG))
    one_by_one = await collect(store, policies, since=SINCE, until=UNTIL, cache=FactsCache())
    monkeypatch.setattr(service, "FEW", 0)
    listed = await collect(store, policies, since=SINCE, until=UNTIL, cache=FactsCache())
    assert listed == one_by_one and len(listed) == 7


async def test_report_marks_move_with_what_a_report_reads(store: TimelineStore) -> None:
    month = await build_month(store)
    a, b = month.convs["A"], month.convs["B"]
    before = await store.report_marks(SINCE)
    assert a in before and month.convs["G"] in before
    assert all(m[0] for m in before.values())  # every conversation here has events

    first = (await store.events(conversation_id=a, direction="newer", limit=1)).items[0]
    edited = dataclasses.replace(first, text="I was charged twice", meta={**first.meta})
    assert await store.amend_event(first.id, lambda e: edited) is not None
    assert (await store.report_marks(SINCE))[a] == before[a]  # an edit changes no metric

    await month.reply(at(20, 10), a, month.kim, EMAIL)
    after_reply = await store.report_marks(SINCE)
    assert after_reply[a][0] != before[a][0] and after_reply[a][1] != before[a][1]
    assert after_reply[b] == before[b]

    customer = (await store.get_conversation(a)).customer_id
    await store.update_customer(customer, attributes={"plan": "Pro"})
    await store.update_conversation(b, ConversationUpdate(tags=["team:billing"]))
    moved = await store.report_marks(SINCE)
    assert moved[b][0] == before[b][0] and moved[b][1] != before[b][1]
    assert moved[a][0] == after_reply[a][0] and moved[a][1] != after_reply[a][1]
