"""Store contract: suggested identity links and used single-use link tokens."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from hub.errors import NotFound
from hub.timeline.handoff import LinkSuggestion, SuggestionStatus
from hub.timeline.model import Identity, new_id, utcnow
from hub.timeline.store import TimelineStore

ANA = Identity("email", "ana@example.com")
PHONE = Identity("phone", "+14155550100")


def suggestion(customer_id: str, identity: Identity = ANA, **kw: object) -> LinkSuggestion:
    return LinkSuggestion(
        id=new_id("sug"),
        customer_id=customer_id,
        identity=identity,
        score=0.6,
        evidence=[{"kind": "typed_in_chat", "detail": "my email is ana@example.com"}],
        **kw,  # type: ignore[arg-type]
    )


async def test_a_suggestion_round_trips_and_is_unique_per_pair(store: TimelineStore) -> None:
    first = suggestion("cus_a", other_customer_id="cus_b")
    stored, created = await store.add_suggestion(first)
    assert created
    assert (stored.id, stored.identity, stored.other_customer_id) == (first.id, ANA, "cus_b")
    assert stored.evidence == first.evidence and stored.status is SuggestionStatus.PENDING
    again, created = await store.add_suggestion(suggestion("cus_a"))
    assert not created and again.id == first.id
    fetched = await store.get_suggestion(first.id)
    assert fetched.score == pytest.approx(0.6) and fetched.created_at.tzinfo is not None
    with pytest.raises(NotFound):
        await store.get_suggestion("sug_missing")


async def test_suggestions_list_by_either_customer_and_status(store: TimelineStore) -> None:
    one, _ = await store.add_suggestion(suggestion("cus_a", other_customer_id="cus_b"))
    two, _ = await store.add_suggestion(suggestion("cus_c", PHONE))
    assert [s.id for s in await store.list_suggestions(customer_id="cus_b")] == [one.id]
    assert [s.id for s in await store.list_suggestions(customer_id="cus_c")] == [two.id]
    everything = await store.list_suggestions(status=SuggestionStatus.PENDING)
    assert {s.id for s in everything} == {one.id, two.id}
    assert await store.list_suggestions(status=SuggestionStatus.CONFIRMED) == []


async def test_a_suggestion_is_decided_once(store: TimelineStore) -> None:
    s, _ = await store.add_suggestion(suggestion("cus_a"))
    decided = await store.decide_suggestion(
        s.id, SuggestionStatus.DISMISSED, by="agent:sam", reason="not her"
    )
    assert decided is not None and decided.status is SuggestionStatus.DISMISSED
    assert (decided.decided_by, decided.reason) == ("agent:sam", "not her")
    assert decided.decided_at is not None
    assert await store.decide_suggestion(s.id, SuggestionStatus.CONFIRMED, by="agent:x") is None
    assert (await store.get_suggestion(s.id)).status is SuggestionStatus.DISMISSED
    with pytest.raises(NotFound):
        await store.decide_suggestion("sug_missing", SuggestionStatus.CONFIRMED, by="x")


async def test_a_link_token_is_used_once_even_under_a_race(store: TimelineStore) -> None:
    expires = utcnow() + timedelta(hours=1)
    results = await asyncio.gather(
        *(store.use_link_token("tok-1", expires_at=expires) for _ in range(5))
    )
    assert sorted(results) == [False, False, False, False, True]
    assert await store.use_link_token("tok-1", expires_at=expires) is False
    assert await store.use_link_token("tok-2", expires_at=expires) is True


async def test_customers_on_an_email_domain_are_found_by_exact_domain(
    store: TimelineStore,
) -> None:
    ana, _ = await store.get_or_create_customer(Identity("email", "ana@acme.com"), name="Ana")
    await store.link_identity(ana.id, Identity("email", "ana.lopez@acme.com"))
    bob, _ = await store.get_or_create_customer(Identity("email", "bob@acme.com"))
    await store.get_or_create_customer(Identity("email", "eve@notacme.com"), name="Eve")
    await store.get_or_create_customer(Identity("email", "sub@mail.acme.com"), name="Sub")
    await store.get_or_create_customer(Identity("chat", "x@acme.com"), name="Chat")
    await store.get_or_create_customer(Identity("phone", "+14155550100"), name="Phone")

    found = await store.customers_on_email_domain("acme.com")
    assert [(c.customer_id, c.name) for c in found] == [(ana.id, "Ana"), (bob.id, None)]
    assert [c.customer_id for c in await store.customers_on_email_domain("ACME.com")] == [
        ana.id,
        bob.id,
    ]
    assert [c.customer_id for c in await store.customers_on_email_domain("acme.com", limit=1)] == [
        ana.id
    ]
    assert await store.customers_on_email_domain("cme.com") == []
    assert await store.customers_on_email_domain("acme.co") == []


async def test_a_merged_customer_is_found_as_the_survivor(store: TimelineStore) -> None:
    ana, _ = await store.get_or_create_customer(Identity("email", "ana@acme.com"), name="Ana")
    other, _ = await store.get_or_create_customer(Identity("email", "a.l@acme.com"), name="A L")
    await store.merge_customers(other.id, ana.id)
    found = await store.customers_on_email_domain("acme.com")
    assert [(c.customer_id, c.name) for c in found] == [(ana.id, "Ana")]
