"""Journey 4: a Messenger customer verifies an email address through a link.

Typing the address only suggests a link. The agent sends a confirmation link
to it (real SMTP); opening it proves control of the address, so the email
customer's timeline is merged into the Messenger customer's. Unmerging puts
both back exactly as they were.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

from hub.connectors.email import EmailConnector
from hub.timeline.model import Event, EventKind, Identity
from hub.timeline.store import TimelineStore
from tests.connectors.email.conftest import Mailbox, SmtpSink
from tests.connectors.email.rig import SECRET, first_mail
from tests.connectors.meta.conftest import meta_settings
from tests.connectors.meta.kit import GraphDouble, entry, message, messaging, signature
from tests.handoff.conftest import CHAT, PUBLIC, HubRig, running_hub
from tests.servers import serve

ANA_EMAIL = Identity("email", "ana@example.com")
PSID = "7000000000000001"
ANA_MESSENGER = Identity("messenger", PSID)
LINK = re.compile(re.escape(PUBLIC) + r"/c/[A-Za-z0-9_.\-]+")
AUDIT = (EventKind.MERGE, EventKind.UNMERGE, EventKind.LINK)


async def messenger(rig: HubRig, mid: str, text: str) -> None:
    payload = messaging(
        "page", entry("1000000000000001", message(PSID, mid, text, ms=int(time.time() * 1000)))
    )
    body = json.dumps(payload).encode()
    r = await rig.client.post(
        "/connectors/meta/webhook",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature(body)},
    )
    assert r.status_code == 200, r.text


async def snapshot(rig: HubRig, customer_id: str) -> dict[str, Any]:
    """What a customer consists of, audit events aside."""
    customer = await rig.hub.store.get_customer(customer_id)
    events: list[Event] = (await rig.hub.store.events(customer_id=customer_id, limit=500)).items
    return {
        "merged_into": customer.merged_into,
        "identities": sorted(str(i) for i in customer.identities),
        "events": [(e.id, e.conversation_id, e.text) for e in events if e.kind not in AUDIT],
    }


async def test_messenger_customer_verifies_an_email_then_the_merge_is_undone(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> None:
    graph = GraphDouble()
    email = {"secret": SECRET, "accounts": [mailbox.account(**smtp_sink.account())]}
    async with (
        serve(graph.app()) as graph_url,
        running_hub(
            store, tmp_path, {"chat": CHAT, "email": email, "meta": meta_settings(graph_url)}
        ) as rig,
    ):
        # Ana wrote by email last month (an email customer with history).
        connector = rig.hub.connectors["email"]
        assert isinstance(connector, EmailConnector)
        async with asyncio.timeout(10):
            await connector.watchers[0].idling.wait()
        await mailbox.append(
            first_mail("Ana Lima <ana@example.com>", "Invoice 77", "<j4@c.example>", "Invoice 77?")
        )
        await rig.until(lambda: any(e.channel == "email" for e in rig.latest.values()))
        by_email = await rig.customer(ANA_EMAIL)
        email_before = await snapshot(rig, by_email.id)

        # On Messenger she types her address: only a suggestion, nothing linked.
        await messenger(rig, "m.1", "Hi, it's Ana, my email is ana@example.com")
        by_messenger = await rig.customer(ANA_MESSENGER)
        assert by_messenger.id != by_email.id
        suggestions = (
            await rig.api.get("/api/v1/suggestions", params={"customer_id": by_messenger.id})
        ).json()["items"]
        [suggested] = suggestions
        assert suggested["identity"] == str(ANA_EMAIL) and suggested["status"] == "pending"
        assert suggested["other_customer_id"] == by_email.id
        assert suggested["evidence"][0]["kind"] == "typed_in_messenger"
        assert await snapshot(rig, by_email.id) == email_before
        messenger_before = await snapshot(rig, by_messenger.id)
        assert messenger_before["identities"] == [str(ANA_MESSENGER)]

        # The agent sends her a confirmation link by email; she opens it.
        [conv] = {e[1] for e in messenger_before["events"]}
        r = await rig.api.post(
            f"/api/v1/conversations/{conv}/handoff/verify", json={"to": str(ANA_EMAIL)}
        )
        assert r.status_code == 202, r.text
        [confirmation] = await smtp_sink.wait_for(1)
        assert confirmation["Subject"] == "Confirm your address"
        plain = confirmation.get_body(("plain",))
        assert plain is not None
        [url] = LINK.findall(plain.get_content())
        # Opened in a browser that is not the Messenger conversation's: it proves she
        # controls the email, not that she is the Messenger user. Nothing is linked or
        # shown; the agent gets the evidence.
        opened = await rig.open_link(rig.local(url))
        assert opened.status_code == 200 and "Thank you" in opened.text
        assert "Invoice 77" not in opened.text and "omnihub_handoff" not in str(opened.headers)
        assert await snapshot(rig, by_email.id) == email_before
        assert (await rig.customer(ANA_EMAIL)).id == by_email.id
        [pending] = (
            await rig.api.get("/api/v1/suggestions", params={"customer_id": by_messenger.id})
        ).json()["items"]
        r = await rig.api.post(
            f"/api/v1/suggestions/{pending['id']}/confirm", json={"reason": "she confirmed"}
        )
        assert r.status_code == 200, r.text

        # Linked and merged: one customer, both timelines.
        merged = await rig.customer(ANA_EMAIL)
        assert merged.id == by_messenger.id
        assert (await rig.hub.store.get_customer(by_email.id)).merged_into == by_messenger.id
        texts = [e["text"] for e in await rig.timeline(by_messenger.id)]
        assert "Invoice 77?" in texts and "Hi, it's Ana, my email is ana@example.com" in texts
        merge = [e for e in await rig.timeline(by_messenger.id) if e["kind"] == "merge"]
        assert merge and merge[0]["meta"]["by"] == "token:agent"
        assert "verified email:ana@example.com" in merge[0]["meta"]["reason"]

        # Unmerge: both come back exactly.
        r = await rig.api.post(
            f"/api/v1/customers/{by_email.id}/unmerge", json={"reason": "wrong person"}
        )
        assert r.status_code == 200, r.text
        assert await snapshot(rig, by_email.id) == email_before
        after = await snapshot(rig, by_messenger.id)
        assert after["events"] == [
            *messenger_before["events"],
            *[e for e in after["events"] if e not in messenger_before["events"]],
        ]
        assert not {e[0] for e in email_before["events"]} & {e[0] for e in after["events"]}
        assert str(ANA_EMAIL) not in after["identities"]
        assert (await rig.customer(ANA_EMAIL)).id == by_email.id
