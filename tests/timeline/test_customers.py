"""Store contract: customers and identities."""

from __future__ import annotations

import asyncio

import pytest

from hub.errors import IdentityTaken, NotFound
from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore

ANA = Identity("email", "ana@example.com")
ANA_PHONE = Identity("phone", "+14155550100")
BEN = Identity("email", "ben@example.com")
CHAT = Identity("chat", "visitor-1")


async def test_create_and_get_customer(store: TimelineStore) -> None:
    created = await store.create_customer(
        name="Ana", identities=(ANA, ANA_PHONE), attributes={"plan": "pro"}
    )
    assert created.id.startswith("cus_")
    assert created.name == "Ana"
    assert created.attributes == {"plan": "pro"}
    assert created.identities == [ANA, ANA_PHONE]
    assert created.merged_into is None

    fetched = await store.get_customer(created.id)
    assert fetched.id == created.id
    assert fetched.name == "Ana"
    assert fetched.attributes == {"plan": "pro"}
    assert fetched.identities == [ANA, ANA_PHONE]
    assert fetched.created_at.tzinfo is not None


async def test_get_missing_customer_is_not_found(store: TimelineStore) -> None:
    with pytest.raises(NotFound):
        await store.get_customer("cus_missing")


async def test_find_customer_by_identity(store: TimelineStore) -> None:
    ana = await store.create_customer(identities=(ANA, ANA_PHONE))
    found = await store.find_customer(ANA_PHONE)
    assert found is not None
    assert found.id == ana.id
    assert await store.find_customer(BEN) is None


async def test_create_with_a_taken_identity_leaves_nothing_behind(store: TimelineStore) -> None:
    ana = await store.create_customer(identities=(ANA,))
    with pytest.raises(IdentityTaken) as caught:
        await store.create_customer(name="Impostor", identities=(CHAT, ANA))
    assert caught.value.identity == str(ANA)
    assert caught.value.customer_id == ana.id
    assert await store.find_customer(CHAT) is None
    owner = await store.find_customer(ANA)
    assert owner is not None
    assert owner.id == ana.id


async def test_get_or_create_creates_once(store: TimelineStore) -> None:
    first, created = await store.get_or_create_customer(ANA, name="Ana")
    assert created
    assert first.name == "Ana"
    assert first.identities == [ANA]
    again, created_again = await store.get_or_create_customer(ANA, name="Someone else")
    assert not created_again
    assert again.id == first.id
    assert again.name == "Ana"


async def test_get_or_create_is_safe_under_concurrency(store: TimelineStore) -> None:
    results = await asyncio.gather(*(store.get_or_create_customer(BEN) for _ in range(5)))
    assert len({customer.id for customer, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    owner = await store.find_customer(BEN)
    assert owner is not None
    assert owner.id == results[0][0].id
    assert owner.identities == [BEN]


async def test_link_identity(store: TimelineStore) -> None:
    ana = await store.create_customer(identities=(ANA,))
    linked = await store.link_identity(ana.id, ANA_PHONE)
    assert linked.identities == [ANA, ANA_PHONE]
    again = await store.link_identity(ana.id, ANA_PHONE)
    assert again.identities == [ANA, ANA_PHONE]
    found = await store.find_customer(ANA_PHONE)
    assert found is not None
    assert found.id == ana.id


async def test_link_identity_owned_by_another_customer(store: TimelineStore) -> None:
    ana = await store.create_customer(identities=(ANA,))
    ben = await store.create_customer(identities=(BEN,))
    with pytest.raises(IdentityTaken) as caught:
        await store.link_identity(ben.id, ANA)
    assert caught.value.identity == "email:ana@example.com"
    assert caught.value.customer_id == ana.id
    assert (await store.get_customer(ben.id)).identities == [BEN]


async def test_link_identity_to_missing_customer(store: TimelineStore) -> None:
    with pytest.raises(NotFound):
        await store.link_identity("cus_missing", ANA)
    assert await store.find_customer(ANA) is None


async def test_update_customer_sets_name_and_merges_attributes(store: TimelineStore) -> None:
    ana = await store.create_customer(name="Ana", attributes={"plan": "pro", "city": "Lisbon"})
    renamed = await store.update_customer(ana.id, name="Ana Silva")
    assert renamed.name == "Ana Silva"
    assert renamed.attributes == {"plan": "pro", "city": "Lisbon"}

    updated = await store.update_customer(ana.id, attributes={"city": "Porto", "vip": True})
    assert updated.name == "Ana Silva"
    assert updated.attributes == {"plan": "pro", "city": "Porto", "vip": True}
    fetched = await store.get_customer(ana.id)
    assert fetched.attributes == {"plan": "pro", "city": "Porto", "vip": True}
    assert fetched.updated_at >= fetched.created_at


async def test_update_missing_customer(store: TimelineStore) -> None:
    with pytest.raises(NotFound):
        await store.update_customer("cus_missing", name="x")
