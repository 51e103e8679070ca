"""A low-privilege agent: confirming a suggestion that merges two customers needs an admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.timeline.handoff import LinkSuggestion, SuggestionStatus
from hub.timeline.model import Identity, new_id
from hub.timeline.store import TimelineStore
from tests.agent.kit import Running, hub_for_agents

ANA = Identity("email", "ana@example.com")
BOB = Identity("email", "bob@example.com")


@pytest.fixture
async def running(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Running]:
    async with hub_for_agents(store, tmp_path) as r:
        await r.agent("agent@example.com")
        await r.agent("admin@example.com", admin=True)
        yield r


async def _suggest(running: Running, customer_id: str, identity: Identity) -> LinkSuggestion:
    owner = await running.hub.store.find_customer(identity)
    suggestion, _ = await running.hub.store.add_suggestion(
        LinkSuggestion(
            id=new_id("sug"),
            customer_id=customer_id,
            identity=identity,
            score=0.5,
            evidence=[{"kind": "typed", "detail": "typed in chat"}],
            other_customer_id=owner.id if owner else None,
        )
    )
    return suggestion


async def test_a_non_admin_cannot_merge_two_customers_by_confirming_a_suggestion(
    running: Running,
) -> None:
    ana = (await running.push("m-1", text="hi"))["customer_id"]
    bob = (await running.push("m-2", text="private to bob", **{"from": str(BOB)}))["customer_id"]
    suggestion = await _suggest(running, ana, BOB)

    async with running.signed_in("agent@example.com") as agent:
        r = await agent.post(f"/agent/suggestions/{suggestion.id}/confirm")
    assert r.status_code == 403 and "admin" in r.text
    store = running.hub.store
    assert (await store.get_suggestion(suggestion.id)).status is SuggestionStatus.PENDING
    owner = await store.find_customer(BOB)
    assert owner is not None and owner.id == bob != ana
    ana_events = (await store.events(customer_id=ana, limit=50)).items
    assert "private to bob" not in [e.text for e in ana_events]

    async with running.signed_in("admin@example.com") as admin:
        r = await admin.post(f"/agent/suggestions/{suggestion.id}/confirm")
    assert r.status_code == 200, r.text
    owner = await store.find_customer(BOB)
    assert owner is not None and owner.id == ana


async def test_any_agent_may_attach_an_identity_nobody_owns(running: Running) -> None:
    ana = (await running.push("m-1", text="my other address is ana.l@example.com"))["customer_id"]
    other = Identity("email", "ana.l@example.com")
    suggestion = await _suggest(running, ana, other)
    async with running.signed_in("agent@example.com") as agent:
        r = await agent.post(f"/agent/suggestions/{suggestion.id}/confirm")
    assert r.status_code == 200, r.text
    owner = await running.hub.store.find_customer(other)
    assert owner is not None and owner.id == ana
