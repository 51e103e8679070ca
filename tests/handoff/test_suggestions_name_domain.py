"""Same name at the same email domain: a suggested link for an agent, never a link.

Ana Lopez wrote from ana@acme.com; a first email from a.lopez@acme.com signed
"Ana López" is probably her too. The agent sees a suggestion with its score and
evidence in ``/api/v1/suggestions``; neither side sees the other's history
until the agent confirms (then the newcomer is merged into Ana); dismissing
leaves both apart. Free-mail domains, other names and non-email newcomers
suggest nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.connectors.base import InboundMessage
from hub.timeline.model import Identity
from hub.timeline.store import TimelineStore
from tests.handoff.conftest import HubRig, running_hub

ANA = Identity("email", "ana@acme.com")
NEWCOMER = Identity("email", "a.lopez@acme.com")
PRIVATE = "Invoice 77 was charged twice on my card ending 4242"


async def email(rig: HubRig, identity: Identity, name: str, text: str, n: int) -> None:
    await rig.hub.pipeline.ingest(
        InboundMessage(
            channel="email",
            external_id=f"<m{n}@mail.example>",
            identity=identity,
            customer_name=name,
            subject=f"Question {n}",
            text=text,
            new_thread=True,
        )
    )


async def suggestions(rig: HubRig, **params: str) -> list[dict[str, Any]]:
    r = await rig.api.get("/api/v1/suggestions", params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_a_newcomer_named_like_a_customer_at_the_same_domain_is_a_suggestion(
    store: TimelineStore, tmp_path: Path
) -> None:
    async with running_hub(store, tmp_path, {}) as rig:
        await email(rig, ANA, "Ana Lopez", PRIVATE, 1)
        ana = await rig.customer(ANA)
        await email(rig, NEWCOMER, "  ANA  López ", "Any news on my refund?", 2)
        newcomer = await rig.customer(NEWCOMER)
        assert newcomer.id != ana.id

        [suggested] = await suggestions(rig, status="pending")
        assert suggested["customer_id"] == ana.id
        assert suggested["identity"] == str(NEWCOMER)
        assert suggested["other_customer_id"] == newcomer.id
        assert suggested["score"] == 0.5
        [evidence] = suggested["evidence"]
        assert evidence["kind"] == "same_name_and_domain"
        assert "a.lopez@acme.com" in evidence["detail"] and "ana@acme.com" in evidence["detail"]
        assert "acme.com" in evidence["detail"]
        # Listed for either customer; nothing linked, nothing of Ana's shown to the newcomer.
        assert [s["id"] for s in await suggestions(rig, customer_id=newcomer.id)] == [
            suggested["id"]
        ]
        assert (await rig.customer(NEWCOMER)).id == newcomer.id
        assert PRIVATE not in str(await rig.timeline(newcomer.id))

        # More mail from the newcomer: still one suggestion for the pair.
        await email(rig, NEWCOMER, "Ana López", "Hello again", 3)
        assert len(await suggestions(rig)) == 1

        r = await rig.api.post(
            f"/api/v1/suggestions/{suggested['id']}/confirm", json={"reason": "same person"}
        )
        assert r.status_code == 200, r.text
        assert (await rig.customer(NEWCOMER)).id == ana.id
        timeline = await rig.timeline(ana.id)
        texts = [e["text"] for e in timeline]
        assert PRIVATE in texts and "Any news on my refund?" in texts
        [merge] = [e for e in timeline if e["kind"] == "merge"]
        assert "same person" in merge["meta"]["reason"]


async def test_a_dismissed_name_and_domain_suggestion_leaves_both_customers_apart(
    store: TimelineStore, tmp_path: Path
) -> None:
    async with running_hub(store, tmp_path, {}) as rig:
        await email(rig, ANA, "Ana Lopez", PRIVATE, 1)
        await email(rig, NEWCOMER, "Ana Lopez", "Hi there", 2)
        [suggested] = await suggestions(rig)
        r = await rig.api.post(
            f"/api/v1/suggestions/{suggested['id']}/dismiss", json={"reason": "namesake"}
        )
        assert r.status_code == 200 and r.json()["suggestion"]["status"] == "dismissed"
        ana, newcomer = await rig.customer(ANA), await rig.customer(NEWCOMER)
        assert ana.id != newcomer.id
        assert (ana.identities, newcomer.identities) == ([ANA], [NEWCOMER])
        assert PRIVATE not in str(await rig.timeline(newcomer.id))
        await email(rig, NEWCOMER, "Ana Lopez", "Hi again", 3)
        assert [s["status"] for s in await suggestions(rig)] == ["dismissed"]


async def test_free_mail_other_names_and_weak_names_suggest_nothing(
    store: TimelineStore, tmp_path: Path
) -> None:
    async with running_hub(store, tmp_path, {}) as rig:
        await email(rig, Identity("email", "ana.lopez@gmail.com"), "Ana Lopez", "hi", 1)
        await email(rig, Identity("email", "analopez@gmail.com"), "Ana Lopez", "hi", 2)
        await email(rig, Identity("email", "ana@hotmail.co.uk"), "Ana Lopez", "hi", 3)
        await email(rig, Identity("email", "al@hotmail.co.uk"), "Ana Lopez", "hi", 4)
        await email(rig, ANA, "Ana Lopez", PRIVATE, 5)
        await email(rig, Identity("email", "ana.m@acme.com"), "Ana Martinez", "hi", 6)
        await email(rig, Identity("email", "sup1@acme.com"), "Acme Support", "hi", 7)
        await email(rig, Identity("email", "sup2@acme.com"), "Acme Support", "hi", 8)
        await email(rig, Identity("email", "ana2@acme.com"), "Ana", "hi", 9)
        await email(rig, Identity("email", "ana3@acme.com"), "Ana", "hi", 10)
        await email(rig, Identity("email", "ana.lopez@acme.co"), "Ana Lopez", "hi", 11)
        await rig.hub.pipeline.ingest(
            InboundMessage(
                channel="sms",
                external_id="SM1",
                identity=Identity("phone", "+14155550100"),
                customer_name="Ana Lopez",
                text="hi, it's Ana",
            )
        )
        assert await suggestions(rig) == []
