"""Continuation links under attack: tampered, expired, reused, foreign and rapid-fire
tokens get a clear page with nobody's data; a session reads only its own conversation."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from hub.connectors.base import InboundMessage
from hub.handoff.links import LINK_PURPOSE, SESSION_PURPOSE
from hub.handoff.web import COOKIE
from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from tests.handoff.conftest import HubRig, running_hub

ANA = Identity("email", "ana@example.com")
BEN = Identity("email", "ben@example.com")
KEY = b"handoff-tests-secret-key-0123456789"
SECRET_WORDS = "my refund for order 1234"


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path) -> AsyncIterator[HubRig]:
    async with running_hub(store, tmp_path, {}, link_rate_limit=12) as rig:
        yield rig


async def conversation_of(rig: HubRig, identity: Identity, text: str, ref: str) -> str:
    result = await rig.hub.pipeline.ingest(
        InboundMessage(channel="email", external_id=ref, identity=identity, text=text)
    )
    assert result.event.conversation_id is not None
    return result.event.conversation_id


async def link(rig: HubRig, conversation_id: str, to: Identity = ANA) -> str:
    conv = await rig.hub.store.get_conversation(conversation_id)
    return rig.local(rig.handoff.links.mint(conv, to, action="email_transcript"))


def refused(r: object, status: int) -> None:
    import httpx

    assert isinstance(r, httpx.Response)
    assert r.status_code == status, r.text
    assert "Link not available" in r.text
    assert SECRET_WORDS not in r.text and "ana@example.com" not in r.text
    assert COOKIE not in r.headers.get("set-cookie", "")


async def test_an_opened_link_shows_the_conversation_once(rig: HubRig) -> None:
    conv = await conversation_of(rig, ANA, f"Where is {SECRET_WORDS}?", "m1")
    path = await link(rig, conv)
    # Following the link (as a mail scanner would) only asks; it shows and uses nothing.
    for _ in range(2):
        asked = await rig.client.get(path)
        assert asked.status_code == 200 and 'method="post"' in asked.text
        assert SECRET_WORDS not in asked.text and COOKIE not in asked.headers.get("set-cookie", "")
    r = await rig.open_link(path)
    assert r.status_code == 200 and SECRET_WORDS in r.text
    assert r.cookies.get(COOKIE)
    refused(await rig.open_link(path), 410)
    assert "used already" in (await rig.open_link(path)).text
    refused(await rig.client.get("/c/forged-token"), 400)


async def test_a_tampered_link_is_refused_and_leaves_no_trace(rig: HubRig) -> None:
    conv = await conversation_of(rig, ANA, f"Where is {SECRET_WORDS}?", "m1")
    path = await link(rig, conv)
    before = (await rig.hub.store.events(conversation_id=conv)).items
    token = path.removeprefix("/c/")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    refused(await rig.open_link(f"/c/{flipped}"), 400)
    refused(await rig.open_link("/c/" + "x" * 3000), 400)
    refused(await rig.open_link("/c/not-a-token"), 400)
    assert (await rig.hub.store.events(conversation_id=conv)).items == before
    assert (await rig.customer(ANA)).identities == [ANA]
    # The genuine link still works: nothing was consumed.
    assert (await rig.open_link(path)).status_code == 200


async def test_an_expired_link_is_refused(rig: HubRig) -> None:
    conv = await conversation_of(rig, ANA, f"Where is {SECRET_WORDS}?", "m1")

    class LongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 2 * 86_400

    old = URLSafeTimedSerializer(KEY, salt=f"omnihub.{LINK_PURPOSE}", signer=LongAgo).dumps(
        {"c": conv, "u": (await rig.customer(ANA)).id, "t": str(ANA), "a": "x", "j": "old"}
    )
    r = await rig.open_link(f"/c/{old}")
    refused(r, 410)
    assert "expired" in r.text


async def test_tokens_for_other_purposes_open_nothing(rig: HubRig) -> None:
    conv = await conversation_of(rig, ANA, f"Where is {SECRET_WORDS}?", "m1")
    customer = await rig.customer(ANA)
    session = rig.handoff.signer.dumps(SESSION_PURPOSE, {"c": conv, "u": customer.id, "v": "x"})
    refused(await rig.open_link(f"/c/{session}"), 400)
    visitor = rig.handoff.signer.dumps("chat.visitor", {"v": "v_1", "s": "default"})
    refused(await rig.open_link(f"/c/{visitor}"), 400)


async def test_a_link_naming_someone_elses_conversation_is_refused(rig: HubRig) -> None:
    anas = await conversation_of(rig, ANA, f"Where is {SECRET_WORDS}?", "m1")
    bens = await conversation_of(rig, BEN, "Ben's own question", "m2")
    ben = await rig.customer(BEN)
    forged = rig.handoff.signer.dumps(
        LINK_PURPOSE, {"c": anas, "u": ben.id, "t": str(BEN), "a": "x", "j": "j1"}
    )
    refused(await rig.open_link(f"/c/{forged}"), 400)
    assert bens != anas
    assert (await rig.customer(BEN)).id != (await rig.customer(ANA)).id


async def test_a_session_reads_only_its_own_conversation(rig: HubRig) -> None:
    anas = await conversation_of(rig, ANA, f"Where is {SECRET_WORDS}?", "m1")
    bens = await conversation_of(rig, BEN, "Ben's private question", "m2")
    opened = await rig.open_link(await link(rig, anas))
    session = opened.cookies[COOKIE]
    headers = {"Cookie": f"{COOKIE}={session}"}
    own = await rig.client.get("/handoff/session", headers=headers)
    assert own.status_code == 200
    assert [i["text"] for i in own.json()["items"]] == [f"Where is {SECRET_WORDS}?"]
    other = await rig.client.get(f"/handoff/session/conversations/{bens}", headers=headers)
    assert other.status_code == 403 and "Ben" not in other.text
    nobody = await rig.client.get("/handoff/session")
    assert nobody.status_code == 401 and SECRET_WORDS not in nobody.text
    forged = await rig.client.get("/handoff/session", headers={"Cookie": f"{COOKIE}=x{session}"})
    assert forged.status_code == 401


async def test_opening_links_is_rate_limited(rig: HubRig) -> None:
    conv = await conversation_of(rig, ANA, f"Where is {SECRET_WORDS}?", "m1")
    for _ in range(12):
        await rig.open_link("/c/garbage")
    path = await link(rig, conv)
    r = await rig.open_link(path)
    refused(r, 429)
    assert "Too many" in r.text
