"""Journey 5: an email address typed into chat is a suggestion, never a link.

Nothing of the address owner's history reaches the widget or the visitor's
customer until an agent confirms the suggestion; then the timelines merge.
"""

from __future__ import annotations

from pathlib import Path

from hub.connectors.base import InboundMessage
from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from tests.handoff.conftest import CHAT, running_hub, widget

ANA = Identity("email", "ana@example.com")
PRIVATE = "My card ending 4242 was charged twice for invoice 77"


async def test_an_email_typed_into_chat_exposes_nothing_until_an_agent_confirms(
    store: TimelineStore, tmp_path: Path
) -> None:
    async with running_hub(store, tmp_path, {"chat": CHAT}) as rig:
        await rig.hub.pipeline.ingest(
            InboundMessage(
                channel="email", external_id="<old@c.example>", identity=ANA, text=PRIVATE
            )
        )
        owner = await rig.customer(ANA)

        async with widget(rig) as browser:
            welcome, _ = await browser.hello()
            await browser.say("c1", "Hi! my email is ana@example.com - what about my invoice?")
            token = welcome["token"]
        visitor = Identity("chat", welcome["visitor"])
        chatter = await rig.customer(visitor)

        # A suggestion with its evidence, and nothing linked.
        [suggested] = (
            await rig.api.get("/api/v1/suggestions", params={"status": "pending"})
        ).json()["items"]
        assert (suggested["customer_id"], suggested["identity"]) == (chatter.id, str(ANA))
        assert suggested["other_customer_id"] == owner.id
        assert 0 < suggested["score"] < 1
        assert suggested["evidence"][0]["kind"] == "typed_in_chat"
        assert "ana@example.com" in suggested["evidence"][0]["detail"]
        assert (await rig.customer(visitor)).identities == [visitor]
        assert (await rig.customer(ANA)).id == owner.id

        # Nothing of hers reaches the visitor: not the widget, not a session, not the actions.
        async with widget(rig) as again:
            welcome, history = await again.hello(token)
            assert welcome["identified"] is False
            assert PRIVATE not in str(history) and PRIVATE not in str(again.frames)
            assert [e["text"] for e in history["events"]] == [
                "Hi! my email is ana@example.com - what about my invoice?"
            ]
        assert PRIVATE not in str(await rig.timeline(chatter.id))
        assert (await rig.client.get("/handoff/session")).status_code == 401

        # The agent confirms: the email customer is merged into the visitor's.
        r = await rig.api.post(
            f"/api/v1/suggestions/{suggested['id']}/confirm", json={"reason": "asked her"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["suggestion"]["status"] == "confirmed"
        assert (await rig.customer(ANA)).id == chatter.id
        timeline = await rig.timeline(chatter.id)
        assert PRIVATE in [e["text"] for e in timeline]
        [merge] = [e for e in timeline if e["kind"] == "merge"]
        assert merge["meta"]["by"] == "token:agent" and "asked her" in merge["meta"]["reason"]
        async with widget(rig) as after:
            welcome, _ = await after.hello(token)
            assert welcome["identified"] is True

        # A decided suggestion cannot be decided again.
        again_r = await rig.api.post(f"/api/v1/suggestions/{suggested['id']}/dismiss", json={})
        assert again_r.status_code == 409


async def test_a_dismissed_suggestion_links_nothing(store: TimelineStore, tmp_path: Path) -> None:
    async with running_hub(store, tmp_path, {"chat": CHAT}) as rig:
        async with widget(rig) as browser:
            welcome, _ = await browser.hello()
            await browser.say("c1", "call me on +1 415 555 0100 please")
        chatter = await rig.customer(Identity("chat", welcome["visitor"]))
        [suggested] = (await rig.api.get("/api/v1/suggestions")).json()["items"]
        assert suggested["identity"] == "phone:+14155550100"
        assert suggested["other_customer_id"] is None
        r = await rig.api.post(f"/api/v1/suggestions/{suggested['id']}/dismiss", json={})
        assert r.status_code == 200 and r.json()["suggestion"]["status"] == "dismissed"
        assert (await rig.customer(Identity("chat", welcome["visitor"]))).identities == [
            Identity("chat", welcome["visitor"])
        ]
        assert await rig.hub.store.find_customer(Identity("phone", "+14155550100")) is None
        assert chatter.id
