"""Store contract: merging customers and undoing it."""

from __future__ import annotations

import pytest

from hub.errors import Conflict, NotFound
from hub.timeline.model import Customer, Identity
from hub.timeline.store import InboxFilter, TimelineStore
from tests.timeline.factories import event

ANA_EMAIL = Identity("email", "ana@example.com")
ANA_PHONE = Identity("phone", "+14155550100")
ANA_CHAT = Identity("chat", "visitor-9")
ANY_STATUS = InboxFilter(status=())


async def _with_history(store: TimelineStore, identity: Identity, label: str) -> Customer:
    """A customer with one identity, one conversation and two events."""
    customer = await store.create_customer(name=label, identities=(identity,))
    conv = await store.open_conversation(customer.id, channel=identity.kind, subject=label)
    await store.append_event(event(customer.id, conv.id, channel=identity.kind, text=f"{label}1"))
    await store.append_event(event(customer.id, None, channel=identity.kind, text=f"{label}2"))
    return customer


async def _texts(store: TimelineStore, customer_id: str) -> list[str | None]:
    return [e.text for e in (await store.events(customer_id=customer_id)).items]


async def _subjects(store: TimelineStore, customer_id: str) -> list[str]:
    page = await store.list_conversations(InboxFilter(status=(), customer_id=customer_id))
    return sorted(c.subject or "" for c in page.items)


async def test_merge_moves_identities_conversations_and_events(store: TimelineStore) -> None:
    email = await _with_history(store, ANA_EMAIL, "e")
    phone = await _with_history(store, ANA_PHONE, "p")
    await store.append_event(event(email.id, text="e3"))

    target = await store.merge_customers(phone.id, email.id)
    assert target.id == email.id
    assert target.merged_into is None
    assert target.identities == [ANA_EMAIL, ANA_PHONE]

    source = await store.get_customer(phone.id)
    assert source.merged_into == email.id
    assert source.identities == []

    found = await store.find_customer(ANA_PHONE)
    assert found is not None
    assert found.id == email.id
    assert await _subjects(store, email.id) == ["e", "p"]
    assert await _subjects(store, phone.id) == []
    assert await _texts(store, email.id) == ["e1", "e2", "p1", "p2", "e3"]  # interleaved by seq
    assert await _texts(store, phone.id) == []
    moved = (await store.events(customer_id=email.id)).items
    assert {e.origin_customer_id for e in moved} == {email.id, phone.id}


async def test_merge_conflicts(store: TimelineStore) -> None:
    a = await store.create_customer(name="a")
    b = await store.create_customer(name="b")
    c = await store.create_customer(name="c")
    with pytest.raises(Conflict):
        await store.merge_customers(a.id, a.id)
    with pytest.raises(NotFound):
        await store.merge_customers(a.id, "cus_missing")
    with pytest.raises(NotFound):
        await store.merge_customers("cus_missing", a.id)
    await store.merge_customers(a.id, b.id)
    with pytest.raises(Conflict):
        await store.merge_customers(c.id, a.id)  # target is merged
    with pytest.raises(Conflict):
        await store.merge_customers(a.id, c.id)  # source is merged elsewhere
    assert (await store.get_customer(a.id)).merged_into == b.id


async def test_merge_is_idempotent(store: TimelineStore) -> None:
    email = await _with_history(store, ANA_EMAIL, "e")
    phone = await _with_history(store, ANA_PHONE, "p")
    first = await store.merge_customers(phone.id, email.id)
    again = await store.merge_customers(phone.id, email.id)
    assert again.id == first.id == email.id
    assert again.identities == [ANA_EMAIL, ANA_PHONE]
    assert await _texts(store, email.id) == ["e1", "e2", "p1", "p2"]


async def test_unmerge_restores_what_the_source_brought(store: TimelineStore) -> None:
    email = await _with_history(store, ANA_EMAIL, "e")
    phone = await _with_history(store, ANA_PHONE, "p")
    await store.merge_customers(phone.id, email.id)
    await store.append_event(event(email.id, text="after"))
    linked = await store.link_identity(email.id, ANA_CHAT)
    assert linked.identities == [ANA_EMAIL, ANA_PHONE, ANA_CHAT]

    restored = await store.unmerge_customer(phone.id)
    assert restored.id == phone.id
    assert restored.merged_into is None
    assert restored.identities == [ANA_PHONE]
    assert (await store.get_customer(email.id)).identities == [ANA_EMAIL, ANA_CHAT]

    found = await store.find_customer(ANA_PHONE)
    assert found is not None
    assert found.id == phone.id
    assert await _texts(store, phone.id) == ["p1", "p2"]
    assert await _texts(store, email.id) == ["e1", "e2", "after"]
    assert await _subjects(store, phone.id) == ["p"]
    assert await _subjects(store, email.id) == ["e"]


async def test_unmerge_conflicts(store: TimelineStore) -> None:
    a = await store.create_customer()
    with pytest.raises(Conflict):
        await store.unmerge_customer(a.id)
    with pytest.raises(NotFound):
        await store.unmerge_customer("cus_missing")


async def test_merge_after_unmerge(store: TimelineStore) -> None:
    email = await _with_history(store, ANA_EMAIL, "e")
    phone = await _with_history(store, ANA_PHONE, "p")
    await store.merge_customers(phone.id, email.id)
    await store.unmerge_customer(phone.id)
    await store.merge_customers(phone.id, email.id)
    assert await _texts(store, email.id) == ["e1", "e2", "p1", "p2"]
    assert (await store.get_customer(phone.id)).merged_into == email.id


async def test_merge_chains(store: TimelineStore) -> None:
    a = await _with_history(store, ANA_CHAT, "a")
    b = await _with_history(store, ANA_PHONE, "b")
    c = await _with_history(store, ANA_EMAIL, "c")
    await store.merge_customers(a.id, b.id)
    await store.merge_customers(b.id, c.id)

    survivor = await store.find_customer(ANA_CHAT)
    assert survivor is not None
    assert survivor.id == c.id
    assert survivor.identities == [ANA_CHAT, ANA_PHONE, ANA_EMAIL]
    assert await _texts(store, c.id) == ["a1", "a2", "b1", "b2", "c1", "c2"]
    assert await _subjects(store, c.id) == ["a", "b", "c"]

    restored = await store.unmerge_customer(b.id)
    assert restored.merged_into is None
    assert restored.identities == [ANA_CHAT, ANA_PHONE]
    assert (await store.get_customer(a.id)).merged_into == b.id
    assert await _texts(store, b.id) == ["a1", "a2", "b1", "b2"]
    assert await _subjects(store, b.id) == ["a", "b"]
    assert await _texts(store, c.id) == ["c1", "c2"]
    assert (await store.get_customer(c.id)).identities == [ANA_EMAIL]
    via_a = await store.find_customer(ANA_CHAT)
    assert via_a is not None
    assert via_a.id == b.id

    await store.unmerge_customer(a.id)
    assert await _texts(store, a.id) == ["a1", "a2"]
    assert await _texts(store, b.id) == ["b1", "b2"]
