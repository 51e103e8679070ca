"""One contract for both shared-state adapters: two handles on one state behave like
two hub instances (in process: ``joining``; MongoDB: one database)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from hub.shared import SharedState
from hub.shared.mongo import MongoSharedState
from hub.timeline.mongo import MongoStore


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Pair:
    a: SharedState
    b: SharedState
    clock: Clock


@pytest.fixture(params=["memory", pytest.param("mongo", marks=pytest.mark.mongo)])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    clock = Clock()
    if request.param == "memory":
        a = SharedState(clock=clock)
        yield Pair(a, SharedState(clock=clock, joining=a), clock)
        return
    uri: str = request.getfixturevalue("mongo_uri")
    store = MongoStore(uri, database=f"omnihub_shared_{uuid.uuid4().hex[:10]}")
    await store.open()
    a, b = (
        MongoSharedState(lambda: store.db, clock=clock),
        MongoSharedState(lambda: store.db, clock=clock),
    )
    await a.start()
    await b.start()
    yield Pair(a, b, clock)
    await store.drop_database()
    await store.close()


async def test_an_entry_is_seen_by_every_instance_until_it_expires_or_is_dropped(
    pair: Pair,
) -> None:
    await pair.a.put("presence", "ag_1", {"name": "Sam"}, seconds=30)
    seen = await pair.b.entries("presence")
    assert [(e.key, e.instance, e.data) for e in seen] == [
        ("ag_1", pair.a.instance, {"name": "Sam"})
    ]
    assert await pair.b.entries("typing") == []
    pair.clock.now += 31
    assert await pair.b.entries("presence") == []
    await pair.a.put("presence", "ag_1", {"name": "Sam"}, seconds=30)
    await pair.b.put("presence", "ag_1", {"name": "Sam"}, seconds=30)
    await pair.a.drop("presence", "ag_1")  # only A's own entry goes
    assert [e.instance for e in await pair.a.entries("presence")] == [pair.b.instance]


async def test_stopping_an_instance_drops_its_entries_only(pair: Pair) -> None:
    await pair.a.put("presence", "ag_1", {}, seconds=30)
    await pair.b.put("presence", "ag_2", {}, seconds=30)
    await pair.a.stop()
    assert [e.key for e in await pair.b.entries("presence")] == ["ag_2"]


async def test_a_budget_is_spent_across_instances_and_refills(pair: Pair) -> None:
    spent = [await (pair.a if n % 2 else pair.b).spend("v:1", 3, 60) for n in range(5)]
    assert spent == [True, True, True, False, False]
    assert await pair.a.spend("v:2", 3, 60)  # another key has its own budget
    pair.clock.now += 120
    assert await pair.b.spend("v:1", 3, 60)


async def test_a_refused_spend_costs_nothing_and_a_refund_gives_one_back(pair: Pair) -> None:
    assert await pair.a.spend("d:1", 1, 60)
    assert not await pair.b.spend("d:1", 1, 60)
    await pair.a.refund("d:1", 60)
    assert await pair.b.spend("d:1", 1, 60)
    assert not await pair.a.spend("d:1", 1, 60)


async def test_a_reset_makes_a_budget_whole_again(pair: Pair) -> None:
    for _ in range(2):
        assert await pair.a.spend("s:1", 2, 60)
    assert not await pair.b.spend("s:1", 2, 60)
    await pair.b.reset("s:1", 60)
    assert await pair.a.spend("s:1", 2, 60)


async def test_what_happened_is_recorded_beyond_the_limit_and_read_back(pair: Pair) -> None:
    for _ in range(3):
        await pair.a.record("f:1", 60)
    assert await pair.b.used("f:1", 60) == 3
    pair.clock.now += 59
    assert await pair.b.used("f:1", 60) == 3  # the window opened at the first one
    pair.clock.now += 2
    assert await pair.a.used("f:1", 60) == 0
    await pair.b.record("f:1", 60)
    assert await pair.a.used("f:1", 60) == 1


async def test_one_instance_holds_a_lease_until_it_lapses_or_is_released(pair: Pair) -> None:
    assert await pair.a.lease("snooze", 10)
    assert not await pair.b.lease("snooze", 10)
    pair.clock.now += 5
    assert await pair.a.lease("snooze", 10)  # renewed
    pair.clock.now += 9
    assert not await pair.b.lease("snooze", 10)
    pair.clock.now += 2  # A stopped renewing: it lapsed
    assert await pair.b.lease("snooze", 10)
    assert not await pair.a.lease("snooze", 10)
    await pair.b.release("snooze")
    assert await pair.a.lease("snooze", 10)
