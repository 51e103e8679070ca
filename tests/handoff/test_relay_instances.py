"""The relay budgets hold across hub instances: two instances on one shared state
(in process, and one MongoDB database) spend from the same budgets, so running N
hubs does not give a visitor N times the sends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from hub.handoff.relay import Refused, Relay
from hub.shared import SharedState
from hub.shared.mongo import MongoSharedState
from hub.timeline.model import Identity
from hub.timeline.mongo import MongoStore


@pytest.fixture(params=["memory", pytest.param("mongo", marks=pytest.mark.mongo)])
async def two_states(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[SharedState, SharedState]]:
    if request.param == "memory":
        one = SharedState()
        yield one, SharedState(joining=one)
        return
    store = MongoStore(
        request.getfixturevalue("mongo_uri"), database=f"omnihub_relay_{uuid.uuid4().hex[:10]}"
    )
    await store.open()
    yield MongoSharedState(lambda: store.db), MongoSharedState(lambda: store.db)
    await store.drop_database()
    await store.close()


def relay(shared: SharedState) -> Relay:
    return Relay(
        per_visitor=2,
        per_destination=5,
        per_hub=5,
        window_seconds=3600,
        countries=("US",),
        unverified_calls=False,
        shared=shared,
    )


async def test_a_visitor_s_budget_is_spent_across_instances(
    two_states: tuple[SharedState, SharedState],
) -> None:
    on_a, on_b = relay(two_states[0]), relay(two_states[1])
    await on_a.check("text_me", Identity("phone", "+15551230011"), visitor="chat:v1")
    await on_b.check("text_me", Identity("phone", "+15551230012"), visitor="chat:v1")
    with pytest.raises(Refused) as refused:
        await on_a.check("text_me", Identity("phone", "+15551230013"), visitor="chat:v1")
    assert refused.value.code == "budget_visitor"
    with pytest.raises(Refused):
        await on_b.check("text_me", Identity("phone", "+15551230014"), visitor="chat:v1")
    # The refusals spent nothing: the hub-wide budget still has 3 of its 5.
    for n in range(3):
        await on_b.check("text_me", Identity("phone", f"+1555123002{n}"), visitor=f"chat:w{n}")
    with pytest.raises(Refused) as hub_wide:
        await on_a.check("text_me", Identity("phone", "+15551230030"), visitor="chat:w9")
    assert hub_wide.value.code == "budget_hub"
