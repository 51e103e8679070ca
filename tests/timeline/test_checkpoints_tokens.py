"""Store contract: connector checkpoints, API tokens and the store's lifecycle."""

from __future__ import annotations

import hashlib

import pytest

from hub.errors import NotFound
from hub.timeline.store import TimelineStore


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def test_checkpoints_upsert_per_connector_and_key(store: TimelineStore) -> None:
    assert await store.get_checkpoint("email", "INBOX") is None
    await store.set_checkpoint("email", "INBOX", {"uidvalidity": 7, "uid": 41})
    await store.set_checkpoint("email", "Sent", {"uidvalidity": 7, "uid": 3})
    await store.set_checkpoint("telegram", "INBOX", {"offset": 99})
    assert await store.get_checkpoint("email", "INBOX") == {"uidvalidity": 7, "uid": 41}

    await store.set_checkpoint("email", "INBOX", {"uidvalidity": 8, "uid": 1})
    assert await store.get_checkpoint("email", "INBOX") == {"uidvalidity": 8, "uid": 1}
    assert await store.get_checkpoint("email", "Sent") == {"uidvalidity": 7, "uid": 3}
    assert await store.get_checkpoint("telegram", "INBOX") == {"offset": 99}


async def test_api_tokens(store: TimelineStore) -> None:
    ci = await store.create_api_token("ci", digest("secret-1"))
    crm = await store.create_api_token("crm", digest("secret-2"))
    assert ci.id.startswith("tok_")
    assert ci.revoked_at is None

    found = await store.find_api_token(digest("secret-1"))
    assert found is not None
    assert found.id == ci.id
    assert found.name == "ci"
    assert await store.find_api_token(digest("nope")) is None

    await store.revoke_api_token(ci.id)
    assert await store.find_api_token(digest("secret-1")) is None
    await store.revoke_api_token(ci.id)  # revoking again is harmless

    listed = {t.id: t for t in await store.list_api_tokens()}
    assert set(listed) == {ci.id, crm.id}
    assert listed[ci.id].revoked_at is not None
    assert listed[crm.id].revoked_at is None


async def test_revoke_missing_token(store: TimelineStore) -> None:
    with pytest.raises(NotFound):
        await store.revoke_api_token("tok_missing")


async def test_health_and_lifecycle(store: TimelineStore) -> None:
    health = await store.health()
    assert health["ok"] is True
    assert health["store"] in ("sqlite", "mongodb")
    customer = await store.create_customer(name="kept")
    await store.open()  # opening again is harmless
    assert (await store.get_customer(customer.id)).name == "kept"
    await store.close()
    await store.close()
